"""`teecube engine`'s vLLM drop-in surface: every `vllm serve` flag accepted, warned about or refused by
name; the positional MODEL; HF repo ids from a local hub cache; --config YAML; --chat-template;
--generation-config; --load-format dummy (no checkpoint read)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from engine.bench.shape_dir import write_shape_dir
from engine.cli import build_parser, configs
from engine.cli import main as engine_main
from engine.cli_flags import FLAGS, RefusedFlag, check_vllm_flags, expand_config_file
from engine.errors import InvalidParam, ModelLoadError
from engine.loader import load_model
from engine.loader.dummy import TokenIdTokenizer
from engine.loader.hf_cache import resolve_repo_id
from engine.sampling_params import SamplingParams
from engine.server.generation_defaults import with_generation_defaults
from tests.engine.tiny_models import build_tiny_model

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def parse(*argv: str):  # type: ignore[no-untyped-def]
    return build_parser().parse_args(list(argv))


def test_every_vllm_flag_parses_and_harmless_values_only_warn() -> None:
    warning = "{} ignored: {}"
    for flag in FLAGS:
        for name in flag.names:
            if flag.harmless is None:
                argv = [name] if flag.arity == "bool" else [name, "1"]
                assert check_vllm_flags(parse("m", *argv)) == [warning.format(flag.names[0], flag.why)], name
            elif flag.arity == "bool":  # off is what teecube does: no warning
                assert check_vllm_flags(parse("m", "--no-" + flag.names[0][2:])) == [], name
        if flag.arity == "bool" and flag.harmless is not None:
            with pytest.raises(RefusedFlag, match=flag.names[0]):
                check_vllm_flags(parse("m", flag.names[0]))


def test_flags_users_put_in_unit_files_are_accepted() -> None:
    unit = (
        "m --chat-template {{x}} --generation-config vllm --enable-chunked-prefill --disable-log-requests "
        "--trust-remote-code --quantization gguf --enable-auto-tool-choice --tool-call-parser hermes "
        "--reasoning-parser qwen3 --task generate --served-model-name a b --max-model-len 32k "
        "--dtype bfloat16 --seed 3 --enforce-eager --kv-cache-dtype auto --block-size 32 --swap-space 4 "
        "--disable-log-stats "
        "--uvicorn-log-level warning --api-key k --root-path /x --no-enable-prefix-caching "
        "--max-num-batched-tokens 4096 --max-num-seqs 8 --gpu-memory-utilization 0.8 -tp 1 -pp 1 "
        "--download-dir /tmp --revision main --load-format auto --limit-mm-per-prompt {} "
        "--guided-decoding-backend xgrammar --disable-uvicorn-access-log --device cpu"
    )
    args = parse(*unit.split())
    assert len(check_vllm_flags(args)) == 7  # kv-cache-dtype auto, -pp 1, -q gguf: no warning
    config, server = configs(args)
    assert (config.max_model_len, config.block_size, config.seed, config.max_num_seqs) == (32_000, 32, 3, 8)
    assert not config.enable_prefix_caching and config.enforce_eager and config.dtype == "bfloat16"
    assert (config.tool_call_parser, config.reasoning_parser, config.enable_auto_tool_choice) == (
        "hermes",
        "qwen3",
        True,
    )
    assert config.chat_template == "{{x}}" and config.guided_decoding_backend == "xgrammar"
    assert config.task == "generate" and config.generation_config == "vllm" and config.default_sampling == {}
    assert server.served_model_names == ["a", "b"] and server.api_key == "k"


@pytest.mark.parametrize(
    "argv, named",
    [
        ("--lora-modules sql=/adapters/sql", "--lora-modules"),
        ("--enable-lora", "--enable-lora"),
        ("-pp 2", "--pipeline-parallel-size"),
        ("--data-parallel-size 2", "--data-parallel-size"),
        ('--rope-scaling {"type":"yarn"}', "--rope-scaling"),
        ("--response-role bot", "--response-role"),
        ("--scheduling-policy priority", "--scheduling-policy"),
    ],
)
def test_flags_that_would_silently_change_behaviour_are_refused_by_name(
    argv: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(RefusedFlag, match=named):
        check_vllm_flags(parse("m", *argv.split()))
    assert engine_main(["bundled", *argv.split()]) == 2  # refused before anything loads
    assert named in capsys.readouterr().err


@pytest.mark.parametrize("argv", ["--quantization awq", "--kv-cache-dtype fp8_e5m2"])
def test_quantization_values_we_do_not_serve_are_refused_by_name(
    argv: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse("m", *argv.split())
    assert argv.split()[0] in capsys.readouterr().err


def test_positional_model_shape_and_dummy() -> None:
    config, server = configs(parse("tiny", "--load-format", "dummy", "--device", "cpu"))
    assert (config.model, config.load_format, server.served_model_names) == ("tiny", "dummy", ["tiny"])
    config, _ = configs(parse("--shape", "tiny", "--device", "cpu"))
    assert (config.model, config.load_format) == ("tiny", "dummy")
    with pytest.raises(Exception, match="given twice"):
        configs(parse("a", "--model", "b"))
    assert engine_main([]) == 2


def fake_hub_cache(root: Path, model_dir: Path, repo_id: str) -> Path:
    """The hub's layout: models--ORG--NAME/{refs/main, snapshots/COMMIT/*}."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    shutil.copytree(model_dir, repo / "snapshots" / COMMIT)
    return repo / "snapshots" / COMMIT


@pytest.mark.slow  # about 5 s: loads the model it resolves
def test_a_repo_id_resolves_from_the_local_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir = build_tiny_model("qwen3", tmp_path / "src")
    snapshot = fake_hub_cache(tmp_path / "home" / "hub", model_dir, "tiny-org/tiny-qwen3")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    config, server = configs(parse("tiny-org/tiny-qwen3", "--device", "cpu"))
    assert Path(config.model) == snapshot and server.served_model_names == ["tiny-org/tiny-qwen3"]
    assert resolve_repo_id("tiny-org/tiny-qwen3", COMMIT) == snapshot
    loaded = load_model(config)
    assert loaded.spec.architecture == "Qwen3ForCausalLM" and loaded.tokenizer.encode("hello")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    with pytest.raises(ModelLoadError, match="never downloads"):
        configs(parse("tiny-org/tiny-qwen3"))
    args = parse("tiny-org/tiny-qwen3", "--download-dir", str(tmp_path / "home" / "hub"), "--device", "cpu")
    assert Path(configs(args)[0].model) == snapshot
    with pytest.raises(ModelLoadError, match="revision v2"):
        configs(
            parse("tiny-org/tiny-qwen3", "--download-dir", str(tmp_path / "home" / "hub"), "--revision", "v2")
        )


def test_config_file_flags_and_command_line_wins(tmp_path: Path) -> None:
    path = tmp_path / "vllm.yaml"
    path.write_text(
        "model: tiny\nload_format: dummy\nmax_num_seqs: 4\nenforce_eager: true\n"
        "enable_prefix_caching: false\ntrust_remote_code: true\nserved_model_name: [x, y]\n"
    )
    parser = build_parser()
    args = parser.parse_args(expand_config_file(["--config", str(path), "--max-num-seqs", "9"], parser))
    assert (args.model, args.load_format, args.max_num_seqs, args.enforce_eager) == ("tiny", "dummy", 9, True)
    assert args.enable_prefix_caching is False and args.served_model_name == ["x", "y"]
    with pytest.raises(RefusedFlag, match="--config"):
        expand_config_file(["--config", str(tmp_path / "missing.yaml")], parser)


def test_chat_template_overrides_the_models(tmp_path: Path) -> None:
    model_dir = build_tiny_model("llama", tmp_path / "llama")
    template = tmp_path / "t.jinja"
    template.write_text("{% for m in messages %}<<{{ m['content'] }}>>{% endfor %}")
    args = parse(str(model_dir), "--chat-template", str(template), "--device", "cpu")
    config, _ = configs(args)
    tokenizer = load_model(config).tokenizer
    assert tokenizer.apply_chat_template([{"role": "user", "content": "hi"}]) == "<<hi>>"
    config, _ = configs(
        parse(str(model_dir), "--chat-template", "[{{ messages[0]['content'] }}]", "--device", "cpu")
    )
    assert load_model(config).tokenizer.apply_chat_template([{"role": "user", "content": "yo"}]) == "[yo]"
    with pytest.raises(ModelLoadError, match="--chat-template"):
        configs(parse(str(model_dir), "--chat-template", str(tmp_path / "nope.jinja")))


def test_generation_config_defaults(tmp_path: Path) -> None:
    model_dir = build_tiny_model("qwen3", tmp_path / "qwen3")
    (model_dir / "generation_config.json").write_text(
        json.dumps({"temperature": 0.7, "top_p": 0.8, "top_k": 20, "eos_token_id": 2, "max_new_tokens": 64})
    )
    auto, _ = configs(parse(str(model_dir), "--device", "cpu"))
    assert auto.default_sampling == {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "max_tokens": 64}
    vllm, _ = configs(parse(str(model_dir), "--generation-config", "vllm", "--device", "cpu"))
    assert vllm.default_sampling == {}
    override = parse(
        str(model_dir), "--override-generation-config", '{"temperature": 0.1}', "--device", "cpu"
    )
    assert configs(override)[0].default_sampling["temperature"] == 0.1


def test_generation_defaults_fill_only_what_a_request_leaves_out() -> None:
    defaults = {"temperature": 0.7, "top_k": 20, "max_tokens": 64}
    params = with_generation_defaults(SamplingParams(temperature=0.2), {"temperature": 0.2}, defaults)
    assert (params.temperature, params.top_k, params.max_tokens) == (0.2, 20, 64)
    params = with_generation_defaults(SamplingParams(max_tokens=5), {"max_completion_tokens": 5}, defaults)
    assert (params.temperature, params.max_tokens) == (0.7, 5)
    for bad in ('{"temperature": -1}', '{"no_such_field": 1}', "[1]"):
        with pytest.raises(InvalidParam):
            configs(parse("tiny", "--load-format", "dummy", "--override-generation-config", bad))


def test_ssl_flags_go_together(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="go together"):
        configs(parse("m", "--ssl-keyfile", str(tmp_path / "k.pem")))
    with pytest.raises(Exception, match="cannot load"):
        configs(parse("m", "--ssl-keyfile", str(tmp_path / "k"), "--ssl-certfile", str(tmp_path / "c")))


def test_dummy_weights_have_sane_logits_and_no_tokenizer() -> None:
    loaded = load_model(model_path="tiny", load_format="dummy", dtype=torch.float32, device="cpu")
    norms = [p for n, p in loaded.model.named_parameters() if p.dim() == 1 and "norm" in n]
    assert norms and all(bool((p == 1).all()) for p in norms)
    assert isinstance(loaded.tokenizer, TokenIdTokenizer) and loaded.spec.vocab_size == 512
    with pytest.raises(ValueError, match="token ids"):
        loaded.tokenizer.encode("text")
    with pytest.raises(ModelLoadError, match=r"config\.json or a named shape"):
        load_model(model_path="no-such-shape", load_format="dummy")


def test_dummy_weights_for_a_config_directory_use_its_tokenizer(tmp_path: Path) -> None:
    model_dir = build_tiny_model("llama", tmp_path / "llama")
    for weights in model_dir.glob("*.safetensors"):
        weights.unlink()  # dummy never reads the checkpoint
    loaded = load_model(model_path=model_dir, load_format="dummy", device="cpu")
    assert loaded.tokenizer.encode("hello") and loaded.spec.architecture == "LlamaForCausalLM"
    args = parse(str(model_dir), "--load-format", "dummy", "--skip-tokenizer-init", "--device", "cpu")
    skipped = load_model(configs(args)[0])
    assert (
        isinstance(skipped.tokenizer, TokenIdTokenizer) and skipped.spec.vocab_size == loaded.spec.vocab_size
    )


def test_a_shape_directory_serves_text_with_dummy_weights(tmp_path: Path) -> None:
    path = write_shape_dir("tiny", tmp_path / "tiny")
    config, _ = configs(parse(str(path), "--load-format", "dummy", "--device", "cpu"))
    loaded = load_model(config)
    tokenizer = loaded.tokenizer
    assert tokenizer.encode("user the of") == [3, 5, 6] and tokenizer.decode([5, 6]) == "the of"
    assert tokenizer.eos_token_ids == [2] and loaded.spec.vocab_size == 512
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}])
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.token_to_id("<unk>") not in tokenizer.encode(chat.replace("hi", "the"))


@pytest.mark.parametrize(
    "argv, task",
    [
        ("", "generate"),
        ("--task embed", "embed"),
        ("--runner pooling", "embed"),
        ("--convert embed", "embed"),
        ("--runner pooling --convert embed", "embed"),
        ("--runner generate", "generate"),
        ("--runner auto --convert none", "generate"),
    ],
)
def test_vllm_runner_and_convert_flags_select_the_task(argv: str, task: str) -> None:
    args = parse("m", "--device", "cpu", *argv.split())
    assert check_vllm_flags(args) == []
    assert configs(args)[0].task == task


@pytest.mark.parametrize(
    "argv", ["--runner draft", "--convert classify", "--convert reward", "--runner generate --convert embed"]
)
def test_other_runners_and_conversions_are_refused(argv: str) -> None:
    with pytest.raises(RefusedFlag, match=r"--runner|--convert"):
        args = parse("m", "--device", "cpu", *argv.split())
        check_vllm_flags(args)
        configs(args)
