"""Offline `LLM`: greedy decoding equals HF transformers under batching, chunked prefill, preemption and
prefix caching, for tiny random models of each family and for the bundled SmolLM2 GGUF."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from engine import LLM, SamplingParams
from engine.errors import ContextLengthExceeded, InvalidParam
from engine.loader import LoadedModel, load_model
from tests.conftest import bundled_gguf_path
from tests.engine.tiny_models import FAMILIES, build_tiny_model

MAX_TOKENS = 8
CONDITIONS = ("batched", "chunked", "preemption", "prefix")


pytestmark = pytest.mark.usefixtures("one_thread")


def hf_greedy(hf: torch.nn.Module, prompt: list[int], max_tokens: int) -> list[int]:
    ids = torch.tensor([prompt])
    out = hf.generate(ids, do_sample=False, max_new_tokens=max_tokens, eos_token_id=None, pad_token_id=0)
    return out[0, len(prompt) :].tolist()


def run_condition(
    path: Path,
    loaded: LoadedModel,
    condition: str,
    prompts: list[list[int]],
    max_tokens: int,
    block_size: int,
    async_scheduling: bool | None = None,
) -> tuple[list[list[int]], LLM]:
    longest = max(len(p) for p in prompts) + max_tokens
    config = {
        "batched": dict(num_kv_blocks=256),
        "chunked": dict(num_kv_blocks=256, max_num_batched_tokens=12),
        "preemption": dict(num_kv_blocks=-(-longest // block_size) + 2),
        "prefix": dict(num_kv_blocks=256),
    }[condition]
    llm = LLM(str(path), loaded=loaded, block_size=block_size, async_scheduling=async_scheduling, **config)
    params = SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True)
    outs = llm.generate(prompts, params, use_tqdm=False)
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks
    stats = llm.stats()
    if condition == "preemption":
        assert stats.num_preemptions > 0
    if condition == "prefix":
        assert stats.prefix_cache_hits > 0
        assert all(o.num_cached_tokens > 0 for o in outs[1:])
    return [o.outputs[0].token_ids for o in outs], llm


def random_prompts(seed: int) -> tuple[list[list[int]], list[list[int]]]:
    rng = random.Random(seed)
    varied = [[rng.randrange(3, 500) for _ in range(n)] for n in (2, 5, 9, 14, 20, 27, 35, 44)]
    prefix = [rng.randrange(3, 500) for _ in range(21)]
    shared = [prefix + [rng.randrange(3, 500) for _ in range(n)] for n in range(1, 9)]
    return varied, shared


@pytest.fixture(scope="module", params=FAMILIES)
def tiny(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from transformers import AutoModelForCausalLM

    path = build_tiny_model(request.param, tmp_path_factory.mktemp(request.param))
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    varied, shared = random_prompts(seed=len(request.param))
    refs = {"varied": [hf_greedy(hf, p, MAX_TOKENS) for p in varied]}
    refs["shared"] = [hf_greedy(hf, p, MAX_TOKENS) for p in shared]
    loaded = load_model(model_path=path, dtype="float32", device="cpu")
    return dict(path=path, loaded=loaded, hf=hf, varied=varied, shared=shared, refs=refs)


@pytest.mark.parametrize("overlapped", [False, True], ids=["sync", "step-in-flight"])
@pytest.mark.parametrize("condition", CONDITIONS)
def test_tiny_greedy_matches_transformers(tiny: dict, condition: str, overlapped: bool) -> None:
    """overlapped: the loop keeps a step in flight (as on CUDA), forced on CPU."""
    kind = "shared" if condition == "prefix" else "varied"
    path, loaded = tiny["path"], tiny["loaded"]
    got, _ = run_condition(path, loaded, condition, tiny[kind], MAX_TOKENS, 4, async_scheduling=overlapped)
    assert got == tiny["refs"][kind]


@pytest.fixture(scope="module")
def smol_loaded() -> LoadedModel:
    return load_model(model_path=bundled_gguf_path(), dtype="float32", device="cpu")


@pytest.fixture(scope="module")
def smol(bundled_hf: torch.nn.Module, smol_loaded: LoadedModel) -> dict:
    """The bundled model with HF transformers' greedy references (the HF model is the slow part)."""
    path = bundled_gguf_path()
    hf = bundled_hf  # built once per session (tests/engine/conftest.py)
    loaded = smol_loaded
    tok = loaded.tokenizer
    texts = [
        "The capital of France is",
        "Once upon a time",
        "def fibonacci(n):",
        "Water boils at a temperature of",
        "The three primary colors are red, yellow and",
        "In 1969, the first humans landed on the",
        "Photosynthesis is the process by which green plants",
        "A haiku about the sea:",
    ]
    varied = [tok.encode(t) for t in texts]
    prefix = tok.encode(
        "You are a helpful assistant. You answer every question in one short, friendly sentence, "
        "and you never make things up. If you do not know, say so. Question: "
    )
    assert len(prefix) > 32
    shared = [prefix + tok.encode(q) for q in ("Who are you?", "Why is the sky blue?", "What is 2+2?", "Hi")]
    shared += [
        prefix + tok.encode(q) for q in ("Name a fruit.", "Where is Rome?", "Is ice cold?", "Say yes.")
    ]
    refs = {"varied": [hf_greedy(hf, p, 6) for p in varied], "shared": [hf_greedy(hf, p, 6) for p in shared]}
    return dict(path=path, loaded=loaded, hf=hf, varied=varied, shared=shared, refs=refs)


@pytest.mark.slow
@pytest.mark.parametrize("condition", CONDITIONS)
def test_bundled_gguf_greedy_matches_transformers(smol: dict, condition: str) -> None:
    kind = "shared" if condition == "prefix" else "varied"
    got, _ = run_condition(smol["path"], smol["loaded"], condition, smol[kind], 6, block_size=16)
    assert got == smol["refs"][kind]


@pytest.fixture(scope="module")
def smol_llm(smol_loaded: LoadedModel) -> LLM:
    return LLM(str(bundled_gguf_path()), loaded=smol_loaded, num_kv_blocks=64)


@pytest.mark.slow
def test_stop_strings_cut_across_token_boundaries(smol_llm: LLM) -> None:
    prompt = "The capital of France is"
    full = smol_llm.generate(prompt, SamplingParams(temperature=0, max_tokens=12), use_tqdm=False)[0].outputs[
        0
    ]
    tok = smol_llm.tokenizer
    pieces = [tok.decode(full.token_ids[: i + 1]) for i in range(len(full.token_ids))]
    # a stop string that starts inside one token and ends inside a later one
    k = next(i for i in range(1, len(pieces)) if len(pieces[i]) - len(pieces[i - 1]) >= 3)
    start = len(pieces[k - 1]) - 2 if len(pieces[k - 1]) >= 2 else len(pieces[k - 1])
    stop = full.text[start : len(pieces[k]) - 1]
    assert full.text.count(stop) == 1
    for include in (False, True):
        params = SamplingParams(temperature=0, max_tokens=12, stop=[stop], include_stop_str_in_output=include)
        out = smol_llm.generate(prompt, params, use_tqdm=False)[0].outputs[0]
        end = full.text.index(stop) + (len(stop) if include else 0)
        assert out.text == full.text[:end]
        assert (out.finish_reason, out.stop_reason) == ("stop", stop)
        assert out.token_ids == full.token_ids[: len(out.token_ids)]


@pytest.mark.slow
def test_seeded_sampling_reproduces_alone_and_batched(smol_llm: LLM) -> None:
    seeded = SamplingParams(temperature=1.0, top_p=0.95, seed=42, max_tokens=8, ignore_eos=True)
    noise = SamplingParams(temperature=1.2, max_tokens=5, ignore_eos=True)
    alone = smol_llm.generate("Tell me a story", seeded, use_tqdm=False)[0].outputs[0].token_ids
    batch = smol_llm.generate(
        ["Hello", "Tell me a story", "Another prompt here"], [noise, seeded, noise], use_tqdm=False
    )
    assert batch[1].outputs[0].token_ids == alone
    other_seed = SamplingParams(temperature=1.0, top_p=0.95, seed=43, max_tokens=8, ignore_eos=True)
    assert smol_llm.generate("Tell me a story", other_seed, use_tqdm=False)[0].outputs[0].token_ids != alone


@pytest.mark.slow
def test_top_k_1_equals_greedy(smol_llm: LLM, smol: dict) -> None:
    params = SamplingParams(temperature=0.8, top_k=1, max_tokens=6, ignore_eos=True)
    outs = smol_llm.generate(smol["varied"][:4], params, use_tqdm=False)
    assert [o.outputs[0].token_ids for o in outs] == smol["refs"]["varied"][:4]


@pytest.mark.slow
def test_n_fans_out_children_sharing_the_prompt(smol_llm: LLM) -> None:
    before = smol_llm.stats().prefix_cache_hits
    prompt = "Write a short poem about the moon, the stars, the quiet sea at night and a lighthouse keeper."
    assert len(smol_llm.tokenizer.encode(prompt)) > 17
    out = smol_llm.generate(
        prompt, SamplingParams(n=2, temperature=1.0, seed=7, max_tokens=6), use_tqdm=False
    )[0]
    assert [c.index for c in out.outputs] == [0, 1]
    assert all(1 <= len(c.token_ids) <= 6 for c in out.outputs)
    assert out.outputs[0].token_ids != out.outputs[1].token_ids
    assert smol_llm.stats().prefix_cache_hits > before
    assert smol_llm.block_manager.num_free_blocks == smol_llm.block_manager.num_blocks


@pytest.mark.slow
def test_logprobs_match_transformers_log_softmax(smol_llm: LLM, smol: dict) -> None:
    prompt = smol["varied"][0]
    params = SamplingParams(temperature=0, max_tokens=4, logprobs=3, ignore_eos=True)
    out = smol_llm.generate([prompt], params, use_tqdm=False)[0].outputs[0]
    with torch.no_grad():
        logits = smol["hf"](torch.tensor([prompt + out.token_ids])).logits[0].float()
    ref = torch.log_softmax(logits[len(prompt) - 1 : -1], dim=-1)
    assert len(out.logprobs) == 4
    for i, (token, entry) in enumerate(zip(out.token_ids, out.logprobs, strict=True)):
        assert entry["token_id"] == token
        assert entry["logprob"] == pytest.approx(ref[i, token].item(), abs=2e-3)
        assert entry["top"][0][0] == token
        assert len(entry["top"]) == 3
        assert [lp for _, lp in entry["top"]] == pytest.approx(ref[i].topk(3).values.tolist(), abs=2e-3)


def test_chat_applies_the_template(smol_llm: LLM) -> None:
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    out = smol_llm.chat(msgs, SamplingParams(temperature=0, max_tokens=12), use_tqdm=False)[0]
    assert "Paris" in out.outputs[0].text
    assert out.outputs[0].finish_reason == "stop"


def test_requests_beyond_the_context_fail_before_scheduling(smol_llm: LLM) -> None:
    limit = smol_llm.max_model_len
    with pytest.raises(ContextLengthExceeded) as err:
        smol_llm.generate([[5] * (limit + 1)], SamplingParams(max_tokens=1), use_tqdm=False)
    assert err.value.max_model_len == limit
    with pytest.raises(ContextLengthExceeded):
        smol_llm.generate([[5] * 10], SamplingParams(max_tokens=limit), use_tqdm=False)
    with pytest.raises(InvalidParam) as bad:
        smol_llm.generate(["hi"], SamplingParams(top_p=2.0), use_tqdm=False)
    assert bad.value.param == "top_p"
    assert not smol_llm.has_unfinished()
    assert smol_llm.block_manager.num_free_blocks == smol_llm.block_manager.num_blocks


@pytest.mark.slow
def test_stop_token_ids_and_min_tokens(smol_llm: LLM, smol: dict) -> None:
    prompt, ref = smol["varied"][1], smol["refs"]["varied"][1]
    stop_id = ref[2]
    assert stop_id not in ref[:2]
    params = SamplingParams(temperature=0, max_tokens=6, stop_token_ids=[stop_id])
    out = smol_llm.generate([prompt], params, use_tqdm=False)
    done = out[0].outputs[0]
    assert done.token_ids == ref[:3]
    assert (done.finish_reason, done.stop_reason) == ("stop", stop_id)
    params = SamplingParams(temperature=0, max_tokens=6, stop_token_ids=[ref[0]], min_tokens=2)
    late = smol_llm.generate([prompt], params, use_tqdm=False)[0].outputs[0]
    assert late.token_ids[0] != ref[0] and len(late.token_ids) >= 2
