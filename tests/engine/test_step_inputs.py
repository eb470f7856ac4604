"""ModelRunner.prepare's vectorized inputs (prompt arrays, the kept host block tables) against a per-token
reference builder, on random batches over many steps: new sequences, growing and reset block tables,
chunked prefill, decode with known tokens and with tokens still in flight."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from engine.config import EngineConfig
from engine.host_block_tables import HostBlockTables, pad_block_tables
from engine.loader import LoadedModel, ModelSpec
from engine.model_runner import ModelRunner, StepRun
from engine.sampler import SampledTokens
from engine.sampling_params import SamplingParams
from engine.scheduler import SchedulerOutput
from engine.sequence import Sequence, int64_array

BS = 4
VOCAB = 500


class NoModel(nn.Module):
    def forward(self, *args: object) -> torch.Tensor:
        raise AssertionError("prepare runs no model")


def make_runner(max_num_seqs: int) -> ModelRunner:
    spec = ModelSpec("NoModel", 1, 1, 1, 8, 8, VOCAB, 4096, [0], torch.float32)
    config = EngineConfig(
        model="none", device="cpu", block_size=BS, max_num_seqs=max_num_seqs, num_kv_blocks=4096
    )
    return ModelRunner(config, LoadedModel(NoModel(), spec, None))  # type: ignore[arg-type]


def reference(seqs: list[Sequence], nums: list[int], prev: StepRun | None) -> dict[str, list]:
    """The inputs token by token, as the list-based builder made them."""
    ids, positions, slots, cu, lens, picked = [], [], [], [0], [], []
    for s, n in zip(seqs, nums, strict=True):
        a = s.num_computed_tokens
        for pos in range(a, a + n):
            if pos < len(s.token_ids):
                ids.append(s.token_ids[pos])
            else:
                assert prev is not None
                ids.append(int(prev.tokens[prev.row_of[s.seq_id]]))
            positions.append(pos)
            slots.append(s.block_table[pos // BS] * BS + pos % BS)
        cu.append(cu[-1] + n)
        lens.append(a + n)
        if a + n == s.num_tokens:
            picked.append(cu[-1] - 1)
    width = -(-max(len(s.block_table) for s in seqs) // 16) * 16
    tables = [s.block_table + [0] * (width - len(s.block_table)) for s in seqs]
    return dict(ids=ids, positions=positions, slots=slots, cu=cu, lens=lens, picked=picked, tables=tables)


def grow_table(s: Sequence, rng: random.Random, end: int) -> None:
    while len(s.block_table) * BS < end:
        s.block_table.append(rng.randrange(4096))


@pytest.mark.parametrize("seed", range(6))
def test_prepare_matches_the_per_token_builder(seed: int) -> None:
    rng = random.Random(seed)
    runner = make_runner(max_num_seqs=4)  # few mirror rows: sequences come and go, rows are reclaimed
    live: list[Sequence] = []
    prev: StepRun | None = None
    for step in range(40):
        while len(live) < 6 or rng.random() < 0.2:  # new requests, some with a prompt array
            prompt = [rng.randrange(VOCAB) for _ in range(rng.randint(1, 40))]
            arr = int64_array(prompt) if rng.random() < 0.7 else None
            live.append(Sequence(f"r{step}", 0, list(prompt), SamplingParams(), prompt_array=arr))
        if rng.random() < 0.3:
            s = rng.choice(live)  # preempted: its table is reset (a new list, as BlockManager.free does)
            s.block_table, s.num_computed_tokens = [], 0
        batch = rng.sample(live, rng.randint(1, len(live)))
        nums = []
        for s in batch:
            if s.num_inflight and (prev is None or s.seq_id not in prev.row_of):
                s.token_ids.append(rng.randrange(VOCAB))  # its token reached the host
                s.num_inflight = 0
            remaining = s.num_tokens - s.num_computed_tokens
            if remaining == 0:
                s.token_ids.append(rng.randrange(VOCAB))
                remaining = 1
            n = rng.randint(1, remaining)
            if s.num_inflight and n < remaining:
                n = remaining  # a token in flight is scheduled with the rest of the sequence
            grow_table(s, rng, s.num_computed_tokens + n)
            nums.append(n)
        ref = reference(batch, nums, prev)
        inp = runner.prepare(SchedulerOutput(batch, nums), prev)
        assert inp.input_ids.tolist() == ref["ids"]
        assert inp.positions.tolist() == ref["positions"]
        assert inp.meta.slot_mapping.tolist() == ref["slots"]
        assert inp.meta.query_start_loc.tolist() == ref["cu"]
        assert inp.meta.seq_lens.tolist() == ref["lens"]
        assert inp.meta.block_tables.tolist() == ref["tables"]
        assert inp.sample_indices.tolist() == ref["picked"]
        assert inp.meta.max_query_len == max(nums) and inp.meta.max_seq_len == max(ref["lens"])
        for s, n in zip(batch, nums, strict=True):
            s.num_computed_tokens += n
        for s in batch:  # prev's tokens reach the host; this step's samples are now in flight
            if s.num_inflight:
                s.num_inflight = 0
                s.token_ids.append(int(prev.tokens[prev.row_of[s.seq_id]]))  # type: ignore[union-attr]
        sampled = [s for s in inp.sample_seqs]
        tokens = torch.tensor([rng.randrange(VOCAB) for _ in sampled], dtype=torch.int64)
        prev = StepRun(sampled, SampledTokens(tokens, None, [None] * len(sampled)))
        for s in sampled:
            s.num_inflight = 1
        live = [s for s in live if s.num_tokens < 120]


def test_host_block_tables_follow_growth_resets_and_reclaimed_rows() -> None:
    tables = HostBlockTables(max_rows=2, width=16)
    a, b, c = (Sequence(f"r{i}", 0, [1], SamplingParams()) for i in range(3))
    a.block_table += [5, 6]
    b.block_table += list(range(40))  # wider than the matrix
    assert tables.gather([a, b]).tolist() == pad_block_tables([a.block_table, b.block_table]).tolist()
    a.block_table.append(7)
    b.block_table = [9]  # reset
    assert tables.gather([b, a]).tolist() == [[9] + [0] * 15, [5, 6, 7] + [0] * 13]
    c.block_table += [3]
    assert tables.gather([c]).tolist() == [[3] + [0] * 15]  # a's and b's rows reclaimed
    assert tables.gather([a, c]).tolist() == [[5, 6, 7] + [0] * 13, [3] + [0] * 15]


def test_token_array_covers_prompt_and_output() -> None:
    s = Sequence("r", 0, [1, 2, 3], SamplingParams(), prompt_array=int64_array([1, 2, 3]))
    s.token_ids += [4, 5]
    assert s.token_array(1, 5).tolist() == [2, 3, 4, 5]
    assert s.token_array(3, 9).tolist() == [4, 5] and s.token_array(5, 9).tolist() == []
    assert s.token_array(0, 2).base is not None  # a view of the prompt, not a copy
    assert np.array_equal(Sequence("r", 0, [7, 8], SamplingParams()).token_array(0, 2), [7, 8])


class LogitsSpy(nn.Module):
    """Records the row count of every LM head call."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[int] = []

    def compute_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        self.rows.append(hidden.shape[0])
        return hidden.new_zeros(hidden.shape[0], VOCAB)


def test_the_lm_head_warm_up_meets_every_row_count_a_step_can_sample() -> None:
    """On CUDA the runner runs this at start-up: cuBLAS settles each row count on first sight, and some of
    those first calls waited for the GPU mid-run (docs/bench/h200-2026-12-04-session12)."""
    runner = make_runner(max_num_seqs=37)
    spy = LogitsSpy()
    runner.model = spy  # type: ignore[assignment]
    runner._warm_lm_head()
    assert spy.rows == list(range(1, 38))
