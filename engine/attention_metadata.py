"""The per-step attention context: which new tokens belong to which sequence, and where their K/V live."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(slots=True)
class AttentionMetadata:
    query_start_loc: torch.Tensor  # int32[S+1], cumulative new tokens per sequence
    seq_lens: torch.Tensor  # int32[S], context length after this step (cached + new)
    slot_mapping: torch.Tensor  # int64[T], block_id * block_size + offset; -1 = do not store
    block_tables: torch.Tensor  # int32[S, max_blocks], padded with 0
    max_query_len: int
    max_seq_len: int
    # int32[S], decode only: the rows longest context first; the decode kernels start those programs
    # first (engine/kernels/decode_attention.py decode_program). None: row order.
    decode_order: torch.Tensor | None = None

    @property
    def num_seqs(self) -> int:
        return self.seq_lens.numel()

    @property
    def is_decode_only(self) -> bool:
        return self.max_query_len == 1


def build_attention_metadata(
    query_lens: list[int],
    seq_lens: list[int],
    block_tables: list[list[int]],
    block_size: int,
    device: torch.device | str = "cpu",
) -> AttentionMetadata:
    """Metadata for a batch where sequence i adds query_lens[i] new tokens, ending at seq_lens[i].

    The new tokens of sequence i sit at positions seq_lens[i] - query_lens[i] ... seq_lens[i] - 1.
    """
    query_start_loc = [0]
    slot_mapping: list[int] = []
    for query_len, seq_len, table in zip(query_lens, seq_lens, block_tables, strict=True):
        query_start_loc.append(query_start_loc[-1] + query_len)
        for pos in range(seq_len - query_len, seq_len):
            slot_mapping.append(table[pos // block_size] * block_size + pos % block_size)
    max_blocks = max((len(t) for t in block_tables), default=0)
    padded = [t + [0] * (max_blocks - len(t)) for t in block_tables]
    return AttentionMetadata(
        query_start_loc=torch.tensor(query_start_loc, dtype=torch.int32, device=device),
        seq_lens=torch.tensor(seq_lens, dtype=torch.int32, device=device),
        slot_mapping=torch.tensor(slot_mapping, dtype=torch.int64, device=device),
        block_tables=torch.tensor(padded, dtype=torch.int32, device=device).reshape(len(padded), max_blocks),
        max_query_len=max(query_lens, default=0),
        max_seq_len=max(seq_lens, default=0),
    )


def longest_first(seq_lens: np.ndarray | list[int]) -> np.ndarray:
    """AttentionMetadata.decode_order on the host: the rows by context length, longest first, ties in row
    order (int32)."""
    return np.argsort(-np.asarray(seq_lens, dtype=np.int64), kind="stable").astype(np.int32)
