"""Block accounting and prefix caching, by example and by hypothesis state machines."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.block_manager import BlockManager, hash_block, token_bytes
from engine.sampling_params import SamplingParams
from engine.sequence import Sequence

BS = 4


def make_seq(tokens: list[int]) -> Sequence:
    return Sequence("r", 0, list(tokens), SamplingParams())


def compute(bm: BlockManager, seq: Sequence, num: int | None = None) -> bool:
    computed = bm.get_computed_blocks(seq) if not seq.block_table else []
    remaining = seq.num_tokens - seq.num_computed_tokens - len(computed) * bm.block_size
    num = remaining if num is None else min(num, remaining)
    if not bm.allocate_slots(seq, num, computed):
        return False
    seq.num_computed_tokens += num
    return True


def test_prefix_hit_reuses_full_blocks_and_recomputes_the_last_token() -> None:
    bm = BlockManager(16, BS)
    a = make_seq(list(range(10)))
    assert compute(bm, a)
    assert len(a.block_table) == 3
    b = make_seq([*range(10), 99])
    assert bm.get_computed_blocks(b) == a.block_table[:2]
    exact = make_seq(list(range(8)))
    assert bm.get_computed_blocks(exact) == a.block_table[:1]
    assert compute(bm, b)
    assert b.num_cached_tokens == 8
    assert b.block_table[:2] == a.block_table[:2]
    assert bm.blocks[a.block_table[0]].ref_count == 2
    assert bm.prefix_cache_queries == 21 and bm.prefix_cache_hits == 8
    bm.free(a)
    bm.free(b)
    assert bm.num_free_blocks == 16
    assert all(block.ref_count == 0 for block in bm.blocks)


def test_cached_blocks_survive_free_and_are_evicted_least_recently_used_first() -> None:
    bm = BlockManager(4, BS)
    a = make_seq(list(range(9)))
    assert compute(bm, a)
    table = list(a.block_table)
    bm.free(a)
    # the unhashed partial block goes first, then a's blocks last to first
    assert list(bm.free_block_ids)[:1] == [table[2]]
    assert list(bm.free_block_ids)[-2:] == [table[1], table[0]]
    assert bm.get_computed_blocks(make_seq(list(range(9)))) == table[:2]
    c = make_seq([50 + i for i in range(12)])
    assert compute(bm, c)
    # three new blocks: the free one and the partial block, then a's second block was evicted
    assert bm.get_computed_blocks(make_seq(list(range(9)))) == table[:1]


def test_incremental_hashes_are_the_block_by_block_chain() -> None:
    # Hashed in runs (a prompt, then one block as decoding fills it): the same chain as hash_block.
    bm = BlockManager(16, BS)
    seq = make_seq([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5])
    assert len(bm.block_hashes(seq, 2)) == 2
    seq.token_ids += [8, 9, 7]
    hashes = bm.block_hashes(seq, 9)  # only full blocks
    parent, chain = None, []
    for i in range(3):
        parent = hash_block(parent, seq.token_ids[i * BS : (i + 1) * BS])
        chain.append(parent)
    assert hashes == chain


def test_collisions_are_checked_against_the_block_tokens() -> None:
    bm = BlockManager(8, BS)
    a = make_seq(list(range(9)))
    assert compute(bm, a)
    bm.blocks[a.block_table[0]].tokens = token_bytes([7, 7, 7, 7], 0, 4)
    assert bm.get_computed_blocks(make_seq(list(range(9)))) == []


def test_allocation_fails_cleanly_when_out_of_blocks() -> None:
    bm = BlockManager(2, BS)
    a = make_seq(list(range(12)))
    assert not compute(bm, a)
    assert a.block_table == [] and bm.num_free_blocks == 2
    assert compute(bm, a, 8)
    assert not compute(bm, a)
    assert a.num_computed_tokens == 8 and bm.num_free_blocks == 0


def test_prefix_caching_off_never_hits() -> None:
    bm = BlockManager(8, BS, enable_prefix_caching=False)
    a = make_seq(list(range(9)))
    assert compute(bm, a)
    assert bm.get_computed_blocks(make_seq(list(range(9)))) == []
    assert bm.hash_to_block == {}


class BlockManagerMachine(RuleBasedStateMachine):
    """Random allocate / chunk / append / fork / preempt / free; a fake KV store checks the contents."""

    def __init__(self) -> None:
        super().__init__()
        self.bm = BlockManager(12, BS)
        self.live: list[Sequence] = []
        self.kv: dict[int, list[int | None]] = {}

    def _write(self, seq: Sequence, start: int, end: int) -> None:
        for pos in range(start, end):
            block = seq.block_table[pos // BS]
            self.kv.setdefault(block, [None] * BS)[pos % BS] = seq.token_ids[pos]

    def _compute(self, seq: Sequence, num: int) -> None:
        start = seq.num_computed_tokens
        had_blocks = bool(seq.block_table)
        computed = self.bm.get_computed_blocks(seq) if not had_blocks else []
        remaining = seq.num_tokens - start - len(computed) * BS
        num = min(num, remaining)
        if self.bm.allocate_slots(seq, num, computed):
            begin = seq.num_computed_tokens
            seq.num_computed_tokens += num
            self._write(seq, begin, begin + num)

    @rule(tokens=st.lists(st.integers(0, 2), min_size=1, max_size=14))
    def add(self, tokens: list[int]) -> None:
        self.live.append(make_seq(tokens))

    @precondition(lambda self: self.live)
    @rule(data=st.data(), extra=st.lists(st.integers(0, 2), max_size=6))
    def fork(self, data: st.DataObject, extra: list[int]) -> None:
        parent = data.draw(st.sampled_from(self.live))
        self.live.append(make_seq(parent.token_ids + extra))

    @precondition(lambda self: self.live)
    @rule(data=st.data(), num=st.integers(1, 8))
    def schedule_chunk(self, data: st.DataObject, num: int) -> None:
        seq = data.draw(st.sampled_from(self.live))
        if seq.num_computed_tokens < seq.num_tokens:
            self._compute(seq, num)

    @precondition(lambda self: self.live)
    @rule(data=st.data(), token=st.integers(0, 2))
    def append(self, data: st.DataObject, token: int) -> None:
        seq = data.draw(st.sampled_from(self.live))
        if seq.block_table and seq.num_computed_tokens == seq.num_tokens:
            seq.token_ids.append(token)
            self._compute(seq, 1)

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def preempt(self, data: st.DataObject) -> None:
        self.bm.free(data.draw(st.sampled_from(self.live)))

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def free(self, data: st.DataObject) -> None:
        seq = data.draw(st.sampled_from(self.live))
        self.bm.free(seq)
        self.live.remove(seq)

    @invariant()
    def accounting_is_exact(self) -> None:
        bm = self.bm
        refs = [0] * bm.num_blocks
        for seq in self.live:
            assert len(set(seq.block_table)) == len(seq.block_table)
            assert len(seq.block_table) == -(-seq.num_computed_tokens // BS)
            for b in seq.block_table:
                refs[b] += 1
        assert refs == [block.ref_count for block in bm.blocks]
        assert set(bm.free_block_ids) == {b for b, r in enumerate(refs) if r == 0}
        for h, b in bm.hash_to_block.items():
            assert bm.blocks[b].hash == h

    @invariant()
    def shared_blocks_are_cached_prefixes_with_the_right_contents(self) -> None:
        holders: dict[int, int] = {}
        for seq in self.live:
            for pos in range(seq.num_computed_tokens):
                assert self.kv[seq.block_table[pos // BS]][pos % BS] == seq.token_ids[pos]
            for b in seq.block_table:
                holders[b] = holders.get(b, 0) + 1
        for b, n in holders.items():
            if n > 1:
                assert self.bm.blocks[b].hash is not None

    def teardown(self) -> None:
        for seq in self.live:
            self.bm.free(seq)
        assert self.bm.num_free_blocks == self.bm.num_blocks
        assert all(block.ref_count == 0 for block in self.bm.blocks)


BlockManagerMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestBlockManagerMachine = pytest.mark.slow(BlockManagerMachine.TestCase)  # hypothesis: ~3 s


def test_prompt_arrays_give_the_same_hashes_and_hits() -> None:
    # EngineCore.add gives sequences an int64 prompt array; hashing and hit checks slice it instead
    from engine.sequence import int64_array

    prompt = [5, 3, 8, 1, 9, 9, 2, 7, 4, 4, 6]
    plain, arrayed = BlockManager(16, BS), BlockManager(16, BS)
    a = make_seq(prompt)
    b = Sequence("r", 0, list(prompt), SamplingParams(), prompt_array=int64_array(prompt))
    assert compute(plain, a) and compute(arrayed, b)
    b.token_ids += [1, 2]  # output tokens past the prompt array
    a.token_ids += [1, 2]
    assert arrayed.block_hashes(b, 3) == plain.block_hashes(a, 3)
    c = Sequence("r", 0, [*prompt, 1, 0], SamplingParams(), prompt_array=int64_array([*prompt, 1, 0]))
    assert compute(arrayed, b, 2)
    assert arrayed.get_computed_blocks(c) == b.block_table[:3]


def test_reset_prefix_cache_forgets_cached_blocks_only_when_idle() -> None:
    bm = BlockManager(8, BS)
    a = make_seq(list(range(9)))
    assert compute(bm, a)
    assert not bm.reset_prefix_cache()  # a's blocks are in use
    bm.free(a)
    assert bm.get_computed_blocks(make_seq(list(range(9)))) != []
    assert bm.reset_prefix_cache()
    assert bm.get_computed_blocks(make_seq(list(range(9)))) == [] and bm.hash_to_block == {}
