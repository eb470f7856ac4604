"""FP8 KV cache under the Triton interpreter: the store kernel writes e4m3 codes of k / k_scale, and the
decode and extend kernels read them as code * scale, against the PyTorch reference (fp32 maths). Also the
Triton per-token activation quantizer of the FP8 GEMM against its PyTorch twin.

The interpreter's float -> e4m3 conversion is not the GPU's: it flushes subnormals, rounds ties away
from even and loses the carry when rounding up crosses a power of two (127.9 -> 64, where torch and the
GPU give 128). So the kernels that convert are fed values exactly representable after scaling (power-of-
two scales), where any correct conversion is exact; rounding itself is checked on the GPU
(tests/gpu/test_fp8_gpu.py). What the attention kernels read is compared to fp32 rounding."""

from __future__ import annotations

import pytest
import torch
import triton
import triton.language as tl

from engine.kernels import decode_attention, extend_attention, paged_attention, store_kvcache
from engine.kernels.decode_attention import tile_to
from engine.layers import attention as ref
from engine.quantization.fp8 import FP8_DTYPE, FP8_MAX, quantize_per_tensor, quantize_per_token, to_fp8
from engine.quantization.kernels import quantize_rows
from tests.kernels.test_paged_attention import make_batch


def representable(shape: tuple[int, ...], scale: float, seed: int) -> torch.Tensor:
    """Random values that are normal (not subnormal) e4m3 codes times scale: x / scale converts exactly."""
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 40
    x = x.sign() * x.abs().clamp(min=2.0**-5)
    return x.to(FP8_DTYPE).float() * scale


@pytest.mark.parametrize("k_scale,v_scale", [(1.0, 1.0), (0.0625, 0.5)])
def test_store_writes_fp8_codes_of_the_scaled_values(k_scale: float, v_scale: float) -> None:
    num_blocks, block_size, heads, head_dim, tokens = 5, 4, 2, 16, 9
    slots = torch.randperm(num_blocks * block_size, generator=torch.Generator().manual_seed(0))[:tokens]
    slots[3] = -1
    # k and v as strided views of one qkv output
    qkv = torch.stack(
        [torch.zeros(tokens, heads, head_dim)]
        + [representable((tokens, heads, head_dim), s, i) for i, s in ((1, k_scale), (2, v_scale))],
        dim=1,
    )
    k, v = qkv[:, 1], qkv[:, 2]
    k[0, 0, 0] = 1e4  # saturates to the 448 code instead of NaN
    cache = torch.zeros(2, num_blocks, block_size, heads, head_dim, dtype=FP8_DTYPE)
    expected = cache.clone()
    store_kvcache(k, v, cache, slots, k_scale, v_scale)
    ref.store_kvcache(k, v, expected, slots, k_scale, v_scale)
    assert torch.equal(cache.view(torch.uint8), expected.view(torch.uint8))
    flat = cache.view(2, -1, heads, head_dim).float()
    assert flat[0, slots[0], 0, 0] == FP8_MAX
    torch.testing.assert_close(flat[1, slots[1]] * v_scale, v[1], rtol=0, atol=0)  # exact round trip
    written = torch.zeros(num_blocks * block_size, dtype=torch.bool)
    written[slots[slots >= 0]] = True
    assert (flat[:, ~written] == 0).all()
    assert (flat[:, written] != 0).any()


def fp8_batch(query_lens: list[int], seq_lens: list[int], scales: tuple[float, float], **kw):
    """make_batch's NaN-padded fp32 cache as FP8 codes, and that cache dequantized (NaN -> 0)."""
    cache, meta = make_batch(query_lens, seq_lens, **kw)
    codes = torch.stack([to_fp8(cache[0], scales[0]), to_fp8(cache[1], scales[1])])
    assert codes.dtype == FP8_DTYPE and codes.float().isnan().any()  # unwritten slots stay NaN
    dense = codes.float() * torch.tensor(scales).view(2, 1, 1, 1, 1)
    return codes, dense.nan_to_num(0.0), meta


SCALES = [(1.0, 1.0), (0.02, 0.5)]


@pytest.mark.parametrize("scales", SCALES)
@pytest.mark.parametrize("group", [1, pytest.param(4, marks=pytest.mark.slow)])
@pytest.mark.parametrize("fp8_path", ["new", "old"])
def test_decode_reads_the_fp8_cache(scales: tuple[float, float], group: int, fp8_path: str) -> None:
    seq_lens = [1, 13, 0, 40]
    codes, dense, meta = fp8_batch([1, 1, 0, 1], seq_lens, scales, num_kv_heads=2, head_dim=16)
    q = torch.randn(4, 2 * group, 16, generator=torch.Generator().manual_seed(1))
    kw = dict(k_scale=scales[0], v_scale=scales[1], fp8_path=fp8_path)
    out = decode_attention(q, codes, meta.block_tables, meta.seq_lens, 0.25, num_splits=4, **kw)
    expected = ref.paged_attention(q, dense, meta, 0.25)
    assert not out.isnan().any()
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)  # fp32 q: fp32 tiles on either path
    # fp16 tiles (q rounded to fp16, probabilities too) and 16-token tiles: the new path takes them for a
    # 16-bit q, the old one with f16_math
    q16 = q.half() if fp8_path == "new" else q
    out = decode_attention(
        q16, codes, meta.block_tables, meta.seq_lens, 0.25, num_splits=2, block_n=16, f16_math=True, **kw
    )
    assert out.dtype == q16.dtype
    torch.testing.assert_close(out.float(), expected, atol=2e-2, rtol=2e-2)


def test_decode_fp8_cache_with_a_sliding_window_and_softcap() -> None:
    seq_lens, scales = [30, 9, 21], (0.02, 0.5)
    codes, dense, meta = fp8_batch([1, 1, 1], seq_lens, scales, num_kv_heads=2, head_dim=16)
    q = torch.randn(3, 4, 16, generator=torch.Generator().manual_seed(5))
    kw = dict(sliding_window=7, softcap=3.0)
    out = decode_attention(
        q, codes, meta.block_tables, meta.seq_lens, 0.5, num_splits=2, block_n=16, k_scale=0.02, v_scale=0.5,
        **kw,
    )
    torch.testing.assert_close(out, ref.paged_attention(q, dense, meta, 0.5, **kw), atol=1e-5, rtol=1e-5)


@triton.jit
def _tile_to_kernel(x_ptr, out_ptr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    offs = tl.arange(0, BLOCK_N)[:, None] * BLOCK_D + tl.arange(0, BLOCK_D)[None, :]
    tl.store(out_ptr + offs, tile_to(tl.load(x_ptr + offs), out_ptr.dtype.element_ty, BLOCK_N, BLOCK_D))


@pytest.mark.parametrize("shape", [(16, 16), (2, 128)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_tile_to_converts_every_e4m3_code_in_place(shape: tuple[int, int], dtype: torch.dtype) -> None:
    """All 256 codes, each at its own position: the split/join of the new decode path keeps the order, and
    the values are torch's: every finite e4m3 value, subnormals included, is exact in fp16. The two NaN
    codes (0x7F, 0xFF) are left out: the interpreter reads them as +-480 (the GPU's cvt gives NaN), and
    the store kernel never writes them (it saturates to +-448)."""
    codes = torch.arange(256, dtype=torch.uint8).view(FP8_DTYPE).reshape(shape)
    out = torch.empty(shape, dtype=dtype)
    _tile_to_kernel[(1,)](codes, out, BLOCK_N=shape[0], BLOCK_D=shape[1])
    expected = codes.float()
    finite = ~expected.isnan()
    assert finite.sum() == 254 and (expected.flatten()[1:8] < 2.0**-6).all()  # codes 1..7 are subnormal
    torch.testing.assert_close(out.float()[finite], expected[finite], rtol=0, atol=0)


@pytest.mark.parametrize("scales", SCALES)
def test_extend_reads_the_fp8_cache(scales: tuple[float, float]) -> None:
    # prefill, a prefix hit (extend) and decode rows in one batch
    query_lens, seq_lens = [7, 1, 5, 1], [7, 20, 18, 3]
    codes, dense, meta = fp8_batch(query_lens, seq_lens, scales, num_kv_heads=2, head_dim=32)
    q = torch.randn(sum(query_lens), 4, 32, generator=torch.Generator().manual_seed(2))
    out = extend_attention(
        q,
        codes,
        meta.block_tables,
        meta.seq_lens,
        meta.query_start_loc,
        0.2,
        k_scale=scales[0],
        v_scale=scales[1],
    )
    torch.testing.assert_close(out, ref.paged_attention(q, dense, meta, 0.2), atol=1e-5, rtol=1e-5)
    # the dispatcher passes the scales through
    torch.testing.assert_close(paged_attention(q, codes, meta, 0.2, *scales), out)


def test_reference_attention_on_an_fp8_cache_equals_the_dequantized_cache() -> None:
    query_lens, seq_lens, scales = [6, 1], [6, 11], (0.03, 0.4)
    cache, meta = make_batch(query_lens, seq_lens, num_kv_heads=1, head_dim=16)
    cache = cache.nan_to_num(0.0)
    codes = torch.stack([to_fp8(cache[0], scales[0]), to_fp8(cache[1], scales[1])])
    dense = codes.float() * torch.tensor(scales).view(2, 1, 1, 1, 1)
    q = torch.randn(7, 2, 16, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(
        ref.paged_attention(q, codes, meta, 0.25, *scales), ref.paged_attention(q, dense, meta, 0.25)
    )


def test_fp8_cache_attention_tracks_the_float_cache() -> None:
    """What FP8 costs against an fp32 cache (scale 1.0, unit-normal K/V); stored by the reference, whose
    rounding is the GPU's."""
    query_lens, seq_lens = [9, 1], [9, 30]
    cache, meta = make_batch(query_lens, seq_lens, num_kv_heads=2, head_dim=16)
    cache = cache.nan_to_num(0.0)
    codes = torch.zeros(cache.shape, dtype=FP8_DTYPE)
    flat = cache.view(2, -1, 2, 16)
    slots = torch.arange(flat.shape[1])
    ref.store_kvcache(flat[0], flat[1], codes, slots)
    q = torch.randn(10, 4, 16, generator=torch.Generator().manual_seed(4))
    got, expected = paged_attention(q, codes, meta, 0.25), ref.paged_attention(q, cache, meta, 0.25)
    cosine = torch.nn.functional.cosine_similarity(got.flatten(1), expected.flatten(1), dim=-1)
    assert cosine.min() > 0.995, cosine


@pytest.mark.parametrize("num_cols,max_block", [(48, 4096), (3000, 4096), (3000, 1024)])
def test_triton_activation_quantizer_matches_pytorch(num_cols: int, max_block: int) -> None:
    """One tile per row, and (max_block 1024) the chunked two-pass path with a ragged last chunk."""
    # rows whose max |x| is 448 * 2^e: power-of-two scales, so the codes are exact (see the docstring)
    exps = torch.tensor([-10.0, 0.0, -3.0, 2.0, 0.0, -1.0])
    x = torch.cat([representable((1, num_cols), 2.0**e, 10 + i) for i, e in enumerate(exps.tolist())])
    x = x.clamp(-FP8_MAX * 2 ** exps[:, None], FP8_MAX * 2 ** exps[:, None])
    x[torch.arange(6), torch.arange(6) * (num_cols // 7)] = FP8_MAX * 2**exps  # the row max, anywhere
    x[4] = 0.0  # an all-zero row: a finite scale, zero codes
    codes, scales = quantize_rows(x, max_block=max_block)
    expected_codes, expected_scales = quantize_per_token(x)
    assert codes.dtype == FP8_DTYPE and scales.shape == (6, 1)
    torch.testing.assert_close(scales, expected_scales, rtol=0, atol=0)
    assert torch.equal(codes.view(torch.uint8), expected_codes.view(torch.uint8))
    static, x = torch.tensor([2.0**-4]), x[1:]  # row 0 / 2^-4 would be subnormal
    codes, scales = quantize_rows(x, static, max_block=max_block)
    expected_codes, _ = quantize_per_tensor(x, static)
    assert (scales == 2.0**-4).all()
    assert torch.equal(codes.view(torch.uint8), expected_codes.view(torch.uint8))  # saturated rows too
