"""Loading: the bundled GGUF against HF transformers, dtypes, sharded/legacy HF directories, clear errors."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from tiny_models import (
    allocate_kv_caches,
    build_tiny_model,
    chunk_metadata,
    hf_reference_model,
    scrambled_block_table,
    write_tiny_gguf,
)

from engine.attention_metadata import build_attention_metadata
from engine.errors import ModelLoadError, UnsupportedModel
from engine.loader import load_model
from engine.loader.gguf import read_gguf

os.environ["HF_HUB_OFFLINE"] = "1"
torch.set_num_threads(2)
BLOCK_SIZE = 16


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory) -> Path:
    return build_tiny_model("llama3", tmp_path_factory.mktemp("llama3"))


@torch.no_grad()
def prefill_logits(loaded, input_ids: torch.Tensor) -> torch.Tensor:
    spec = loaded.spec
    kv_caches = allocate_kv_caches(
        spec.num_layers, 32, BLOCK_SIZE, spec.num_kv_heads, spec.head_dim, spec.dtype
    )
    table = scrambled_block_table(len(input_ids), BLOCK_SIZE, 32)
    positions, meta = chunk_metadata(0, len(input_ids), table, BLOCK_SIZE)
    return loaded.model.compute_logits(loaded.model(input_ids, positions, kv_caches, meta))


@pytest.mark.slow
@torch.no_grad()
def test_bundled_gguf_matches_hf_llama(bundled_model, bundled_hf):
    start = time.perf_counter()
    loaded = load_model(model_path=str(bundled_model), dtype="float32")
    print(f"\nbundled GGUF load_model: {time.perf_counter() - start:.2f} s")
    spec = loaded.spec
    assert (spec.architecture, spec.num_layers, spec.num_heads, spec.num_kv_heads) == (
        "LlamaForCausalLM",
        30,
        9,
        3,
    )
    assert (spec.head_dim, spec.vocab_size, spec.eos_token_ids) == (64, 49152, [2])
    assert loaded.model.lm_head.weight is loaded.model.model.embed_tokens.weight

    tokenizer = loaded.tokenizer
    hf_model = bundled_hf

    # greedy decode through the paged cache: prefill, then one token at a time
    input_ids = torch.tensor(tokenizer.encode("The capital of France is"))
    kv_caches = allocate_kv_caches(30, 16, BLOCK_SIZE, 3, 64, torch.float32)
    table = [7, 3]
    positions, meta = chunk_metadata(0, len(input_ids), table, BLOCK_SIZE)
    prompt_logits = loaded.model.compute_logits(loaded.model(input_ids, positions, kv_caches, meta))
    generated = [int(prompt_logits[-1].argmax())]
    for pos in range(len(input_ids), len(input_ids) + 5):
        meta = build_attention_metadata([1], [pos + 1], [table], BLOCK_SIZE)
        hidden = loaded.model(torch.tensor(generated[-1:]), torch.tensor([pos]), kv_caches, meta)
        generated.append(int(loaded.model.compute_logits(hidden).argmax()))
    # one HF forward over prompt + generated tokens checks both
    hf_logits = hf_model(torch.cat([input_ids, torch.tensor(generated[:-1])])[None]).logits[0]
    torch.testing.assert_close(prompt_logits, hf_logits[: len(input_ids)], atol=2e-4, rtol=1e-4)
    assert generated == hf_logits[len(input_ids) - 1 :].argmax(-1).tolist()
    assert "Paris" in tokenizer.decode(generated)


@pytest.mark.parametrize("family, tied", [("llama", False), ("qwen2", True), ("qwen3", False)])
def test_gguf_written_like_llama_cpp_matches_hf(tmp_path, family, tied):
    """F32 GGUF (llama's Q/K permuted, Qwen2 biases, Qwen3 q/k norms and head_dim) == the HF original."""
    from transformers import AutoModelForCausalLM

    model_dir = build_tiny_model(family, tmp_path / family, tie_word_embeddings=tied)
    loaded = load_model(model_path=str(write_tiny_gguf(model_dir, tmp_path / "model.gguf")))
    assert loaded.model.config.tie_word_embeddings == tied
    input_ids = torch.arange(3, 30)
    with torch.no_grad():
        expected = AutoModelForCausalLM.from_pretrained(model_dir).eval()(input_ids[None]).logits[0]
    torch.testing.assert_close(prefill_logits(loaded, input_ids), expected, atol=1e-4, rtol=1e-4)
    hf_dir_tokenizer = load_model(model_path=str(model_dir)).tokenizer
    text = "Hello, world! 😀 <|im_end|>"
    assert loaded.tokenizer.encode(text) == hf_dir_tokenizer.encode(text)
    messages = [{"role": "user", "content": "Hi"}]
    assert loaded.tokenizer.apply_chat_template(messages) == hf_dir_tokenizer.apply_chat_template(messages)
    assert loaded.spec.eos_token_ids == hf_dir_tokenizer.eos_token_ids


def test_quantized_gguf_matches_hf_on_the_same_weights(tmp_path):
    model_dir = build_tiny_model("llama", tmp_path / "llama")
    path = write_tiny_gguf(model_dir, tmp_path / "q8.gguf", quantize_matrices=True)
    hf_model = hf_reference_model(*read_gguf(path)[:2])
    input_ids = torch.arange(3, 30)
    with torch.no_grad():
        expected = hf_model(input_ids[None]).logits[0]
    loaded = load_model(model_path=str(path))
    torch.testing.assert_close(prefill_logits(loaded, input_ids), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_load(tiny_llama, dtype):
    """Params in the asked dtype; error against fp32 no worse than HF's own in that dtype."""
    from transformers import AutoModelForCausalLM

    loaded = load_model(model_path=str(tiny_llama), dtype=str(dtype).removeprefix("torch."))
    assert loaded.spec.dtype == dtype
    assert {p.dtype for p in loaded.model.parameters()} == {dtype}
    reference = load_model(model_path=str(tiny_llama))
    assert reference.spec.dtype == torch.float32  # "auto" on CPU
    input_ids = torch.arange(3, 40)
    logits = prefill_logits(loaded, input_ids)
    assert logits.dtype == dtype  # the model's dtype: samplers widen them where they need float32
    logits = logits.float()
    expected = prefill_logits(reference, input_ids)
    with torch.no_grad():
        hf_logits = (
            AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=dtype)(input_ids[None]).logits[0].float()
        )
    ours, hf = (logits - expected).abs(), (hf_logits - expected).abs()
    assert ours.mean() < 1.5 * hf.mean() and ours.max() < 2 * hf.max()


def test_sharded_and_legacy_rope_config_match_single_file(tiny_llama, tmp_path):
    sharded = build_tiny_model("llama3", tmp_path / "sharded", max_shard_size="100KB")
    assert (sharded / "model.safetensors.index.json").is_file()
    config = json.loads((sharded / "config.json").read_text())
    rope = config.pop("rope_parameters")
    config["rope_theta"] = rope.pop("rope_theta")
    config["rope_scaling"] = rope
    (sharded / "config.json").write_text(json.dumps(config))
    input_ids = torch.arange(5, 30)
    expected = prefill_logits(load_model(model_path=str(tiny_llama)), input_ids)
    torch.testing.assert_close(prefill_logits(load_model(model_path=str(sharded)), input_ids), expected)


def _copy_model(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for file in src.iterdir():
        (dst / file.name).write_bytes(file.read_bytes())
    return dst


def test_unsupported_architecture(tiny_llama, tmp_path):
    path = _copy_model(tiny_llama, tmp_path / "gpt2")
    config = json.loads((path / "config.json").read_text())
    config.update(architectures=["GPT2LMHeadModel"], model_type="gpt2")
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedModel, match="GPT2LMHeadModel"):
        load_model(model_path=str(path))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"architectures": ["MistralForCausalLM"], "sliding_window": -1}, "sliding_window"),
        ({"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "rope_theta": 1e4}}, "yarn"),
    ],
)
def test_unsupported_configuration(tiny_llama, tmp_path, change, message):
    path = _copy_model(tiny_llama, tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    config.update(change)
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedModel, match=message):
        load_model(model_path=str(path))


def test_truncated_safetensors(tiny_llama, tmp_path):
    path = _copy_model(tiny_llama, tmp_path / "truncated")
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match=r"model\.safetensors"):
        load_model(model_path=str(path))


def test_missing_tensor_and_missing_files(tiny_llama, tmp_path):
    path = _copy_model(tiny_llama, tmp_path / "missing")
    tensors = load_file(path / "model.safetensors")
    del tensors["model.layers.1.mlp.up_proj.weight"]
    save_file(tensors, path / "model.safetensors")
    with pytest.raises(ModelLoadError, match="up_proj"):
        load_model(model_path=str(path))
    (path / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"no \.safetensors"):
        load_model(model_path=str(path))
    with pytest.raises(ModelLoadError, match="no such model"):
        load_model(model_path=str(tmp_path / "nowhere"))


def test_missing_or_corrupt_config_and_tokenizer(tiny_llama, tmp_path):
    path = _copy_model(tiny_llama, tmp_path / "m")
    (path / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match=r"no tokenizer\.json"):
        load_model(model_path=str(path))
    (path / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], ')
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(model_path=str(path))
    (path / "config.json").unlink()
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        load_model(model_path=str(path))


def test_garbage_and_truncated_gguf(bundled_model, tmp_path):
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(ModelLoadError, match="not a GGUF file"):
        load_model(model_path=str(garbage))
    data = bundled_model.read_bytes()
    header_cut = tmp_path / "header_cut.gguf"
    header_cut.write_bytes(data[:100_000])
    with pytest.raises(ModelLoadError, match="truncated"):
        load_model(model_path=str(header_cut))
    tensors_cut = tmp_path / "tensors_cut.gguf"
    tensors_cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ModelLoadError, match="truncated GGUF: tensor"):
        load_model(model_path=str(tensors_cut))
