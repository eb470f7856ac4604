"""`AsyncEngine` with the engine core in its own process (`engine_core_process="on"`, forced on CPU):
the same deltas as thread mode, stop strings and aborts free blocks in the core, a killed core is
EngineDead for every waiting request, and the core exits when the server process dies."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from engine import AsyncEngine, EngineConfig, SamplingParams
from engine.errors import EngineDead, EngineError, InvalidParam
from engine.loader import load_model
from engine.outputs import RequestOutput
from tests.engine.orphans import child_outlives_killed_parent
from tests.engine.tiny_models import build_tiny_model

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

PROMPTS = ["Hello, world!", "The quick brown fox", "Paged attention stores keys", "def main():"]


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model("qwen2", tmp_path_factory.mktemp("qwen2"))


def config(path: Path, mode: str, **kw: Any) -> EngineConfig:
    return EngineConfig(
        model=str(path), device="cpu", num_kv_blocks=64, block_size=4, engine_core_process=mode, **kw
    )


async def collect(
    engine: AsyncEngine, request_id: str, prompt: str, params: SamplingParams, stream: bool = True
) -> list[RequestOutput]:
    return [out async for out in engine.generate(request_id, prompt, params, stream)]


def flat(outs: list[RequestOutput]) -> list[tuple[Any, ...]]:
    """Per sequence index: joined text, ids, finish, stop reason and logprob token ids."""
    seqs: dict[int, list[Any]] = {}
    for out in outs:
        for c in out.outputs:
            s = seqs.setdefault(c.index, ["", [], None, None, []])
            s[0] += c.text
            s[1] += c.token_ids
            s[2], s[3] = c.finish_reason, c.stop_reason
            s[4] += [e["token_id"] for e in c.logprobs or []]
    return [(s[0], tuple(s[1]), s[2], s[3], tuple(s[4])) for s in (seqs[i] for i in sorted(seqs))]


async def workload(engine: AsyncEngine) -> dict[str, Any]:
    greedy = SamplingParams(temperature=0, max_tokens=16, ignore_eos=True)
    first = flat(await collect(engine, "first", PROMPTS[0], greedy))
    stop = first[0][0][6:9]
    stopped = SamplingParams(temperature=0, max_tokens=16, ignore_eos=True, stop=[stop])
    results: dict[str, Any] = {"stop": flat(await collect(engine, "stop", PROMPTS[0], stopped))}
    s = engine.stats()  # the final delta of a stopped request waits until the core has freed it
    results["freed_after_stop"] = (s.free_blocks == s.total_blocks, s.num_running)
    streams = await asyncio.gather(
        *(collect(engine, f"g{i}", p, greedy) for i, p in enumerate(PROMPTS)),
        collect(engine, "n2", PROMPTS[1], SamplingParams(n=2, seed=7, temperature=1.0, max_tokens=8)),
        collect(engine, "lp", PROMPTS[2], SamplingParams(temperature=0, max_tokens=6, logprobs=2)),
        collect(engine, "whole", PROMPTS[3], greedy, stream=False),
        collect(engine, "eos", PROMPTS[3], SamplingParams(temperature=0, max_tokens=30, stop_token_ids=[5])),
    )
    results["streams"] = [flat(s) for s in streams]
    scored = await collect(engine, "plp", PROMPTS[2], SamplingParams(max_tokens=2, prompt_logprobs=2))
    given = [out.prompt_logprobs for out in scored if out.prompt_logprobs is not None]
    assert given and all(g == given[0] for g in given)  # the first output's, on every later one
    results["prompt_logprobs"] = [  # (how many deltas a stream takes depends on timing: compared once)
        None if e is None else (e["token_id"], round(e["logprob"], 5), len(e["top"])) for e in given[0]
    ]
    results["whole_deltas"] = len(streams[-2])
    results["counters"] = engine.stats().request_success
    return results


def run_mode(path: Path, mode: str) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        engine = AsyncEngine(config(path, mode))
        await engine.start()
        try:
            assert (engine.core_pid is not None) == (mode == "on")
            return await workload(engine)
        finally:
            await engine.shutdown()

    return asyncio.run(main())


def test_process_mode_gives_what_thread_mode_gives(path: Path) -> None:
    on, off = run_mode(path, "on"), run_mode(path, "off")
    assert on["stop"][0][2] == "stop" and on["freed_after_stop"] == (True, 0)
    assert on["whole_deltas"] == 1
    assert on["streams"][5][0][4] and len(on["streams"][4]) == 2
    scored = on["prompt_logprobs"]
    assert scored[0] is None and len(scored) > 3 and all(e[2] == 2 for e in scored[1:])
    assert on == off


def test_abort_frees_blocks_in_the_core_and_a_killed_core_is_engine_dead(path: Path) -> None:
    async def main() -> None:
        engine = AsyncEngine(config(path, "on"))
        await engine.start()
        try:
            long = SamplingParams(temperature=0, max_tokens=200, ignore_eos=True)
            stream = engine.generate("a", PROMPTS[0], long)
            await anext(stream)
            assert engine.stats().free_blocks < engine.stats().total_blocks
            await engine.abort("a")  # returns once the core has freed the blocks
            s = engine.stats()
            assert s.free_blocks == s.total_blocks and s.num_running == 0
            assert [o.outputs[0].finish_reason async for o in stream][-1] == "abort"

            waiting = [engine.generate(f"k{i}", p, long) for i, p in enumerate(PROMPTS)]
            for s in waiting:
                await anext(s)
            assert engine.core_pid is not None
            os.kill(engine.core_pid, signal.SIGKILL)
            for s in waiting:
                with pytest.raises(EngineDead, match="engine loop died"):
                    await asyncio.wait_for(_drain(s), timeout=30)
            assert engine.is_dead
            with pytest.raises(EngineDead):
                await anext(engine.generate("late", PROMPTS[0], long))
            await engine.abort("k0")  # returns at once
        finally:
            await asyncio.wait_for(engine.shutdown(), timeout=30)

    asyncio.run(main())


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


def test_flag_values_and_where_the_core_runs(path: Path) -> None:
    from engine.cli import build_parser, configs

    with pytest.raises(InvalidParam, match="engine_core_process"):
        EngineConfig(model="m", device="cpu", engine_core_process="yes")
    args = build_parser().parse_args(["--model", str(path), "--device", "cpu", "--engine-core-process", "on"])
    assert configs(args)[0].engine_core_process == "on"
    assert configs(build_parser().parse_args(["--model", str(path)]))[0].engine_core_process == "auto"

    async def main() -> None:
        auto = AsyncEngine(config(path, "auto"))  # CPU: a thread
        await auto.start()
        assert auto.core_pid is None
        await auto.shutdown()
        failures = []
        for mode in ("on", "off"):  # a core that cannot start raises what thread mode raises
            with pytest.raises(EngineError) as failed:
                await AsyncEngine(config(path.parent / "missing", mode)).start()
            failures.append((type(failed.value), str(failed.value)))
        assert failures[0] == failures[1]
        loaded = load_model(model_path=path, dtype="float32", device="cpu")
        with pytest.raises(InvalidParam, match="engine_core_process"):
            await AsyncEngine(config(path, "on"), loaded=loaded).start()

    asyncio.run(main())


SERVER_KILLED = """
import asyncio, sys, time
from engine import AsyncEngine, EngineConfig
async def main():
    config = EngineConfig(model=sys.argv[1], device="cpu", num_kv_blocks=16, engine_core_process="on")
    engine = AsyncEngine(config)
    await engine.start()
    print(engine.core_pid, flush=True)
    await asyncio.sleep(120)
asyncio.run(main())
"""


def test_core_exits_when_the_server_process_is_killed(path: Path) -> None:
    assert not child_outlives_killed_parent(SERVER_KILLED, str(path)), "the core outlived the server"
