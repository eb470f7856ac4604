"""The overlapped offline loop (engine/overlap.py) gives LLM.generate's greedy tokens under batching,
chunked prefill, preemption and prefix caching; requests it cannot take fall back."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engine import LLM, SamplingParams
from engine.loader import LoadedModel, load_model
from engine.overlap import can_overlap, generate_overlapped
from tests.engine.tiny_models import build_tiny_model

MAX_TOKENS = (3, 9, 14, 6, 11, 1, 8, 12)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadedModel]:
    path = build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3"))
    return path, load_model(model_path=path, device="cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


def prompts() -> list[list[int]]:
    rng = random.Random(3)
    prefix = [rng.randrange(3, 500) for _ in range(20)]
    varied = [[rng.randrange(3, 500) for _ in range(n)] for n in (2, 7, 19, 33, 41)]
    return varied + [prefix + [rng.randrange(3, 500) for _ in range(n)] for n in (1, 5, 9)]


@pytest.mark.parametrize(
    "config",
    [
        dict(num_kv_blocks=256),
        dict(num_kv_blocks=256, max_num_batched_tokens=12),
        dict(num_kv_blocks=16),
        dict(num_kv_blocks=256, max_num_seqs=3),
    ],
    ids=["batched", "chunked", "preemption", "few-seqs"],
)
def test_overlapped_equals_generate(tiny: tuple[Path, LoadedModel], config: dict) -> None:
    path, loaded = tiny
    params = [SamplingParams(temperature=0, max_tokens=n, ignore_eos=True) for n in MAX_TOKENS]
    ref_llm = LLM(str(path), loaded=loaded, block_size=4, **config)
    expected = [o.outputs[0].token_ids for o in ref_llm.generate(prompts(), params, use_tqdm=False)]
    llm = LLM(str(path), loaded=loaded, block_size=4, **config)
    outs = generate_overlapped(llm, prompts(), params)
    assert [o.outputs[0].token_ids for o in outs] == expected
    assert all(o.finished and o.outputs[0].finish_reason == "length" for o in outs)
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks
    stats = llm.stats()
    assert stats.generation_tokens == sum(MAX_TOKENS) and stats.request_success == {"length": len(MAX_TOKENS)}
    assert not llm.requests and not llm.has_unfinished()
    if config["num_kv_blocks"] == 16:
        assert stats.num_preemptions > 0


def test_only_count_based_requests_overlap(tiny: tuple[Path, LoadedModel]) -> None:
    assert can_overlap(SamplingParams(temperature=0.7, ignore_eos=True))
    for params in (
        SamplingParams(),  # EOS can stop it
        SamplingParams(ignore_eos=True, stop=["x"]),
        SamplingParams(ignore_eos=True, stop_token_ids=[5]),
        SamplingParams(ignore_eos=True, logprobs=1),
        SamplingParams(ignore_eos=True, top_p=0.5),
        SamplingParams(ignore_eos=True, seed=1),
        SamplingParams(ignore_eos=True, n=2),
    ):
        assert not can_overlap(params)
    path, loaded = tiny
    llm = LLM(str(path), loaded=loaded, num_kv_blocks=64)
    outs = generate_overlapped(llm, prompts()[:2], [SamplingParams(temperature=0, max_tokens=4)] * 2)
    assert [len(o.outputs[0].token_ids) for o in outs] == [4, 4]  # LLM.generate ran them
