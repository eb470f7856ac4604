"""Prompt logprobs (`SamplingParams.prompt_logprobs`) equal HF transformers' log_softmax over the prompt,
under whole and chunked prefill, a prefix-cache hit that would otherwise skip the prompt, preemption,
n > 1, and the loop with a step in flight."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch

from engine import LLM, SamplingParams
from engine.errors import InvalidParam
from engine.loader import load_model
from tests.engine.tiny_models import build_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")

K = 3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from transformers import AutoModelForCausalLM

    path = build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3"))
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    rng = random.Random(7)
    prefix = [rng.randrange(3, 500) for _ in range(20)]
    prompts = [prefix + [rng.randrange(3, 500) for _ in range(n)] for n in (3, 11, 30)]
    prompts.append([rng.randrange(3, 500) for _ in range(2)])
    refs = []
    with torch.no_grad():
        for p in prompts:
            refs.append(torch.log_softmax(hf(torch.tensor([p])).logits[0].float(), dim=-1))
    loaded = load_model(model_path=path, dtype="float32", device="cpu")
    return dict(path=path, loaded=loaded, prompts=prompts, refs=refs)


def check(
    entries: list[dict[str, Any] | None] | None,
    prompt: list[int],
    ref: torch.Tensor,
    k: int,
    tol: float = 2e-4,
) -> None:
    """One entry per prompt token: None first, then the token's logprob and the top k, as HF computes
    (the alternatives' order where no two of the top k + 1 are within tol of each other)."""
    assert entries is not None and len(entries) == len(prompt)
    assert entries[0] is None
    for p, entry in enumerate(entries[1:]):
        assert entry is not None
        assert entry["token_id"] == prompt[p + 1]
        value = ref[p, prompt[p + 1]].item()
        assert entry["logprob"] == pytest.approx(value, abs=tol)
        # its rank in the vocabulary: 1 + the tokens more likely (ties within tol either way)
        assert int((ref[p] > value + tol).sum()) + 1 <= entry["rank"] <= int((ref[p] > value - tol).sum()) + 1
        top_vals, top_ids = ref[p].topk(k + 1)
        assert [v for _, v in entry["top"]] == pytest.approx(top_vals[:k].tolist(), abs=tol)
        if k and bool((top_vals[:-1] - top_vals[1:] > tol).all()):
            assert [i for i, _ in entry["top"]] == top_ids[:k].tolist()


def make_llm(tiny: dict[str, Any], overlapped: bool, **config: Any) -> LLM:
    config.setdefault("num_kv_blocks", 256)
    return LLM(str(tiny["path"]), loaded=tiny["loaded"], block_size=4, async_scheduling=overlapped, **config)


@pytest.mark.parametrize("overlapped", [False, True], ids=["sync", "step-in-flight"])
@pytest.mark.parametrize("condition", ["whole", "chunked", "prefix", "preemption"])
def test_prompt_logprobs_match_transformers(tiny: dict[str, Any], condition: str, overlapped: bool) -> None:
    prompts, refs = tiny["prompts"], tiny["refs"]
    config: dict[str, Any] = {
        "whole": {},
        "chunked": {"max_num_batched_tokens": 7},  # every prompt in several chunks, some 1 token long
        "prefix": {},
        "preemption": {"num_kv_blocks": 17},  # the longest request alone fits (62 tokens)
    }[condition]
    llm = make_llm(tiny, overlapped, **config)
    params = SamplingParams(temperature=0, max_tokens=12, ignore_eos=True, prompt_logprobs=K)
    if condition == "prefix":  # the cache holds every prompt's blocks before the measured run
        llm.generate(prompts, SamplingParams(temperature=0, max_tokens=2), use_tqdm=False)
    outs = llm.generate(prompts, params, use_tqdm=False)
    for out, prompt, ref in zip(outs, prompts, refs, strict=True):
        check(out.prompt_logprobs, prompt, ref, K)
        assert out.outputs[0].logprobs is None  # sampled-token logprobs were not asked for
    stats = llm.stats()
    if condition == "prefix":  # the requests without prompt logprobs did hit the cache
        assert stats.prefix_cache_hits > 0
    if condition == "preemption":
        assert stats.num_preemptions > 0
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks


def test_prompt_logprobs_leave_the_completion_unchanged(tiny: dict[str, Any]) -> None:
    """The same greedy tokens with and without prompt logprobs; no prompt logprobs unless asked for."""
    llm = make_llm(tiny, overlapped=True, max_num_batched_tokens=9)
    plain = llm.generate(tiny["prompts"], SamplingParams(temperature=0, max_tokens=5), use_tqdm=False)
    with_lp = llm.generate(
        tiny["prompts"], SamplingParams(temperature=0, max_tokens=5, prompt_logprobs=0), use_tqdm=False
    )
    for a, b in zip(plain, with_lp, strict=True):
        assert a.prompt_logprobs is None
        assert a.outputs[0].token_ids == b.outputs[0].token_ids
        assert b.prompt_logprobs is not None and all(e is None or e["top"] == [] for e in b.prompt_logprobs)


def test_n_samples_share_one_prompt_logprob_list(tiny: dict[str, Any]) -> None:
    llm = make_llm(tiny, overlapped=False)
    prompt, ref = tiny["prompts"][1], tiny["refs"][1]
    params = SamplingParams(n=3, temperature=1.0, seed=5, max_tokens=4, prompt_logprobs=1, logprobs=2)
    (out,) = llm.generate([prompt], params, use_tqdm=False)
    check(out.prompt_logprobs, prompt, ref, 1)
    assert len(out.outputs) == 3 and all(len(o.logprobs or []) == 4 for o in out.outputs)


def test_one_token_prompt_and_bad_values(tiny: dict[str, Any]) -> None:
    llm = make_llm(tiny, overlapped=False)
    (out,) = llm.generate([[42]], SamplingParams(max_tokens=2, prompt_logprobs=2), use_tqdm=False)
    assert out.prompt_logprobs == [None]
    for bad in (-1, 21):
        with pytest.raises(InvalidParam) as err:
            llm.generate([[1, 2]], SamplingParams(prompt_logprobs=bad), use_tqdm=False)
        assert err.value.param == "prompt_logprobs"


def test_an_aborted_request_leaves_nothing_behind(tiny: dict[str, Any], tmp_path: Path) -> None:
    """Aborted mid-prompt (chunked): its blocks are freed and the next request's logprobs are its own."""
    llm = make_llm(tiny, overlapped=True, max_num_batched_tokens=5)
    prompt, ref = tiny["prompts"][2], tiny["refs"][2]
    llm.add_request("gone", prompt, SamplingParams(max_tokens=3, prompt_logprobs=1))
    llm.step()
    llm.step()
    llm.abort_request("gone")
    while llm.has_unfinished():
        llm.step()
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks
    (out,) = llm.generate([prompt], SamplingParams(max_tokens=2, prompt_logprobs=1), use_tqdm=False)
    check(out.prompt_logprobs, prompt, ref, 1)


def test_a_chunk_computed_in_several_logits_slices(
    tiny: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prefill chunk longer than ROWS_PER_SLICE rows is computed slice by slice (bounded memory)."""
    from engine import prompt_logprobs

    monkeypatch.setattr(prompt_logprobs, "ROWS_PER_SLICE", 4)
    llm = make_llm(tiny, overlapped=True)
    outs = llm.generate(tiny["prompts"], SamplingParams(max_tokens=2, prompt_logprobs=2), use_tqdm=False)
    for out, prompt, ref in zip(outs, tiny["prompts"], tiny["refs"], strict=True):
        check(out.prompt_logprobs, prompt, ref, 2)
