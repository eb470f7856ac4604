"""Paged KV blocks with reference counts and automatic prefix caching (vLLM V1's block pool)."""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict
from dataclasses import dataclass

from engine.prompt_logprobs import wants
from engine.sequence import Sequence


@dataclass(slots=True)
class Block:
    block_id: int
    ref_count: int = 0
    hash: bytes | None = None
    tokens: bytes = b""  # its token ids as int64 bytes (token_bytes), checked on every prefix hit


def token_bytes(token_ids: list[int], start: int, end: int) -> bytes:
    """token_ids[start:end] as native int64 bytes: one conversion for a run of blocks."""
    return array("q", token_ids[start:end]).tobytes()


def seq_token_bytes(seq: Sequence, start: int, end: int) -> bytes:
    """token_bytes of seq's tokens [start, end), from its prompt's int64 array where it covers them."""
    return seq.token_array(start, end).tobytes()


def hash_block(parent: bytes | None, token_ids: list[int]) -> bytes:
    """sha256(parent digest + the block's int64 token bytes): a block's hash covers its whole prefix."""
    return hashlib.sha256((parent or b"") + token_bytes(token_ids, 0, len(token_ids))).digest()


def salt_digest(cache_salt: str | None) -> bytes | None:
    """The first block's parent for a salted sequence (vLLM's cache_salt): chains of different salts
    never share a block, so one tenant cannot probe another's prompts by timing prefix hits."""
    if cache_salt is None:
        return None
    return hashlib.sha256(b"teecube-cache-salt\x00" + cache_salt.encode("utf-8", "surrogatepass")).digest()


class BlockManager:
    """Free blocks sit in an LRU queue: allocation pops the head, a freed cached block goes to the tail."""

    def __init__(self, num_blocks: int, block_size: int, enable_prefix_caching: bool = True) -> None:
        self.block_size = block_size
        self.enable_prefix_caching = enable_prefix_caching
        self.blocks = [Block(i) for i in range(num_blocks)]
        self.free_block_ids: OrderedDict[int, None] = OrderedDict.fromkeys(range(num_blocks))
        self.hash_to_block: dict[bytes, int] = {}
        self.prefix_cache_queries = 0
        self.prefix_cache_hits = 0

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @property
    def num_free_blocks(self) -> int:
        return len(self.free_block_ids)

    def block_hashes(
        self, seq: Sequence, num_full_blocks: int, data: bytes | None = None, data_block: int = 0
    ) -> list[bytes]:
        """Hashes of seq's first num_full_blocks blocks (at most those whose tokens are all known).
        data: seq's token bytes from block data_block (at most the first unhashed one) on, when the
        caller has them."""
        bs = self.block_size
        num_full_blocks = min(num_full_blocks, len(seq.token_ids) // bs)
        hashes = seq.block_hashes
        first = len(hashes)
        if num_full_blocks <= first:
            return hashes
        step = 8 * bs
        if data is None or data_block > first:
            data, data_block = seq_token_bytes(seq, first * bs, num_full_blocks * bs), first
        start = (first - data_block) * step
        parent = hashes[-1] if hashes else salt_digest(seq.params.cache_salt) or b""
        sha256, append = hashlib.sha256, hashes.append
        for off in range(start, start + (num_full_blocks - first) * step, step):  # hash_block, unrolled
            parent = sha256(parent + data[off : off + step]).digest()
            append(parent)
        return hashes

    def get_computed_blocks(self, seq: Sequence) -> list[int]:
        """The longest run of cached full blocks of seq's prefix; the last token is always recomputed."""
        if not self.enable_prefix_caching or (seq.params.prompt_logprobs is not None and wants(seq)):
            return []  # prompt logprobs still to compute: every prompt token runs through the model
        bs = self.block_size
        num_full = (seq.num_tokens - 1) // bs
        num_full = min(num_full, len(seq.token_ids) // bs)
        if num_full <= 0:
            return []
        step = 8 * bs
        hashes = seq.block_hashes
        data = None  # seq's token bytes: hashed once, and checked on each hit
        if len(hashes) < num_full:
            data = seq_token_bytes(seq, 0, num_full * bs)
            self.block_hashes(seq, num_full, data)
        ids = list(map(self.hash_to_block.get, hashes[:num_full]))
        num_hit = ids.index(None) if None in ids else num_full
        if num_hit == 0:
            return []
        if data is None:
            data = seq_token_bytes(seq, 0, num_full * bs)
        blocks = self.blocks
        if b"".join([blocks[b].tokens for b in ids[:num_hit]]) != data[: num_hit * step]:
            # a hash hit whose tokens differ: the hit ends before the first such block
            num_hit = next(
                i for i in range(num_hit) if blocks[ids[i]].tokens != data[i * step : (i + 1) * step]
            )
        return ids[:num_hit]

    def allocate_slots(
        self, seq: Sequence, num_new_tokens: int, computed_blocks: list[int] | None = None
    ) -> bool:
        """Give seq the blocks it needs for num_new_tokens more tokens (after any prefix hit), or fail."""
        bs = self.block_size
        table = seq.block_table
        if not computed_blocks:
            end = seq.num_computed_tokens + num_new_tokens
            if table and end <= len(table) * bs:  # fits its blocks (most decode steps): nothing to allocate
                if end // bs > seq.num_hashed_blocks:
                    self.cache_full_blocks(seq, end // bs)
                return True
            computed_blocks = []
        num_computed = seq.num_computed_tokens + len(computed_blocks) * bs
        num_needed = -(-(num_computed + num_new_tokens) // bs) - len(table) - len(computed_blocks)
        blocks, free = self.blocks, self.free_block_ids
        revived = [b for b in computed_blocks if blocks[b].ref_count == 0]  # cached, but in the free queue
        if max(num_needed, 0) + len(revived) > len(free):
            return False
        if not table and self.enable_prefix_caching:
            self.prefix_cache_queries += seq.num_tokens
            self.prefix_cache_hits += len(computed_blocks) * bs
        for block_id in revived:
            del free[block_id]
        for block_id in computed_blocks:
            blocks[block_id].ref_count += 1
        if computed_blocks:
            table += computed_blocks
            seq.num_computed_tokens = num_computed
            seq.num_cached_tokens = max(seq.num_cached_tokens, num_computed)
            seq.num_hashed_blocks = len(computed_blocks)
        hash_to_block = self.hash_to_block
        for _ in range(num_needed):
            block_id, _ = free.popitem(last=False)
            block = blocks[block_id]
            if block.hash is not None:
                if hash_to_block.get(block.hash) == block_id:
                    del hash_to_block[block.hash]
                block.hash, block.tokens = None, b""
            block.ref_count = 1
            table.append(block_id)
        self.cache_full_blocks(seq, (num_computed + num_new_tokens) // bs)
        return True

    def cache_full_blocks(self, seq: Sequence, num_full: int) -> None:
        """Publish seq's first num_full blocks to the prefix cache. Called at allocation (as vLLM does):
        the step that allocates a block computes it, and each layer stores K/V before it attends."""
        if not self.enable_prefix_caching:
            return
        bs = self.block_size
        num_full = min(num_full, len(seq.token_ids) // bs)  # a block with a token in flight waits
        if num_full <= seq.num_hashed_blocks:
            return
        first, step = seq.num_hashed_blocks, 8 * bs
        data = seq_token_bytes(seq, first * bs, num_full * bs)
        hashes = self.block_hashes(seq, num_full, data, first)
        hash_to_block, blocks, table = self.hash_to_block, self.blocks, seq.block_table
        for i in range(first, num_full):
            h = hashes[i]
            if h in hash_to_block:
                continue
            block = blocks[table[i]]
            off = (i - first) * step
            block.hash, block.tokens = h, data[off : off + step]
            hash_to_block[h] = block.block_id
        seq.num_hashed_blocks = num_full

    def free(self, seq: Sequence) -> None:
        """Release seq's blocks, last first, so its least shareable blocks are evicted first."""
        for block_id in reversed(seq.block_table):
            block = self.blocks[block_id]
            block.ref_count -= 1
            if block.ref_count == 0:
                self.free_block_ids[block_id] = None
                if block.hash is None:
                    self.free_block_ids.move_to_end(block_id, last=False)
        seq.block_table = []  # a new list: engine/host_block_tables.py tells a reset table by identity
        seq.num_computed_tokens = 0
        seq.num_hashed_blocks = 0

    def reset_prefix_cache(self) -> bool:
        """Forget every cached block (vLLM's reset_prefix_cache); only while no block is in use."""
        if len(self.free_block_ids) != len(self.blocks):
            return False
        for block in self.blocks:
            block.hash, block.tokens = None, b""
        self.hash_to_block.clear()
        return True

    def usage(self) -> float:
        return 1.0 - len(self.free_block_ids) / max(len(self.blocks), 1)
