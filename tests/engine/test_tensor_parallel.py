"""Tensor parallelism on CPU (gloo, 2 processes): the sharding math of each layer, the collectives, and
greedy outputs identical to tensor-parallel size 1 for every tiny model family."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from engine import LLM, AsyncEngine, SamplingParams
from engine.config import EngineConfig
from engine.distributed import get_tp_size
from engine.distributed import parallel_state as ps
from engine.distributed.workers import free_local_port
from engine.errors import InvalidParam
from engine.layers.activation import SiluAndMul
from engine.layers.embed_head import ParallelLMHead, VocabParallelEmbedding
from engine.layers.linear import (
    ColumnParallelLinear,
    MergedColumnParallelLinear,
    QKVParallelLinear,
    RowParallelLinear,
)
from engine.loader import load_model
from tests.engine.orphans import child_outlives_killed_parent
from tests.engine.tiny_models import FAMILIES, build_tiny_model

TP = 2


pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]  # process groups: 5-30 s each


@contextmanager
def as_rank(rank: int, world_size: int) -> Iterator[None]:
    """Build layers as `rank` of `world_size` would (no process group: loading only, no forward)."""
    ps._state.rank, ps._state.world_size = rank, world_size
    try:
        yield
    finally:
        ps._state.rank, ps._state.world_size = 0, 1


# --- sharding math, one process ---------------------------------------------------------------


def test_qkv_shards_split_query_and_kv_heads() -> None:
    hidden, head_dim, heads, kv_heads = 16, 4, 4, 2
    q, (k, v) = torch.randn(heads * head_dim, hidden), torch.randn(2, kv_heads * head_dim, hidden)
    qb, kb, vb = torch.randn(16), torch.randn(8), torch.randn(8)
    layers = []
    for rank in range(TP):
        with as_rank(rank, TP):
            layer = QKVParallelLinear(hidden, head_dim, heads, kv_heads, bias=True)
        for shard, w, b in (("q", q, qb), ("k", k, kb), ("v", v, vb)):
            layer.weight.weight_loader(layer.weight, w, shard)
            layer.bias.weight_loader(layer.bias, b, shard)
        assert (layer.num_heads, layer.num_kv_heads) == (2, 1)
        assert layer.weight.shape == ((2 + 2 * 1) * head_dim, hidden)
        layers.append(layer)
    for name, (offset, size), full, bias in (
        ("q", (0, 8), q, qb),
        ("k", (8, 4), k, kb),
        ("v", (12, 4), v, vb),
    ):
        w = torch.cat([layer.weight[offset : offset + size] for layer in layers])
        b = torch.cat([layer.bias[offset : offset + size] for layer in layers])
        assert torch.equal(w, full), name
        assert torch.equal(b, bias), name


def test_merged_column_shards_gate_and_up_separately() -> None:
    gate, up = torch.randn(12, 8), torch.randn(12, 8)
    shards = []
    for rank in range(TP):
        with as_rank(rank, TP):
            layer = MergedColumnParallelLinear(8, [12, 12])
        layer.weight.weight_loader(layer.weight, gate, 0)
        layer.weight.weight_loader(layer.weight, up, 1)
        assert layer.weight.shape == (12, 8)
        shards.append(layer.weight.data)
    assert torch.equal(torch.cat([s[:6] for s in shards]), gate)
    assert torch.equal(torch.cat([s[6:] for s in shards]), up)


def test_column_and_row_shards_concatenate_to_the_full_weight() -> None:
    w, b = torch.randn(6, 10), torch.randn(6)
    columns, rows = [], []
    for rank in range(TP):
        with as_rank(rank, TP):
            col = ColumnParallelLinear(10, 6, bias=True)
            row = RowParallelLinear(10, 6, bias=True)
        for layer in (col, row):
            layer.weight.weight_loader(layer.weight, w)
            layer.bias.weight_loader(layer.bias, b)
        columns.append(col)
        rows.append(row)
    assert torch.equal(torch.cat([c.weight for c in columns], dim=0), w)
    assert torch.equal(torch.cat([c.bias for c in columns]), b)
    assert torch.equal(torch.cat([r.weight for r in rows], dim=1), w)
    assert all(torch.equal(r.bias, b) for r in rows)  # added once, by rank 0


def test_vocab_shards_cover_the_vocabulary_with_zero_padding() -> None:
    vocab, dim, world = 10, 3, 4  # 3 rows per rank; the last rank holds 1 real row + 2 padding rows
    table = torch.randn(vocab, dim)
    parts = []
    for rank in range(world):
        with as_rank(rank, world):
            emb = VocabParallelEmbedding(vocab, dim)
        emb.weight.weight_loader(emb.weight, table)
        n = emb.vocab_end_idx - emb.vocab_start_idx
        assert emb.weight.shape == (3, dim)
        assert not emb.weight[n:].any()
        parts.append(emb.weight[:n])
    assert torch.equal(torch.cat(parts), table)


def test_shard_shape_mismatch_is_a_value_error() -> None:
    with as_rank(1, TP):
        layer = ColumnParallelLinear(8, 6)
    with pytest.raises(ValueError, match="does not split"):
        layer.weight.weight_loader(layer.weight, torch.randn(7, 8))
    with pytest.raises(ValueError, match="shape mismatch"):
        layer.weight.weight_loader(layer.weight, torch.randn(6, 9))


def test_heads_that_do_not_split_are_rejected(tmp_path: Path) -> None:
    path = build_tiny_model("llama", tmp_path / "llama")  # 4 heads, 2 KV heads
    with as_rank(0, 4), pytest.raises(InvalidParam, match="KV heads"):
        load_model(model_path=path)


# --- collectives and layer forwards, 2 gloo processes -----------------------------------------


def _layer_checks(rank: int, world: int, init_method: str) -> None:
    """Each layer's forward over the group equals the dense computation (runs in every rank)."""
    ps.init_tensor_parallel(rank, world, init_method, "gloo", timeout_s=0.5)
    try:
        torch.manual_seed(0)  # the same full tensors on every rank
        x = torch.randn(5, 8)
        w_gate, w_up, w_down, b_down = (
            torch.randn(12, 8),
            torch.randn(12, 8),
            torch.randn(8, 12),
            torch.randn(8),
        )
        table, hidden, ids = torch.randn(11, 8), torch.randn(4, 8), torch.tensor([0, 5, 6, 10, 3, 10])

        row = RowParallelLinear(8, 8, bias=True)
        row.weight.weight_loader(row.weight, w_down[:, :8])
        row.bias.weight_loader(row.bias, b_down)
        x_local = x.chunk(world, dim=-1)[rank]
        torch.testing.assert_close(row(x_local), F.linear(x, w_down[:, :8], b_down))

        gate_up = MergedColumnParallelLinear(8, [12, 12])
        gate_up.weight.weight_loader(gate_up.weight, w_gate, 0)
        gate_up.weight.weight_loader(gate_up.weight, w_up, 1)
        down = RowParallelLinear(12, 8, bias=True)
        down.weight.weight_loader(down.weight, w_down)
        down.bias.weight_loader(down.bias, b_down)
        dense = F.linear(F.silu(x @ w_gate.T) * (x @ w_up.T), w_down, b_down)
        torch.testing.assert_close(down(SiluAndMul()(gate_up(x))), dense)

        emb = VocabParallelEmbedding(11, 8)  # 11 rows: 6 on rank 0, 5 (+1 padding) on rank 1
        emb.weight.weight_loader(emb.weight, table)
        torch.testing.assert_close(emb(ids), F.embedding(ids, table))
        head = ParallelLMHead(11, 8)
        head.tie_weights(emb)
        logits = head(hidden)
        if rank == 0:
            torch.testing.assert_close(logits, F.linear(hidden, table))
        else:
            assert logits is None

        from engine.distributed import all_reduce_min, broadcast_object

        assert all_reduce_min(10 - rank) == 10 - (world - 1)
        if rank == 0:
            time.sleep(1.5)  # an idle engine: the workers wait for the next step past timeout_s
        assert broadcast_object({"step": rank}) == {"step": 0}
    finally:
        ps.destroy_tensor_parallel()


def test_layer_forwards_over_two_gloo_ranks_equal_the_dense_math() -> None:
    """Rank 0 in this process, rank 1 spawned."""
    init_method = f"tcp://127.0.0.1:{free_local_port()}"  # as the engine's workers rendezvous
    worker = mp.get_context("spawn").Process(target=_layer_checks, args=(1, TP, init_method))
    worker.start()
    try:
        _layer_checks(0, TP, init_method)
    finally:
        worker.join(60)
        if worker.is_alive():
            worker.terminate()
    assert worker.exitcode == 0


# --- the engine: tensor-parallel size 2 against 1 ---------------------------------------------


def prompts(seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    varied = [[rng.randrange(3, 500) for _ in range(n)] for n in (3, 9, 20, 41)]
    prefix = [rng.randrange(3, 500) for _ in range(33)]
    return varied + [prefix + [rng.randrange(3, 500) for _ in range(n)] for n in (2, 7)]


ENGINE = dict(device="cpu", block_size=8, num_kv_blocks=96, max_num_batched_tokens=24)  # chunked prefill
GREEDY = SamplingParams(temperature=0, max_tokens=10, ignore_eos=True)
SEEDED = SamplingParams(n=2, temperature=0.9, top_p=0.9, seed=11, max_tokens=6, ignore_eos=True)


def run(llm: LLM, seed: int) -> list[list[int]]:
    greedy = llm.generate(prompts(seed), GREEDY, use_tqdm=False)
    seeded = llm.generate(prompts(seed)[:2], SEEDED, use_tqdm=False)
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks
    return [c.token_ids for out in greedy + seeded for c in out.outputs]


@pytest.mark.parametrize("family", FAMILIES)
def test_tensor_parallel_2_matches_1(family: str, tmp_path: Path) -> None:
    tied = family == "qwen2"  # tied embedding and LM head share one vocab-parallel weight
    path = str(build_tiny_model(family, tmp_path / family, tie_word_embeddings=tied))
    expected = run(LLM(path, **ENGINE), seed=len(family))
    llm = LLM(path, tensor_parallel_size=TP, **ENGINE)
    try:
        assert get_tp_size() == TP
        assert llm.model_runner.kv_caches[0].shape[-2] == 1  # 2 KV heads, one per rank
        got = run(llm, seed=len(family))
        assert llm.stats().prefix_cache_hits > 0
    finally:
        llm.shutdown()
    assert got == expected
    assert [p.exitcode for p in llm.workers.procs] == [0]
    assert get_tp_size() == 1


async def test_async_engine_with_tensor_parallel_streams_and_shuts_down(tmp_path: Path) -> None:
    path = str(build_tiny_model("llama3", tmp_path / "llama3"))
    prompt = prompts(3)[2]
    expected = LLM(path, **ENGINE).generate([prompt], GREEDY, use_tqdm=False)[0].outputs[0].token_ids
    engine = AsyncEngine(EngineConfig(model=path, tensor_parallel_size=TP, **ENGINE))
    await engine.start()
    try:
        got = [t async for out in engine.generate("r1", prompt, GREEDY) for t in out.outputs[0].token_ids]
    finally:
        await engine.shutdown()
    assert got == expected
    assert [p.exitcode for p in engine.engine.workers.procs] == [0]
    assert get_tp_size() == 1


def test_unsplittable_model_fails_to_start_and_stops_its_workers(tmp_path: Path) -> None:
    path = str(build_tiny_model("mistral", tmp_path / "mistral"))  # 4 heads, 2 KV heads: not over 3 ranks
    with pytest.raises(InvalidParam, match="tensor_parallel_size"):
        LLM(path, tensor_parallel_size=3, **ENGINE)
    assert get_tp_size() == 1
    assert not [p for p in mp.active_children() if p.name.startswith("teecube-tp")]


def test_a_preloaded_model_cannot_be_split(tmp_path: Path) -> None:
    path = build_tiny_model("qwen3", tmp_path / "qwen3")
    with pytest.raises(InvalidParam, match="preloaded"):
        LLM(str(path), loaded=load_model(model_path=path), tensor_parallel_size=TP, **ENGINE)
    assert not [p for p in mp.active_children() if p.name.startswith("teecube-tp")]


def test_shape_bench_with_tensor_parallel_2(capsys: pytest.CaptureFixture[str]) -> None:
    """`teecube bench throughput --shape ... --random-weights -tp 2`: every rank draws its own shard."""
    from teecube.bench import main as bench_main

    argv = ["throughput", "--shape", "tiny", "--random-weights", "--device", "cpu", "--threads", "1"]
    argv += ["--num-prompts", "5", "--input-len", "4-9", "--output-len", "3-6", "--skip-hf"]
    previous = torch.get_num_threads()
    try:
        results = []
        for tp in ("1", "2"):
            assert bench_main([*argv, "--tensor-parallel-size", tp]) == 0
            results.append(json.loads(capsys.readouterr().out))
    finally:
        torch.set_num_threads(previous)
    one, two = results
    assert (one["config"]["tensor_parallel_size"], two["config"]["tensor_parallel_size"]) == (1, 2)
    assert two["engine"]["output_tokens"] == one["engine"]["output_tokens"] == one["output_tokens"]
    assert two["kv_cache"]["bytes_per_token"] * 2 == one["kv_cache"]["bytes_per_token"]  # 1 of 2 KV heads
    assert get_tp_size() == 1


KILLED_ENGINE = """
import sys, time
from engine import LLM
llm = LLM(sys.argv[1], tensor_parallel_size=2, device="cpu", num_kv_blocks=16)
print(llm.workers.procs[0].pid, flush=True)
time.sleep(120)
"""


def test_workers_exit_when_the_engine_process_is_killed(tmp_path: Path) -> None:
    path = build_tiny_model("qwen3", tmp_path / "qwen3")
    assert not child_outlives_killed_parent(KILLED_ENGINE, str(path)), "the worker outlived its engine"


def test_engine_flag_and_config_validation(tmp_path: Path) -> None:
    from engine.cli import build_parser, configs

    for flag in ("-tp", "--tensor-parallel-size"):
        args = build_parser().parse_args(["--model", str(tmp_path), "--device", "cpu", flag, "2"])
        assert configs(args)[0].tensor_parallel_size == 2
    assert configs(build_parser().parse_args(["--model", str(tmp_path)]))[0].tensor_parallel_size == 1
    with pytest.raises(InvalidParam, match="tensor_parallel_size"):
        EngineConfig(model="m", device="cpu", tensor_parallel_size=0)


def test_a_dead_worker_fails_the_next_step(tmp_path: Path) -> None:
    path = str(build_tiny_model("llama", tmp_path / "llama"))
    llm = LLM(path, tensor_parallel_size=TP, **ENGINE)
    try:
        worker = llm.workers.procs[0]
        worker.kill()
        worker.join(10)
        with pytest.raises(RuntimeError, match="tensor-parallel worker teecube-tp1 died"):
            llm.generate([[5, 6, 7]], GREEDY, use_tqdm=False)
    finally:
        started = time.monotonic()
        llm.shutdown()
    assert time.monotonic() - started < 10
    assert get_tp_size() == 1
