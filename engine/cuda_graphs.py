"""CUDA graphs for decode steps (nano-vllm's scheme).

One graph per batch size of a ladder ([1, 2, 4, 8] + multiples of 16 up to max_num_seqs, at most 512),
captured largest-first into one shared memory pool. Each graph reads static input buffers (input_ids,
positions, slot_mapping, seq_lens, block_tables) and writes the final hidden states to a static output
buffer. A decode batch of n sequences replays the smallest graph of size >= n: the first n rows are
copied in, the padding rows get slot -1 (nothing stored) and seq_len 0 (attention reads nothing), and
come last in the decode order (the real rows' order, longest context first, or row order).
The LM head and the sampler run outside the graph, on the n real rows only.
"""

from __future__ import annotations

import gc
import os
from bisect import bisect_left
from collections.abc import Callable

import torch

from engine.attention_metadata import AttentionMetadata

MAX_GRAPH_BATCH_SIZE = 512
# Replay each graph once right after its capture, so that its first real replay (which also uploads the
# graph to the device) is not in the middle of a run: qwen3-0.6b +0.8 % on an H200 (session 12).
# TEECUBE_GRAPH_PRELAUNCH=0: not (the A/B switch).
PRELAUNCH = os.environ.get("TEECUBE_GRAPH_PRELAUNCH", "1") != "0"

ModelFn = Callable[[torch.Tensor, torch.Tensor, AttentionMetadata], torch.Tensor]


def graph_batch_sizes(max_num_seqs: int, limit: int = MAX_GRAPH_BATCH_SIZE) -> list[int]:
    """The ladder of captured batch sizes; its last entry is min(max_num_seqs, limit)."""
    max_bs = min(max_num_seqs, limit)
    sizes = [s for s in (1, 2, 4, 8) if s <= max_bs] + list(range(16, max_bs + 1, 16))
    if sizes[-1] != max_bs:
        sizes.append(max_bs)
    return sizes


def padded_batch_size(num_seqs: int, sizes: list[int]) -> int | None:
    """The smallest captured size >= num_seqs, or None when the batch is too large for any graph."""
    i = bisect_left(sizes, num_seqs)
    return sizes[i] if i < len(sizes) else None


class DecodeBuffers:
    """The static inputs every graph reads, sized for the largest graph."""

    def __init__(
        self,
        max_bs: int,
        max_blocks_per_seq: int,
        device: torch.device | str,
        block_size: int = 16,
        ordered: bool = True,
    ) -> None:
        self.ordered = ordered  # the graphs' decode kernels take a row order (AttentionMetadata.decode_order)
        self.max_seq_len = max_blocks_per_seq * block_size
        self.input_ids = torch.zeros(max_bs, dtype=torch.int64, device=device)
        self.positions = torch.zeros(max_bs, dtype=torch.int64, device=device)
        self.slot_mapping = torch.full((max_bs,), -1, dtype=torch.int64, device=device)
        self.seq_lens = torch.zeros(max_bs, dtype=torch.int32, device=device)
        self.query_start_loc = torch.arange(max_bs + 1, dtype=torch.int32, device=device)
        self.block_tables = torch.zeros(max_bs, max_blocks_per_seq, dtype=torch.int32, device=device)
        self.rows = torch.arange(max_bs, dtype=torch.int32, device=device)
        self.decode_order = self.rows.clone()

    def meta(self, bs: int) -> AttentionMetadata:
        """Metadata over the first bs rows (what a graph of size bs is captured with)."""
        return AttentionMetadata(
            query_start_loc=self.query_start_loc[: bs + 1],
            seq_lens=self.seq_lens[:bs],
            slot_mapping=self.slot_mapping[:bs],
            block_tables=self.block_tables[:bs],
            max_query_len=1,
            max_seq_len=self.max_seq_len,  # an upper bound (the kernels read seq_lens on the device)
            decode_order=self.decode_order[:bs] if self.ordered else None,
        )

    def fill(
        self, input_ids: torch.Tensor, positions: torch.Tensor, meta: AttentionMetadata, bs: int
    ) -> None:
        """Copy a decode batch of n <= bs rows in and pad rows n..bs-1 (slot -1, seq_len 0)."""
        n = input_ids.shape[0]
        width = meta.block_tables.shape[1]
        if width > self.block_tables.shape[1]:
            raise ValueError(f"block table width {width} exceeds the captured {self.block_tables.shape[1]}")
        self.input_ids[:n].copy_(input_ids, non_blocking=True)
        self.positions[:n].copy_(positions, non_blocking=True)
        self.slot_mapping[:n].copy_(meta.slot_mapping, non_blocking=True)
        self.seq_lens[:n].copy_(meta.seq_lens, non_blocking=True)
        self.block_tables[:n, :width].copy_(meta.block_tables, non_blocking=True)
        if self.ordered:
            order = meta.decode_order if meta.decode_order is not None else self.rows[:n]
            self.decode_order[:n].copy_(order, non_blocking=True)
        if bs > n:
            self.slot_mapping[n:bs].fill_(-1)
            self.seq_lens[n:bs].zero_()
            if self.ordered:
                self.decode_order[n:bs].copy_(self.rows[n:bs])  # padding rows (empty) last


class DecodeGraphs:
    """Capture with `capture(model_fn)`; then `run(input_ids, positions, meta)` for decode batches."""

    def __init__(
        self,
        max_num_seqs: int,
        max_blocks_per_seq: int,
        hidden_size: int,
        dtype: torch.dtype,
        device: torch.device | str,
        block_size: int = 16,
        ordered: bool = True,
    ) -> None:
        self.sizes = graph_batch_sizes(max_num_seqs)
        self.buffers = DecodeBuffers(self.sizes[-1], max_blocks_per_seq, device, block_size, ordered)
        self.outputs = torch.zeros(self.sizes[-1], hidden_size, dtype=dtype, device=device)
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.pool: tuple[int, int] | None = None

    @torch.inference_mode()
    def capture(self, model_fn: ModelFn) -> None:
        """Largest first, so the smaller graphs reuse the first one's pool. The garbage collector is
        paused meanwhile: freeing an earlier engine's graphs mid-capture is an illegal CUDA call."""
        gc.collect()
        gc.disable()
        try:
            self._capture_all(model_fn)
        finally:
            gc.enable()

    def _capture_all(self, model_fn: ModelFn) -> None:
        b = self.buffers
        for bs in reversed(self.sizes):
            meta = b.meta(bs)
            self.outputs[:bs] = model_fn(b.input_ids[:bs], b.positions[:bs], meta)  # warm-up (compiles)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, self.pool):
                self.outputs[:bs] = model_fn(b.input_ids[:bs], b.positions[:bs], meta)
            if self.pool is None:
                self.pool = graph.pool()
            self.graphs[bs] = graph
            if PRELAUNCH:  # the same work as the warm-up call above, on the same buffers
                graph.replay()
            torch.cuda.synchronize()

    def can_run(self, num_seqs: int, block_table_width: int) -> bool:
        return (
            bool(self.graphs)
            and padded_batch_size(num_seqs, self.sizes) is not None
            and block_table_width <= self.buffers.block_tables.shape[1]
        )

    def run(self, input_ids: torch.Tensor, positions: torch.Tensor, meta: AttentionMetadata) -> torch.Tensor:
        """Hidden states [n, hidden] of a decode batch (one new token per sequence)."""
        n = input_ids.shape[0]
        bs = padded_batch_size(n, self.sizes)
        assert bs is not None and meta.max_query_len == 1 and meta.seq_lens.shape[0] == n
        self.buffers.fill(input_ids, positions, meta, bs)
        self.graphs[bs].replay()
        return self.outputs[:n]
