"""The one step loop with a step in flight (async scheduling), forced on CPU: every kind of request gives
exactly what the synchronous loop gives (tokens, text, finish reasons, logprobs, counters), under
batching, chunked prefill, preemption and prefix caching; late stop strings are trimmed and their extra
token dropped; aborts free blocks at once; nothing is left allocated."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from engine import LLM, AsyncEngine, EngineConfig, SamplingParams
from engine.loader import LoadedModel, load_model
from engine.outputs import RequestOutput
from tests.engine.tiny_models import build_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")

CONFIGS = {
    "batched": dict(num_kv_blocks=256),
    "chunked": dict(num_kv_blocks=256, max_num_batched_tokens=12),
    "preemption": dict(num_kv_blocks=20),
    "few-seqs": dict(num_kv_blocks=256, max_num_seqs=3),
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadedModel]:
    path = build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3"))
    return path, load_model(model_path=path, dtype="float32", device="cpu")


def prompts() -> list[list[int]]:
    rng = random.Random(3)
    prefix = [rng.randrange(3, 400) for _ in range(20)]
    varied = [[rng.randrange(3, 400) for _ in range(n)] for n in (2, 7, 19, 33, 41)]
    return varied + [prefix + [rng.randrange(3, 400) for _ in range(n)] for n in (1, 5, 9)]


def engine(tiny: tuple[Path, LoadedModel], overlapped: bool, **config: object) -> LLM:
    return LLM(str(tiny[0]), loaded=tiny[1], block_size=4, async_scheduling=overlapped, **config)


def summary(outs: list[RequestOutput]) -> list[list[tuple]]:
    """Everything but logprob values: ids, text, finish, and the logprob entries' token ids."""
    return [
        [
            (c.index, c.token_ids, c.text, c.finish_reason, c.stop_reason, logprob_ids(c.logprobs))
            for c in o.outputs
        ]
        for o in outs
    ]


def logprob_ids(logprobs: list[dict] | None) -> list[tuple] | None:
    return None if logprobs is None else [(e["token_id"], [t for t, _ in e["top"]]) for e in logprobs]


def logprob_values(outs: list[RequestOutput]) -> list[float]:
    """Compared approximately: batches of other shapes (a step later) change the last float bits."""
    return [
        v
        for o in outs
        for c in o.outputs
        for e in c.logprobs or ()
        for v in (e["logprob"], *(x for _, x in e["top"]))
    ]


def mixed_params(tiny: tuple[Path, LoadedModel]) -> list[SamplingParams]:
    """One of each kind, with stop strings and stop ids taken from a plain greedy run."""
    greedy = [SamplingParams(temperature=0, max_tokens=14, ignore_eos=True)] * len(prompts())
    ref = engine(tiny, False, num_kv_blocks=256).generate(prompts(), greedy, use_tqdm=False)
    texts = [o.outputs[0].text for o in ref]
    ids = [o.outputs[0].token_ids for o in ref]
    assert len(texts[1]) > 7 and len(texts[7]) > 12
    return [
        SamplingParams(temperature=0, max_tokens=9, ignore_eos=True),
        SamplingParams(temperature=0, max_tokens=14, stop=[texts[1][4:7]], ignore_eos=True),
        SamplingParams(temperature=0, max_tokens=14, stop_token_ids=[ids[2][5]], ignore_eos=True),
        SamplingParams(n=3, temperature=0.9, seed=5, max_tokens=11, ignore_eos=True, logprobs=2),
        SamplingParams(
            temperature=0.8,
            seed=9,
            max_tokens=12,
            repetition_penalty=1.3,
            frequency_penalty=0.5,
            presence_penalty=0.4,
            ignore_eos=True,
        ),
        SamplingParams(temperature=0, max_tokens=1, ignore_eos=True),
        SamplingParams(
            temperature=0,
            max_tokens=13,
            stop_token_ids=[ids[6][0]],
            min_tokens=3,
            ignore_eos=True,
            logprobs=0,
        ),
        SamplingParams(
            temperature=0,
            max_tokens=14,
            stop=[texts[7][8:12], "zzzz"],
            include_stop_str_in_output=True,
            top_k=5,
            ignore_eos=True,
        ),
    ]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_kind_of_request_matches_the_synchronous_loop(
    tiny: tuple[Path, LoadedModel], name: str
) -> None:
    params = mixed_params(tiny)
    results, values = {}, {}
    for overlapped in (False, True):
        llm = engine(tiny, overlapped, **CONFIGS[name])
        assert llm.core.async_scheduling is overlapped
        outs = llm.generate(prompts(), params, use_tqdm=False)
        results[overlapped] = summary(outs)
        values[overlapped] = logprob_values(outs)
        stats = llm.stats()
        assert stats.free_blocks == stats.total_blocks and not llm.requests and not llm.has_unfinished()
        assert stats.generation_tokens == sum(len(c.token_ids) for o in outs for c in o.outputs)
        assert sum(stats.request_success.values()) == len(params)
        if name == "preemption":
            assert stats.num_preemptions > 0
        if name == "batched":
            assert stats.prefix_cache_hits > 0
    assert results[True] == results[False]
    assert values[True] == pytest.approx(values[False], abs=1e-4) and values[True]
    finish = [[c[3] for c in o] for o in results[True]]
    assert finish[1] == ["stop"] and finish[2] == ["stop"] and finish[7] == ["stop"]
    assert results[True][2][0][4] == params[2].stop_token_ids[0]


def test_a_late_stop_string_is_trimmed_and_its_extra_token_dropped(tiny: tuple[Path, LoadedModel]) -> None:
    """With a step in flight, the stop string is found one token late: the output still ends at the token
    that completed it, the in-flight token is dropped and the blocks come back."""
    greedy = SamplingParams(temperature=0, max_tokens=20, ignore_eos=True)
    full = engine(tiny, False, num_kv_blocks=64).generate(prompts()[3], greedy, use_tqdm=False)[0].outputs[0]
    stop = full.text[6:9]
    params = SamplingParams(temperature=0, max_tokens=20, ignore_eos=True, stop=[stop])
    llm = engine(tiny, True, num_kv_blocks=64)
    llm.add_request("s", prompts()[3], params)
    outs: list[RequestOutput] = []
    while not (outs and outs[-1].finished):
        outs += llm.step(stream=True)
    ids = [t for o in outs for t in o.outputs[0].token_ids]
    assert "".join(o.outputs[0].text for o in outs) == full.text[: full.text.index(stop)]
    assert ids == full.token_ids[: len(ids)] and len(ids) < 20
    assert outs[-1].outputs[0].finish_reason == "stop"
    seq = llm.core.inflight.seqs[0]  # the token launched before the stop string was seen
    assert seq.finish_reason == "stop" and seq.num_inflight == 1 and not seq.block_table
    assert llm.step(stream=True) == [] and not llm.has_unfinished()  # ... is dropped
    assert seq.token_ids[seq.num_prompt_tokens :] == ids
    assert llm.stats().generation_tokens == len(ids)
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks


def test_abort_with_a_token_in_flight_frees_blocks_at_once(tiny: tuple[Path, LoadedModel]) -> None:
    params = SamplingParams(temperature=0, max_tokens=12, ignore_eos=True)
    expected = engine(tiny, False, num_kv_blocks=64).generate(prompts()[:2], params, use_tqdm=False)
    llm = engine(tiny, True, num_kv_blocks=64)
    llm.add_request("a", prompts()[0], params)
    llm.add_request("b", prompts()[1], params)
    outs: dict[str, list[int]] = {"a": [], "b": []}
    for _ in range(4):
        for o in llm.step(stream=True):
            outs[o.request_id] += o.outputs[0].token_ids
    assert llm.core.inflight is not None
    seq = llm.requests["a"].seqs[0]
    assert seq.num_inflight == 1
    held = len(seq.block_table)
    free = llm.block_manager.num_free_blocks
    final = llm.abort_request("a")
    assert final is not None and final.finished and final.outputs[0].finish_reason == "abort"
    assert llm.block_manager.num_free_blocks == free + held and "a" not in llm.requests
    while llm.has_unfinished():
        for o in llm.step(stream=True):
            assert o.request_id == "b"  # the aborted request's token in flight is dropped
            outs["b"] += o.outputs[0].token_ids
    assert outs["b"] == expected[1].outputs[0].token_ids
    assert outs["a"] == expected[0].outputs[0].token_ids[: len(outs["a"])]
    stats = llm.stats()
    assert stats.free_blocks == stats.total_blocks
    assert stats.request_success == {"abort": 1, "length": 1}
    assert stats.generation_tokens == len(outs["a"]) + 12


def test_streams_through_async_engine_match_the_synchronous_loop(tiny: tuple[Path, LoadedModel]) -> None:
    params = mixed_params(tiny)
    reference = engine(tiny, False, num_kv_blocks=64).generate(prompts(), params, use_tqdm=False)
    expected = summary(reference)

    async def collect(engine: AsyncEngine, i: int) -> list[RequestOutput]:
        return [out async for out in engine.generate(f"r{i}", prompts()[i], params[i])]

    async def main() -> None:
        config = EngineConfig(model=str(tiny[0]), num_kv_blocks=64, block_size=4)
        eng = AsyncEngine(config, loaded=tiny[1], async_scheduling=True)
        await eng.start()
        try:
            streams = await asyncio.gather(*(collect(eng, i) for i in range(len(params))))
            stats = eng.stats()
        finally:
            await eng.shutdown()
        for outs, want in zip(streams, expected, strict=True):
            assert outs[-1].finished and not any(o.finished for o in outs[:-1])
            for index, ids, text, reason, stop_reason, lps in want:
                mine = [c for o in outs for c in o.outputs if c.index == index]
                assert [t for c in mine for t in c.token_ids] == ids
                assert "".join(c.text for c in mine) == text
                assert (mine[-1].finish_reason, mine[-1].stop_reason) == (reason, stop_reason)
                if lps is not None:
                    assert logprob_ids([e for c in mine for e in c.logprobs]) == lps
        assert stats.free_blocks == stats.total_blocks and stats.num_running == 0
        assert stats.generation_tokens == sum(len(c[1]) for o in expected for c in o)
        assert sum(stats.request_success.values()) == len(params)

    asyncio.run(main())
