"""The continuous-batching scheduler, driven without a model: tokens are appended as if sampled."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

from engine.block_manager import BlockManager
from engine.sampling_params import SamplingParams
from engine.scheduler import Scheduler, SchedulerOutput
from engine.sequence import Sequence, SequenceStatus

BS = 4


def run(
    prompts: list[list[int]], max_tokens: int, num_blocks: int, max_num_seqs: int, budget: int
) -> tuple[Scheduler, list[SchedulerOutput], list[Sequence]]:
    bm = BlockManager(num_blocks, BS)
    sched = Scheduler(bm, max_num_seqs, budget)
    params = SamplingParams(max_tokens=max_tokens)
    seqs = [Sequence(f"r{i}", 0, list(p), params) for i, p in enumerate(prompts)]
    for seq in seqs:
        sched.add(seq)
    steps = []
    while sched.has_unfinished():
        out = sched.schedule()
        assert out.seqs, "the scheduler stalled"
        assert out.total_tokens <= budget
        assert len(sched.running) <= max_num_seqs
        assert len({id(s) for s in out.seqs}) == len(out.seqs)
        for seq, n in zip(out.seqs, out.num_scheduled_tokens, strict=True):
            assert 0 < n <= seq.num_tokens - seq.num_computed_tokens
        sched.update_after_step(out)
        for seq in out.seqs:
            if seq.num_computed_tokens == seq.num_tokens:
                seq.token_ids.append(7)
                if seq.num_output_tokens >= max_tokens:
                    sched.finish(seq)
        steps.append(out)
        assert len(steps) < 10_000
    return sched, steps, seqs


def test_prefill_and_decode_share_a_step_and_long_prompts_are_chunked() -> None:
    prompts = [[1] * 3, [2] * 30]
    sched, steps, seqs = run(prompts, max_tokens=4, num_blocks=64, max_num_seqs=8, budget=8)
    assert steps[0].num_scheduled_tokens == [3, 5]
    assert steps[1].seqs == seqs and steps[1].num_scheduled_tokens == [1, 7]
    assert all(s.num_output_tokens == 4 for s in seqs)
    assert sched.block_manager.num_free_blocks == 64


def test_max_num_seqs_caps_the_running_set() -> None:
    sched, steps, _ = run([[i] * 5 for i in range(6)], max_tokens=3, num_blocks=64, max_num_seqs=2, budget=64)
    assert max(len(s.seqs) for s in steps) == 2
    assert sched.block_manager.num_free_blocks == 64


def test_preemption_recomputes_the_last_running_sequence_first_come_first_served() -> None:
    prompts = [[i % 7] * 6 for i in range(4)]
    sched, steps, seqs = run(prompts, max_tokens=10, num_blocks=8, max_num_seqs=8, budget=64)
    assert sched.num_preemptions > 0
    assert all(s.status is SequenceStatus.FINISHED and s.num_output_tokens == 10 for s in seqs)
    finish_order = []
    for out in steps:
        for s in out.seqs:
            if s.status is SequenceStatus.FINISHED and s not in finish_order:
                finish_order.append(s)
    assert finish_order[0] is seqs[0]
    assert sched.block_manager.num_free_blocks == 8


def test_shared_prefix_hits_after_the_first_request_computed_it() -> None:
    prefix = list(range(12))
    prompts = [[*prefix, 1, 2], [*prefix, 3]]
    sched, steps, _ = run(prompts, max_tokens=2, num_blocks=32, max_num_seqs=1, budget=64)
    assert sched.block_manager.prefix_cache_hits == 12
    assert steps[2].num_scheduled_tokens == [1]  # only the new token of the second prompt


@settings(max_examples=40, deadline=None)
@given(
    lens=st.lists(st.integers(1, 20), min_size=1, max_size=6),
    max_tokens=st.integers(1, 6),
    num_blocks=st.integers(7, 20),
    max_num_seqs=st.integers(1, 4),
    budget=st.integers(1, 16),
)
def test_everything_finishes_and_every_block_comes_back(
    lens: list[int], max_tokens: int, num_blocks: int, max_num_seqs: int, budget: int
) -> None:
    prompts = [[(i + j) % 3 for j in range(n)] for i, n in enumerate(lens)]
    sched, _, seqs = run(prompts, max_tokens, num_blocks, max_num_seqs, budget)
    assert all(s.num_output_tokens == max_tokens for s in seqs)
    assert sched.block_manager.num_free_blocks == num_blocks
    assert all(b.ref_count == 0 for b in sched.block_manager.blocks)
