"""The decode CUDA-graph ladder and its padding (CPU: the logic; capture and replay are in tests/gpu)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import torch

from engine.attention_metadata import build_attention_metadata, longest_first
from engine.cuda_graphs import DecodeBuffers, DecodeGraphs, graph_batch_sizes, padded_batch_size
from engine.staging import StagingBuffer


@pytest.mark.parametrize(
    ("max_num_seqs", "expected"),
    [
        (1, [1]),
        (3, [1, 2, 3]),
        (8, [1, 2, 4, 8]),
        (20, [1, 2, 4, 8, 16, 20]),
        (64, [1, 2, 4, 8, 16, 32, 48, 64]),
    ],
)
def test_ladder(max_num_seqs: int, expected: list[int]) -> None:
    assert graph_batch_sizes(max_num_seqs) == expected


def test_ladder_is_capped_at_512() -> None:
    sizes = graph_batch_sizes(1000)
    assert sizes[-1] == 512 and sizes[:4] == [1, 2, 4, 8]
    assert all(b - a == 16 for a, b in pairwise(sizes[4:]))


@pytest.mark.parametrize("max_num_seqs", [1, 7, 100, 256])
def test_every_batch_pads_to_the_smallest_captured_size(max_num_seqs: int) -> None:
    sizes = graph_batch_sizes(max_num_seqs)
    for n in range(1, max_num_seqs + 1):
        bs = padded_batch_size(n, sizes)
        assert bs in sizes and bs >= n
        assert all(s < n for s in sizes if s < bs)
    assert padded_batch_size(max_num_seqs + 1, sizes) is None


def test_fill_copies_rows_and_pads_the_rest() -> None:
    buffers = DecodeBuffers(max_bs=8, max_blocks_per_seq=6, device="cpu")
    # stale values from an earlier, larger step
    buffers.slot_mapping.fill_(99)
    buffers.seq_lens.fill_(77)
    buffers.input_ids.fill_(5)
    meta = build_attention_metadata([1, 1, 1], [17, 3, 33], [[4, 9], [2], [7, 1, 8]], block_size=16)
    ids, positions = torch.tensor([11, 12, 13]), torch.tensor([16, 2, 32])
    buffers.fill(ids, positions, meta, bs=4)
    assert buffers.input_ids[:3].tolist() == [11, 12, 13]
    assert buffers.positions[:3].tolist() == [16, 2, 32]
    assert buffers.slot_mapping[:4].tolist() == [9 * 16 + 0, 2 * 16 + 2, 8 * 16 + 0, -1]
    assert buffers.seq_lens[:4].tolist() == [17, 3, 33, 0]
    assert buffers.block_tables[:3, :3].tolist() == [[4, 9, 0], [2, 0, 0], [7, 1, 8]]
    # rows past the graph's size are not the graph's business
    assert buffers.slot_mapping[4:].tolist() == [99] * 4
    meta4 = buffers.meta(4)
    assert meta4.max_query_len == 1 and meta4.num_seqs == 4
    assert meta4.query_start_loc.tolist() == [0, 1, 2, 3, 4]


def test_fill_orders_rows_longest_first_and_padding_last() -> None:
    buffers = DecodeBuffers(max_bs=8, max_blocks_per_seq=6, device="cpu")
    buffers.decode_order.fill_(3)  # stale
    meta = build_attention_metadata([1, 1, 1], [17, 3, 33], [[4, 9], [2], [7, 1, 8]], block_size=16)
    meta.decode_order = torch.from_numpy(longest_first([17, 3, 33]))
    buffers.fill(torch.tensor([1, 2, 3]), torch.tensor([16, 2, 32]), meta, bs=4)
    assert buffers.meta(4).decode_order.tolist() == [2, 0, 1, 3]
    meta.decode_order = None  # a batch built without an order: row order
    buffers.fill(torch.tensor([1, 2, 3]), torch.tensor([16, 2, 32]), meta, bs=4)
    assert buffers.meta(4).decode_order.tolist() == [0, 1, 2, 3]
    plain = DecodeBuffers(max_bs=8, max_blocks_per_seq=6, device="cpu", ordered=False)
    plain.fill(torch.tensor([1, 2, 3]), torch.tensor([16, 2, 32]), meta, bs=4)
    assert plain.meta(4).decode_order is None


def test_longest_first_breaks_ties_in_row_order() -> None:
    assert longest_first([5, 9, 5, 0, 9]).tolist() == [1, 4, 0, 2, 3]
    assert longest_first([]).tolist() == []


def test_fill_rejects_a_wider_block_table() -> None:
    buffers = DecodeBuffers(max_bs=4, max_blocks_per_seq=2, device="cpu")
    meta = build_attention_metadata([1], [40], [[1, 2, 3]], block_size=16)
    with pytest.raises(ValueError, match="block table width"):
        buffers.fill(torch.tensor([1]), torch.tensor([39]), meta, bs=1)


def test_graphs_run_nothing_before_capture() -> None:
    graphs = DecodeGraphs(16, 4, hidden_size=8, dtype=torch.float32, device="cpu")
    assert graphs.sizes == [1, 2, 4, 8, 16]
    assert not graphs.can_run(3, 4)


def test_staging_round_trips_and_aligns() -> None:
    stage = StagingBuffer(torch.int32, "cpu")
    arrays = [np.arange(5), np.array([[1, 2, 3], [4, 5, 6]]), np.zeros(0, dtype=np.int64), np.array([-7])]
    for _ in range(2):  # the buffer is reused
        out = stage.to_device(*arrays)
        assert [t.tolist() for t in out] == [a.tolist() for a in arrays]
        assert all(t.dtype == torch.int32 and t.data_ptr() % 16 == 0 for t in out)
    big = stage.to_device(np.arange(5000))[0]  # grows
    assert big.tolist() == list(range(5000))


class Replay:
    """Stands in for a captured torch.cuda.CUDAGraph on the CPU: replay() re-runs what was 'captured'."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def replay(self) -> None:
        self.fn()


class CPUGraphs(DecodeGraphs):
    def capture(self, model_fn) -> None:
        b = self.buffers
        for bs in reversed(self.sizes):
            meta = b.meta(bs)

            def step(bs: int = bs, meta=meta) -> None:
                self.outputs[:bs] = model_fn(b.input_ids[:bs], b.positions[:bs], meta)

            self.graphs[bs] = Replay(step)


def test_runner_decodes_through_padded_graph_buffers(tmp_path) -> None:
    """The runner's graph path (static buffers, padding rows, LM head outside) gives the eager tokens."""
    from engine import LLM, SamplingParams
    from tests.engine.tiny_models import build_tiny_model

    path = build_tiny_model("qwen3", tmp_path / "qwen3")
    prompts = [[5 + i for i in range(n)] for n in (3, 8, 20, 33, 40)]
    params = SamplingParams(temperature=0, max_tokens=6, ignore_eos=True)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        llm = LLM(str(path), device="cpu", max_num_seqs=8, num_kv_blocks=64, enable_prefix_caching=False)
        eager = [o.outputs[0].token_ids for o in llm.generate(prompts, params, use_tqdm=False)]
        runner = llm.model_runner
        graphs = CPUGraphs(8, 16, runner.spec.hidden_size, runner.spec.dtype, "cpu", runner.block_size)
        graphs.capture(lambda ids, pos, meta: runner.model(ids, pos, runner.kv_caches, meta))
        runner.graphs = graphs
        sizes: list[int] = []
        run = graphs.run
        graphs.run = lambda ids, pos, meta: sizes.append(ids.shape[0]) or run(ids, pos, meta)  # type: ignore[method-assign]
        replayed = [o.outputs[0].token_ids for o in llm.generate(prompts, params, use_tqdm=False)]
    finally:
        torch.set_num_threads(previous)
    assert replayed == eager
    assert sizes == [5] * 5  # every decode step (5 sequences, padded to the graph of 8) went through it
