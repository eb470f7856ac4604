"""`AsyncEngine`: streamed deltas, aborts, accounting, errors, a crashed loop and shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from engine import LLM, AsyncEngine, EngineConfig, SamplingParams
from engine.errors import ContextLengthExceeded, EngineDead, InvalidParam
from engine.loader import LoadedModel, load_model
from engine.outputs import RequestOutput
from tests.engine.tiny_models import build_tiny_model

PROMPTS = ["Hello, world!", "The quick brown fox", "Paged attention stores keys", "def main():"]


pytestmark = pytest.mark.usefixtures("one_thread")


Tiny = tuple[Path, LoadedModel, bool]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadedModel]:
    path = build_tiny_model("qwen2", tmp_path_factory.mktemp("qwen2"))
    return path, load_model(model_path=path, dtype="float32", device="cpu")


@pytest.fixture(params=[False, True], ids=["sync", "step-in-flight"])
def tiny(model: tuple[Path, LoadedModel], request: pytest.FixtureRequest) -> Tiny:
    """The model, and whether the engine keeps a step in flight (forced on CPU)."""
    return model[0], model[1], request.param


def config(path: Path, **kw: object) -> EngineConfig:
    return EngineConfig(model=str(path), num_kv_blocks=64, block_size=4, **kw)


def run(tiny: Tiny, body: Callable[[AsyncEngine], Awaitable[None]], **kw: object) -> None:
    async def main() -> None:
        engine = AsyncEngine(config(tiny[0], **kw), loaded=tiny[1], async_scheduling=tiny[2])
        await engine.start()
        try:
            await body(engine)
        finally:
            await engine.shutdown()

    asyncio.run(main())


async def collect(
    engine: AsyncEngine, request_id: str, prompt: str, params: SamplingParams
) -> list[RequestOutput]:
    return [out async for out in engine.generate(request_id, prompt, params)]


def test_streamed_deltas_concatenate_to_the_offline_result(tiny: Tiny) -> None:
    greedy = SamplingParams(temperature=0, max_tokens=24, ignore_eos=True)
    llm = LLM(str(tiny[0]), loaded=tiny[1], num_kv_blocks=64, block_size=4)
    expected = llm.generate(PROMPTS, greedy, use_tqdm=False)
    text = expected[0].outputs[0].text
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    stopped = SamplingParams(temperature=0, max_tokens=24, ignore_eos=True, stop=[stop])
    expected_stop = llm.generate(PROMPTS[0], stopped, use_tqdm=False)[0].outputs[0]
    assert expected_stop.finish_reason == "stop"

    async def body(engine: AsyncEngine) -> None:
        streams = await asyncio.gather(
            *(collect(engine, f"r{i}", p, greedy) for i, p in enumerate(PROMPTS)),
            collect(engine, "stop", PROMPTS[0], stopped),
        )
        for outs, want in zip(streams, [*(e.outputs[0] for e in expected), expected_stop], strict=True):
            assert len(outs) > 1
            assert all(not o.finished for o in outs[:-1]) and outs[-1].finished
            assert "".join(o.outputs[0].text for o in outs) == want.text
            assert [t for o in outs for t in o.outputs[0].token_ids] == want.token_ids
            assert outs[-1].outputs[0].finish_reason == want.finish_reason
        stats = engine.stats()
        assert stats.free_blocks == stats.total_blocks
        assert stats.num_running == stats.num_waiting == 0
        assert stats.request_success == {"length": 4, "stop": 1}
        assert stats.generation_tokens == 4 * 24 + len(expected_stop.token_ids)

    run(tiny, body)


def test_whole_requests_answer_once_with_the_offline_result(tiny: Tiny) -> None:
    """stream=False: one finished output per request (no per-step deltas), equal to the offline result;
    its step times are kept for the latency histograms."""
    greedy = SamplingParams(temperature=0, max_tokens=24, ignore_eos=True, n=2, seed=1)
    llm = LLM(str(tiny[0]), loaded=tiny[1], num_kv_blocks=64, block_size=4)
    expected = llm.generate(PROMPTS, greedy, use_tqdm=False)
    text = expected[0].outputs[0].text
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    stopped = SamplingParams(temperature=0, max_tokens=24, ignore_eos=True, stop=[stop])
    expected_stop = llm.generate(PROMPTS[0], stopped, use_tqdm=False)[0]

    async def whole(
        engine: AsyncEngine, request_id: str, prompt: str, params: SamplingParams
    ) -> list[RequestOutput]:
        return [out async for out in engine.generate(request_id, prompt, params, stream=False)]

    async def body(engine: AsyncEngine) -> None:
        answers = await asyncio.gather(
            *(whole(engine, f"r{i}", p, greedy) for i, p in enumerate(PROMPTS)),
            whole(engine, "stop", PROMPTS[0], stopped),
        )
        for outs, want in zip(answers, [*expected, expected_stop], strict=True):
            assert len(outs) == 1 and outs[0].finished
            got = sorted(outs[0].outputs, key=lambda c: c.index)
            assert [(c.text, c.token_ids, c.finish_reason) for c in got] == [
                (w.text, w.token_ids, w.finish_reason) for w in want.outputs
            ]
            times = outs[0].metrics.token_times
            assert times and times == sorted(times) and len(times) <= 24
        stats = engine.stats()
        assert stats.free_blocks == stats.total_blocks

    run(tiny, body)


def test_abort_mid_stream_frees_every_block(tiny: Tiny) -> None:
    params = SamplingParams(temperature=0, max_tokens=200, ignore_eos=True)

    async def body(engine: AsyncEngine) -> None:
        other = asyncio.create_task(collect(engine, "other", PROMPTS[1], SamplingParams(max_tokens=5)))
        outs = []
        async for out in engine.generate("long", PROMPTS[0], params):
            outs.append(out)
            if len(outs) == 2:
                await engine.abort("long")
                assert "long" not in engine.engine.requests
        assert outs[-1].finished and outs[-1].outputs[0].finish_reason == "abort"
        assert len(outs) < 200
        await other
        stats = engine.stats()
        assert stats.free_blocks == stats.total_blocks
        assert stats.request_success.get("abort") == 1

    run(tiny, body)


def test_abort_returns_after_the_blocks_are_free(tiny: Tiny) -> None:
    params = SamplingParams(temperature=0, max_tokens=200, ignore_eos=True)

    async def body(engine: AsyncEngine) -> None:
        stream = engine.generate("a", PROMPTS[2], params)
        first = await anext(stream)
        assert not first.finished
        assert engine.stats().free_blocks < engine.stats().total_blocks
        await engine.abort("a")
        assert engine.stats().free_blocks == engine.stats().total_blocks
        assert engine.stats().num_running == 0
        await stream.aclose()

    run(tiny, body)


def test_a_client_that_stops_reading_gets_its_request_aborted(tiny: Tiny) -> None:
    params = SamplingParams(temperature=0, max_tokens=200, ignore_eos=True)

    async def body(engine: AsyncEngine) -> None:
        stream = engine.generate("gone", PROMPTS[3], params)
        await anext(stream)
        await stream.aclose()
        await engine.abort("gone")  # queued behind the abort the closed stream sent
        assert engine.stats().free_blocks == engine.stats().total_blocks
        assert engine.stats().request_success.get("abort") == 1

    run(tiny, body)


def test_bad_requests_fail_before_scheduling(tiny: Tiny) -> None:
    async def body(engine: AsyncEngine) -> None:
        with pytest.raises(ContextLengthExceeded):
            await collect(engine, "x", "hi " * 300, SamplingParams(max_tokens=4))
        with pytest.raises(ContextLengthExceeded):
            await collect(engine, "y", "hi", SamplingParams(max_tokens=engine.max_model_len))
        with pytest.raises(InvalidParam) as err:
            await collect(engine, "z", "hi", SamplingParams(temperature=-1))
        assert err.value.param == "temperature"
        assert engine.stats().prompt_tokens == 0

    run(tiny, body, max_model_len=128)


def test_a_crashed_step_loop_marks_the_engine_dead(tiny: Tiny) -> None:
    async def body(engine: AsyncEngine) -> None:
        outs = [out async for out in engine.generate("ok", PROMPTS[0], SamplingParams(max_tokens=2))]
        assert outs[-1].finished
        engine.engine.model_runner.kv_caches.clear()  # the next model call fails inside the loop thread
        with pytest.raises(EngineDead):
            await collect(engine, "boom", PROMPTS[1], SamplingParams(max_tokens=4))
        assert engine.is_dead
        assert engine.error is not None
        with pytest.raises(EngineDead):
            await collect(engine, "after", PROMPTS[1], SamplingParams(max_tokens=4))

    run(tiny, body)


def test_shutdown_ends_pending_streams(tiny: Tiny) -> None:
    async def main() -> None:
        engine = AsyncEngine(config(tiny[0]), loaded=tiny[1], async_scheduling=tiny[2])
        await engine.start()
        stream = engine.generate("s", PROMPTS[0], SamplingParams(max_tokens=200, ignore_eos=True))
        await anext(stream)
        await engine.shutdown()
        with pytest.raises(EngineDead):
            async for _ in stream:
                pass

    asyncio.run(main())


def test_n_children_stream_by_index(tiny: Tiny) -> None:
    params = SamplingParams(n=3, temperature=1.0, seed=11, max_tokens=6, ignore_eos=True)
    llm = LLM(str(tiny[0]), loaded=tiny[1], num_kv_blocks=64, block_size=4)
    expected = llm.generate(PROMPTS[1], params, use_tqdm=False)[0].outputs

    async def body(engine: AsyncEngine) -> None:
        outs = await collect(engine, "n", PROMPTS[1], params)
        for want in expected:
            ids = [t for o in outs for c in o.outputs if c.index == want.index for t in c.token_ids]
            assert ids == want.token_ids
        assert outs[-1].finished
        assert engine.stats().free_blocks == engine.stats().total_blocks

    run(tiny, body)
