"""The engine core in its own process survives a request it cannot build: a grammar whose compile fails
with something other than InvalidParam is that request's error, and the next request is served (before,
the core's command reader died: the core kept running but never read another command, so every later
request waited forever and shutdown waited 30 s before killing it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine import AsyncEngine, EngineConfig, SamplingParams
from engine.errors import EngineError
from engine.structured.compiler import GrammarFactory
from engine.structured.spec import GrammarSpec
from tests.engine.tiny_models import build_tiny_model

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model("qwen2", tmp_path_factory.mktemp("qwen2"))


def unused() -> None:
    raise AssertionError("the core compiles the spec itself")


async def collect(engine: AsyncEngine, request_id: str, params: SamplingParams) -> str:
    return "".join([o.outputs[0].text async for o in engine.generate(request_id, "Hello", params)])


def test_a_request_whose_grammar_cannot_be_built_fails_alone(path: Path) -> None:
    async def main() -> None:
        config = EngineConfig(
            model=str(path), device="cpu", num_kv_blocks=64, block_size=4, engine_core_process="on"
        )
        engine = AsyncEngine(config)
        await engine.start()
        try:
            greedy = SamplingParams(temperature=0, max_tokens=4, ignore_eos=True)
            before = await asyncio.wait_for(collect(engine, "before", greedy), 60)
            spec = GrammarSpec("choice", "not a JSON list", "guided_choice")  # json.loads raises
            bad = SamplingParams(max_tokens=4, logits_processor_factory=GrammarFactory(spec, unused))  # type: ignore[arg-type]
            with pytest.raises(EngineError, match="JSONDecodeError"):
                await asyncio.wait_for(collect(engine, "bad", bad), 60)
            after = await asyncio.wait_for(collect(engine, "after", greedy), 60)
            assert after == before
            assert not engine.is_dead
            stats = engine.stats()
            assert stats.free_blocks == stats.total_blocks
        finally:
            await asyncio.wait_for(engine.shutdown(), 20)

    asyncio.run(main())


def test_thread_mode_a_failing_logits_processor_factory_fails_its_request_alone(path: Path) -> None:
    """Before, the factory's error escaped the step thread's command and the engine died for everyone."""
    from engine.loader import load_model

    def broken() -> None:
        raise RuntimeError("no processor today")

    async def main() -> None:
        config = EngineConfig(model=str(path), num_kv_blocks=64, block_size=4, engine_core_process="off")
        engine = AsyncEngine(config, loaded=load_model(model_path=path, dtype="float32", device="cpu"))
        await engine.start()
        try:
            greedy = SamplingParams(temperature=0, max_tokens=4, ignore_eos=True)
            before = await asyncio.wait_for(collect(engine, "before", greedy), 60)
            bad = SamplingParams(max_tokens=4, logits_processor_factory=broken)  # type: ignore[arg-type]
            with pytest.raises(RuntimeError, match="no processor today"):
                await asyncio.wait_for(collect(engine, "bad", bad), 60)
            assert await asyncio.wait_for(collect(engine, "after", greedy), 60) == before
            assert not engine.is_dead
            stats = engine.stats()
            assert stats.free_blocks == stats.total_blocks and stats.num_running == stats.num_waiting == 0
        finally:
            await engine.shutdown()

    asyncio.run(main())
