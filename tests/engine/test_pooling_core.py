"""Embedding requests through the engine core's scheduler and step loop (--task embed), on tiny random
Qwen3-style embedding checkpoints: several requests pooled in one step, a prompt split by chunked
prefill pooled as it is whole, every KV block free once a request is pooled or aborted, prefix caching
only for last-token pooling, generation refused; HF transformers is the reference (cosine >= 0.999).
The same requests through AsyncEngine, with the core in a thread and in its own process."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import torch

from engine import AsyncEngine, EngineConfig, SamplingParams
from engine.engine_core import EngineCore
from engine.errors import ContextLengthExceeded, InvalidParam
from engine.outputs import PoolingOutput, RequestMetrics
from tests.engine.tiny_embedding import build_embedding_model, reference

pytestmark = pytest.mark.usefixtures("one_thread")

# token ids of different lengths (the tiny vocabulary has 512); LONG spans many 16-token chunks
SHORT = [[5, 17, 300, 42], [7] * 11 + [99, 3], list(range(40, 77))]
LONG = [(i * 37 + 11) % 500 + 3 for i in range(150)]


@pytest.fixture(scope="module", params=["last", "mean", "cls"])
def model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    pooling = request.param
    return build_embedding_model("qwen3", tmp_path_factory.mktemp(f"qwen3-{pooling}"), pooling), pooling


def embed_config(path: Path, **kw: Any) -> EngineConfig:
    """An fp32 CPU embedding engine's config: 256-token context, 32 KV blocks unless `kw` says otherwise."""
    fields: dict[str, Any] = {"max_model_len": 256, "num_kv_blocks": 32} | kw
    return EngineConfig(model=str(path), device="cpu", dtype="float32", task="embed", **fields)


def make_core(path: Path, async_scheduling: bool = False, **kw: Any) -> EngineCore:
    return EngineCore(embed_config(path, **({"max_num_seqs": 8} | kw)), async_scheduling=async_scheduling)


def run(core: EngineCore, inputs: dict[str, list[int]]) -> tuple[dict[str, torch.Tensor], list[list[str]]]:
    """Add the inputs, step until done: vectors by request id, and the ids pooled by each step."""
    for rid, ids in inputs.items():
        core.add_pooling(rid, ids, RequestMetrics(0.0))
    vectors: dict[str, torch.Tensor] = {}
    steps: list[list[str]] = []
    while core.has_unfinished():
        outputs = core.step()
        assert all(isinstance(o, PoolingOutput) for o in outputs)
        steps.append([o.request_id for o in outputs])
        vectors |= {o.request_id: o.embedding for o in outputs}  # type: ignore[union-attr]
    return vectors, steps


def all_blocks_free(core: EngineCore) -> bool:
    bm = core.block_manager
    return bm.num_free_blocks == bm.num_blocks and not core.requests and not core.scheduler.running


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=0).item()


@pytest.mark.parametrize("async_scheduling", [False, True], ids=["sync", "async"])
def test_requests_pooled_together_in_one_step_match_hf(
    model: tuple[Path, str], async_scheduling: bool
) -> None:
    path, pooling = model
    core = make_core(path, async_scheduling, max_num_batched_tokens=256)
    inputs = {f"r{i}": ids for i, ids in enumerate(SHORT)}
    vectors, steps = run(core, inputs)
    pooled_steps = [s for s in steps if s]
    assert pooled_steps == [list(inputs)]  # one forward for all three, in arrival order
    for rid, ids in inputs.items():
        assert vectors[rid].shape == (64,) and vectors[rid].dtype == torch.float32
        assert cos(vectors[rid], reference(path, ids, pooling)) >= 0.999
        assert abs(vectors[rid].norm().item() - 1) < 1e-4
    assert all_blocks_free(core)
    assert core.stats().prompt_tokens == sum(map(len, SHORT))


@pytest.mark.parametrize("async_scheduling", [False, True], ids=["sync", "async"])
def test_a_prompt_split_by_chunked_prefill_pools_as_if_whole(
    model: tuple[Path, str], async_scheduling: bool
) -> None:
    path, pooling = model
    whole, whole_steps = run(make_core(path, max_num_batched_tokens=256), {"long": LONG})
    assert len([s for s in whole_steps if s]) == 1 and len(whole_steps) == 1
    core = make_core(path, async_scheduling, max_num_batched_tokens=16)
    inputs = {"long": LONG, "short": SHORT[0]}
    chunked, steps = run(core, inputs)
    # 150 tokens at 16 a step: pooled by the tenth step (the short one waits for the budget left there)
    assert next(i for i, s in enumerate(steps) if "long" in s) >= 9
    assert torch.allclose(chunked["long"], whole["long"], atol=1e-5)
    assert cos(chunked["long"], reference(path, LONG, pooling)) >= 0.999
    assert cos(chunked["short"], reference(path, SHORT[0], pooling)) >= 0.999
    assert all_blocks_free(core)


def test_an_aborted_prompt_frees_its_blocks_mid_prefill(model: tuple[Path, str]) -> None:
    path, pooling = model
    core = make_core(path, max_num_batched_tokens=16)
    core.add_pooling("long", LONG, RequestMetrics(0.0))
    assert core.step() == [] and core.step() == []  # two chunks of 16 prefilled, nothing pooled
    assert core.block_manager.num_free_blocks < core.block_manager.num_blocks
    assert core.abort("long")
    assert all_blocks_free(core) and not core.has_unfinished()
    vectors, _ = run(core, {"again": LONG})  # the same id's partial is not reused: recomputed whole
    assert cos(vectors["again"], reference(path, LONG, pooling)) >= 0.999


def test_prefix_caching_serves_last_token_pooling_only(model: tuple[Path, str]) -> None:
    path, pooling = model
    core = make_core(path, max_num_batched_tokens=256, enable_prefix_caching=True)
    first, _ = run(core, {"a": LONG})
    second, _ = run(core, {"b": LONG})
    bm = core.block_manager
    assert bm.enable_prefix_caching is (pooling == "last")
    assert (bm.prefix_cache_hits > 0) is (pooling == "last")
    assert torch.allclose(first["a"], second["b"], atol=1e-5)
    assert all_blocks_free(core)


def test_an_embedding_engine_refuses_generation_and_bad_inputs(model: tuple[Path, str]) -> None:
    path, _ = model
    core = make_core(path, max_model_len=64)
    with pytest.raises(InvalidParam) as exc:
        core.add("g", [1, 2, 3], SamplingParams(max_tokens=2), RequestMetrics(0.0))
    assert exc.value.param == "task"
    with pytest.raises(ContextLengthExceeded):
        core.add_pooling("too-long", LONG, RequestMetrics(0.0))
    with pytest.raises(InvalidParam):
        core.add_pooling("empty", [], RequestMetrics(0.0))
    with pytest.raises(InvalidParam):
        core.add_pooling("vocab", [1, 10**6], RequestMetrics(0.0))
    assert not core.has_unfinished() and all_blocks_free(core)


def test_a_cancelled_embed_call_frees_its_blocks(model: tuple[Path, str]) -> None:
    path, _ = model
    config = embed_config(path, max_num_batched_tokens=8, num_kv_blocks=160, engine_core_process="off")
    inputs = [LONG + LONG[:100]] * 8  # 2000 tokens at 8 a step: still prefilling when cancelled

    async def main() -> tuple[Any, Any]:
        engine = AsyncEngine(config)
        await engine.start()
        try:
            task = asyncio.create_task(engine.embed(inputs))
            await asyncio.sleep(0)  # the call submits its requests and waits for their vectors
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await engine.abort("none")  # after the cancelled call's aborts (one command queue)
            return engine.stats(), engine.engine
        finally:
            await engine.shutdown()

    stats, core = asyncio.run(main())
    assert core.prompt_tokens == sum(map(len, inputs))  # they reached the core, then were aborted
    assert stats.num_running == stats.num_waiting == 0 and stats.free_blocks == stats.total_blocks
    assert not core.requests


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["off", "on"], ids=["thread", "process"])
def test_async_engine_embeds_through_its_core(model: tuple[Path, str], mode: str) -> None:
    path, pooling = model
    config = embed_config(path, max_num_batched_tokens=32, engine_core_process=mode)

    async def main() -> tuple[torch.Tensor, torch.Tensor, Any]:
        engine = AsyncEngine(config)
        await engine.start()
        try:
            assert engine.pooling is not None and engine.pooling.pooling_type == pooling
            one, two = await asyncio.gather(engine.embed([LONG, SHORT[1]]), engine.embed([SHORT[2]]))
            with pytest.raises(InvalidParam):
                async for _ in engine.generate("g", [1, 2], SamplingParams(max_tokens=1)):
                    pass
            await asyncio.sleep(0)
            return one, two, engine.stats()
        finally:
            await engine.shutdown()

    one, two, stats = asyncio.run(main())
    assert one.shape == (2, 64) and two.shape == (1, 64)
    for vector, ids in [(one[0], LONG), (one[1], SHORT[1]), (two[0], SHORT[2])]:
        assert cos(vector, reference(path, ids, pooling)) >= 0.999
    assert stats.prompt_tokens == len(LONG) + len(SHORT[1]) + len(SHORT[2])
    assert stats.request_success == {"stop": 2}
