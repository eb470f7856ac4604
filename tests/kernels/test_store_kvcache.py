"""Triton store_kvcache vs the PyTorch reference: scrambled slots, slot -1 skipped, strided k/v."""

from __future__ import annotations

import pytest
import torch

from engine.kernels import store_kvcache
from engine.layers import attention as ref


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("num_kv_heads,head_dim", [(1, 16), (3, 24)])
def test_store_matches_reference(dtype: torch.dtype, num_kv_heads: int, head_dim: int) -> None:
    num_blocks, block_size, num_tokens = 6, 4, 9
    gen = torch.Generator().manual_seed(1)
    slots = torch.randperm(num_blocks * block_size, generator=gen)[:num_tokens]
    slots[[2, 7]] = -1
    # k and v as views into one fused qkv projection output (strided in the token dimension).
    qkv = torch.randn(num_tokens, 3, num_kv_heads, head_dim, generator=gen).to(dtype)
    k, v = qkv[:, 1], qkv[:, 2]
    cache = torch.randn(2, num_blocks, block_size, num_kv_heads, head_dim, generator=gen).to(dtype)
    expected = cache.clone()
    ref.store_kvcache(k, v, expected, slots)
    before = cache.clone()
    store_kvcache(k, v, cache, slots)
    assert torch.equal(cache, expected)
    written = torch.zeros(num_blocks * block_size, dtype=torch.bool)
    written[slots[slots >= 0]] = True
    # Every slot not named (including what -1 rows would have hit) is untouched.
    assert torch.equal(cache.view(2, -1, num_kv_heads, head_dim)[:, ~written],
                       before.view(2, -1, num_kv_heads, head_dim)[:, ~written])
    assert not torch.equal(cache, before)


def test_store_all_skipped_is_a_no_op() -> None:
    cache = torch.randn(2, 2, 4, 1, 16)
    before = cache.clone()
    store_kvcache(torch.ones(3, 1, 16), torch.ones(3, 1, 16), cache, torch.full((3,), -1))
    assert torch.equal(cache, before)
