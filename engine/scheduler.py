"""Continuous batching, vLLM V1 style: one token budget per step, running sequences first, then waiting.

A sequence's last sampled token may still be in flight (engine/engine_core.py): it counts in num_tokens,
so the sequence is scheduled for its next decode step before that token's value is known."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from engine.block_manager import BlockManager
from engine.sequence import Sequence, SequenceStatus


@dataclass(slots=True)
class SchedulerOutput:
    seqs: list[Sequence]
    num_scheduled_tokens: list[int]

    @property
    def total_tokens(self) -> int:
        return sum(self.num_scheduled_tokens)


class Scheduler:
    def __init__(self, block_manager: BlockManager, max_num_seqs: int, max_num_batched_tokens: int) -> None:
        self.block_manager = block_manager
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.num_preemptions = 0

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def has_unfinished(self) -> bool:
        return bool(self.waiting or self.running)

    def schedule(self) -> SchedulerOutput:
        bm = self.block_manager
        budget = self.max_num_batched_tokens
        out = SchedulerOutput([], [])
        preempted = False
        i = 0
        while i < len(self.running) and budget > 0:
            seq = self.running[i]
            num_new = min(seq.num_tokens - seq.num_computed_tokens, budget)
            if num_new <= 0:
                i += 1  # skipped this step; the others keep going
                continue
            while not bm.allocate_slots(seq, num_new):
                victim = self.running.pop()
                self._preempt(victim)
                preempted = True
                if victim is seq:
                    break
            else:
                out.seqs.append(seq)
                out.num_scheduled_tokens.append(num_new)
                budget -= num_new
                i += 1
        if preempted:
            return out
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            seq = self.waiting[0]
            if seq.num_inflight:
                break  # preempted while its last token was in flight: recomputed once that token is known
            computed = bm.get_computed_blocks(seq) if not seq.block_table else []
            num_new = min(seq.num_tokens - seq.num_computed_tokens - len(computed) * bm.block_size, budget)
            if not bm.allocate_slots(seq, num_new, computed):
                break
            self.waiting.popleft()
            seq.status = SequenceStatus.RUNNING
            self.running.append(seq)
            out.seqs.append(seq)
            out.num_scheduled_tokens.append(num_new)
            budget -= num_new
        return out

    def _preempt(self, seq: Sequence) -> None:
        self.block_manager.free(seq)
        seq.status = SequenceStatus.WAITING
        self.waiting.appendleft(seq)
        self.num_preemptions += 1

    def update_after_step(self, out: SchedulerOutput) -> None:
        for seq, num in zip(out.seqs, out.num_scheduled_tokens, strict=True):
            seq.num_computed_tokens += num

    def finish(self, seq: Sequence) -> None:
        """Free a finished or aborted sequence wherever it is."""
        if seq.status is SequenceStatus.RUNNING:
            self.running.remove(seq)
        elif seq.status is SequenceStatus.WAITING:
            try:
                self.waiting.remove(seq)
            except ValueError:
                pass
        self.block_manager.free(seq)
        seq.status = SequenceStatus.FINISHED
