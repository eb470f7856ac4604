"""The decode CUDA-graph ladder and its padding (CPU: the logic; capture and replay are in tests/gpu)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import torch

from engine.attention_metadata import build_attention_metadata
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
