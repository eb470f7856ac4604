"""On a CUDA GPU: the paged kernels with a sliding window and soft-capping (bf16, head_dim 128 and 256,
Gemma-sized windows) against the PyTorch reference in float32.

Run: `pytest tests/gpu/test_sliding_window_gpu.py -m gpu -q` (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

from engine.attention_metadata import build_attention_metadata  # noqa: E402
from engine.kernels import paged_attention  # noqa: E402
from engine.layers import attention as ref  # noqa: E402


def make_batch(query_lens, seq_lens, num_kv_heads, head_dim, block_size=16, seed=0):
    gen = torch.Generator(device="cuda").manual_seed(seed)
    needed = [-(-s // block_size) for s in seq_lens]
    num_blocks = sum(needed) + 1
    perm = (torch.randperm(num_blocks - 1, device="cuda", generator=gen) + 1).tolist()
    tables, start = [], 0
    for n in needed:
        tables.append(perm[start : start + n])
        start += n
    shape = (2, num_blocks, block_size, num_kv_heads, head_dim)
    cache = torch.zeros(shape, device="cuda", dtype=torch.bfloat16)
    full = build_attention_metadata(seq_lens, seq_lens, tables, block_size, device="cuda")
    n = full.slot_mapping.numel()
    k = torch.randn(n, num_kv_heads, head_dim, device="cuda", generator=gen).to(torch.bfloat16)
    v = torch.randn(n, num_kv_heads, head_dim, device="cuda", generator=gen).to(torch.bfloat16)
    ref.store_kvcache(k, v, cache, full.slot_mapping)
    return cache, build_attention_metadata(query_lens, seq_lens, tables, block_size, device="cuda")


@pytest.mark.parametrize(
    ("window", "softcap", "head_dim"), [(512, None, 256), (4096, 50.0, 256), (1024, None, 128)]
)
@pytest.mark.parametrize("decode", [True, False])
def test_windowed_attention_matches_reference(window, softcap, head_dim, decode) -> None:
    seq_lens = [300, 1500, 5000, 9000]
    query_lens = [1] * 4 if decode else [300, 700, 1, 2000]
    cache, meta = make_batch(query_lens, seq_lens, num_kv_heads=4, head_dim=head_dim)
    q = torch.randn(sum(query_lens), 8, head_dim, device="cuda").to(torch.bfloat16)
    scale = head_dim**-0.5
    out = paged_attention(q, cache, meta, scale, sliding_window=window, softcap=softcap)
    expected = ref.paged_attention(
        q.float(), cache.float(), meta, scale, sliding_window=window, softcap=softcap
    )
    torch.testing.assert_close(out.float(), expected, atol=2e-2, rtol=2e-2)
