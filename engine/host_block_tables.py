"""The scheduled sequences' block tables as rows of one int32 host matrix, kept between steps.

Converting every table from Python lists each step costs ~60 ns per block id (a 256-sequence decode step
of ~1k-token contexts: ~18k ids). Here a row is written once and then only extended: a decode step copies
the block ids added since a sequence's last step (one every block_size steps), then gathers the rows.

A sequence's table only grows between resets, and BlockManager.free gives it a new list: a row that
mirrors another list object is rewritten. Rows of sequences that left are reclaimed when rows run out.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq

import numpy as np

from engine.sequence import Sequence


def padded_width(max_len: int) -> int:
    """Block tables are padded to a multiple of 16 columns: one Triton specialisation of the row stride."""
    return -(-max_len // 16) * 16


def pad_block_tables(tables: Seq[list[int]]) -> np.ndarray:
    """int32 [S, padded_width] of plain lists, padded with 0 (one conversion per row)."""
    bt = np.zeros((len(tables), padded_width(max((len(t) for t in tables), default=0))), dtype=np.int32)
    for i, t in enumerate(tables):
        bt[i, : len(t)] = t
    return bt


class HostBlockTables:
    def __init__(self, max_rows: int, width: int = 64) -> None:
        self.matrix = np.zeros((max_rows, width), dtype=np.int32)
        self.row_of: dict[int, int] = {}  # seq_id -> row
        self.mirrors: list[list[int] | None] = [None] * max_rows  # the list object each row copies
        self.filled = [0] * max_rows  # how many of its ids are in the row (the rest of the row is 0)
        self.free_rows = list(range(max_rows - 1, -1, -1))

    def gather(self, seqs: list[Sequence]) -> np.ndarray:
        """int32 [len(seqs), padded_width] of the sequences' block tables, padded with 0."""
        rows = np.empty(len(seqs), dtype=np.int64)
        longest = 0
        row_of, mirrors, filled = self.row_of, self.mirrors, self.filled
        for i, s in enumerate(seqs):
            table = s.block_table
            n = len(table)
            row = row_of.get(s.seq_id)
            if row is None:
                row = self._assign(s.seq_id, seqs)
            if mirrors[row] is not table or n < filled[row]:  # a new sequence, or its table was reset
                self.matrix[row, : filled[row]] = 0
                mirrors[row], filled[row] = table, 0
            done = filled[row]
            if n > done:
                if n > self.matrix.shape[1]:
                    self._widen(n)
                self.matrix[row, done:n] = table[done:n]
                filled[row] = n
            rows[i] = row
            if n > longest:
                longest = n
        return self.matrix[rows, : padded_width(longest)]

    def _assign(self, seq_id: int, seqs: list[Sequence]) -> int:
        if not self.free_rows:  # reclaim the rows of sequences not in this step
            keep = {s.seq_id for s in seqs}
            for sid in [sid for sid in self.row_of if sid not in keep]:
                row = self.row_of.pop(sid)
                self.matrix[row, : self.filled[row]] = 0
                self.mirrors[row], self.filled[row] = None, 0
                self.free_rows.append(row)
            if not self.free_rows:
                self._grow()
        row = self.free_rows.pop()
        self.row_of[seq_id] = row
        return row

    def _widen(self, n: int) -> None:
        rows, width = self.matrix.shape
        wider = np.zeros((rows, max(2 * width, padded_width(n))), dtype=np.int32)
        wider[:, :width] = self.matrix
        self.matrix = wider

    def _grow(self) -> None:
        rows, width = self.matrix.shape
        self.matrix = np.concatenate([self.matrix, np.zeros((rows, width), dtype=np.int32)])
        self.mirrors += [None] * rows
        self.filled += [0] * rows
        self.free_rows = list(range(2 * rows - 1, rows - 1, -1))
