"""engine.kernels.decode_attention_fp8 (issue #19 variants of FP8-KV decode) under the interpreter, against
the PyTorch reference on the dequantized cache, and the TEECUBE_FP8_DECODE_VARIANT switch of
decode_attention.

q's rows are e4m3 codes times a power of two with one element at 448 x that power, so the variants' per-row
FP8 quantization of q is exact (the interpreter's float -> e4m3 conversion is not the GPU's: see
test_fp8_kv): what is left is the fp16 rounding of p and V, as on the reference kernel's path."""

from __future__ import annotations

import pytest
import torch

from engine.kernels.decode_attention_fp8 import NAMED_VARIANTS, decode_attention_fp8, decode_attention_variant
from engine.layers import attention as ref
from engine.quantization.fp8 import FP8_DTYPE
from tests.kernels.test_fp8_kv import fp8_batch

SCALES = (0.02, 0.5)
TOL = dict(atol=5e-3, rtol=5e-3)


def exact_fp8_rows(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    codes = (torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 40).to(FP8_DTYPE).float()
    codes[..., 1] = 448.0
    return codes * 2.0**-6


def batch(seq_lens: list[int], block_size: int = 4):
    query_lens = [1 if n else 0 for n in seq_lens]
    codes, dense, meta = fp8_batch(
        query_lens, seq_lens, SCALES, num_kv_heads=2, head_dim=16, block_size=block_size
    )
    q = exact_fp8_rows((len(seq_lens), 8, 16), seed=len(seq_lens))
    return q, codes, dense, meta


@pytest.mark.parametrize(
    "kw",
    [
        dict(transposed=True, carry_ids=True, block_n=16, num_splits=4),  # "t_ci_s3"
        dict(carry_ids=True, block_n=32, num_splits=2),  # "k16_ci_s3"
        dict(carry_ids=True, block_n=32, num_splits=1),  # no merge pass
        dict(transposed=True, q_split=True, num_stages=1, block_n=16, num_splits=2),  # "t2_s1"
        dict(page_gather=False, block_n=16, num_splits=2),  # one block id per token
        dict(transposed=True, page_gather=False, block_n=16, num_splits=2),
    ],
)
def test_fp8_decode_variant_matches_the_reference(kw: dict) -> None:
    q, codes, dense, meta = batch([1, 13, 0, 40])  # ragged, a padded row, tiles past the end
    out = decode_attention_fp8(
        q, codes, meta.block_tables, meta.seq_lens, 0.25, k_scale=0.02, v_scale=0.5, **kw
    )
    assert not out.isnan().any()  # the NaN slots of the cache were never read
    torch.testing.assert_close(out, ref.paged_attention(q, dense, meta, 0.25), **TOL)


@pytest.mark.parametrize("name", ["k16_ci_s3", "t_ci_s3", "t2_ci_s3"])  # t2: q_lo all zero (exact rows)
def test_fp8_decode_variant_with_a_sliding_window_and_softcap(name: str) -> None:
    """Tiles start on page boundaries: a window that starts inside a page masks the page's first tokens."""
    q, codes, dense, meta = batch([30, 9, 21])
    kw = dict(sliding_window=7, softcap=3.0)
    out = decode_attention_variant(name, q, codes, meta.block_tables, meta.seq_lens, 0.5, 4, *SCALES, **kw)
    torch.testing.assert_close(out, ref.paged_attention(q, dense, meta, 0.5, **kw), **TOL)


def rel_rms(out: torch.Tensor, expected: torch.Tensor) -> float:
    return ((out - expected).square().mean() / expected.square().mean()).sqrt().item()


Q_SPLIT_NAMES = [name for name in NAMED_VARIANTS if NAMED_VARIANTS[name].get("q_split")]


@pytest.mark.parametrize("name", Q_SPLIT_NAMES)
@pytest.mark.parametrize("kw", [{}, dict(sliding_window=7, softcap=3.0)])
def test_q_split_variants_keep_the_16_bit_q_accuracy(name: str, kw: dict) -> None:
    """q as two e4m3 parts (t2*): a q that e4m3 does not hold within the 16-bit q's bounds, and at least 4x
    closer than q in one part (the same variant without q_split). Relative RMS error here: 3.2e-4 (window
    and softcap: 3.3e-4) against 2.9e-2 (3.7e-2) in one part and 1.4e-4 (1.7e-4) for k16_ci_s3; the one
    part's error includes the interpreter's faulty e4m3 rounding (tests/kernels/test_fp8_kv.py)."""
    q, codes, dense, meta = batch([30, 9, 21])
    q = q + 0.01 * torch.randn(q.shape, generator=torch.Generator().manual_seed(7))  # off the e4m3 grid
    expected = ref.paged_attention(q, dense, meta, 0.5, **kw)
    args = (q, codes, meta.block_tables, meta.seq_lens, 0.5, 4, *SCALES)
    out = decode_attention_variant(name, *args, **kw)
    torch.testing.assert_close(out, expected, **TOL)
    one_part = {k: v for k, v in NAMED_VARIANTS[name].items() if k != "q_split"}
    out_t = decode_attention_fp8(*args[:6], k_scale=SCALES[0], v_scale=SCALES[1], **kw, **one_part)
    errs = rel_rms(out, expected), rel_rms(out_t, expected)
    assert errs[0] * 4 < errs[1], errs


def test_env_switch_routes_fp8_decode_to_the_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    module = importlib.import_module("engine.kernels.decode_attention")
    from engine.kernels import decode_attention

    q, codes, dense, meta = batch([5, 18], block_size=8)
    expected = decode_attention_variant("best", q, codes, meta.block_tables, meta.seq_lens, 0.25, 4, *SCALES)
    monkeypatch.setattr(module, "FP8_DECODE_VARIANT", "best")
    out = decode_attention(q, codes, meta.block_tables, meta.seq_lens, 0.25, 4, k_scale=0.02, v_scale=0.5)
    assert torch.equal(out, expected)
    torch.testing.assert_close(out, ref.paged_attention(q, dense, meta, 0.25), **TOL)
    # a float cache never takes it
    dense_out = decode_attention(q, dense, meta.block_tables, meta.seq_lens, 0.25, 4)
    torch.testing.assert_close(dense_out, ref.paged_attention(q, dense, meta, 0.25), atol=1e-5, rtol=1e-5)
    # unset: the variant on CUDA only, this module's kernel on the CPU; "ref": this module's kernel
    import engine.kernels.decode_attention_fp8 as variants

    routed: list[str] = []
    real = variants.decode_attention_variant
    monkeypatch.setattr(
        variants, "decode_attention_variant", lambda name, *a, **k: routed.append(name) or real(name, *a, **k)
    )
    for setting in (None, "ref"):
        monkeypatch.setattr(module, "FP8_DECODE_VARIANT", setting)
        own = decode_attention(q, codes, meta.block_tables, meta.seq_lens, 0.25, 4, k_scale=0.02, v_scale=0.5)
        torch.testing.assert_close(own, ref.paged_attention(q, dense, meta, 0.25), **TOL)
    assert routed == []  # CPU tensors: the variant only when named
    monkeypatch.setattr(module, "FP8_DECODE_VARIANT", "nope")
    with pytest.raises(ValueError, match="unknown FP8 decode variant"):
        decode_attention(q, codes, meta.block_tables, meta.seq_lens, 0.25, 4)


def test_named_variants_are_decode_attention_fp8_settings() -> None:
    import inspect

    params = set(inspect.signature(decode_attention_fp8).parameters)
    assert "best" in NAMED_VARIANTS
    for kw in NAMED_VARIANTS.values():
        assert set(kw) <= params, kw


def test_narrow_heads_take_the_16_bit_q_variant() -> None:
    """An FP8 QK dot needs a head_dim block of 32 (sm_90 rejects the compile below that, as a tiny test
    model's 16-wide heads showed on an H200): variants with FP8 QK fall back there; others keep theirs."""
    from engine.kernels.decode_attention_fp8 import FP8_FALLBACK, variant_for

    assert variant_for("best", 128) == NAMED_VARIANTS["best"]
    assert variant_for("t2", 32) == NAMED_VARIANTS["t2"]
    for name in ("best", "t2", "t_ci_s3", "t"):
        assert variant_for(name, 16) == NAMED_VARIANTS[FP8_FALLBACK]
        assert variant_for(name, 8) == NAMED_VARIANTS[FP8_FALLBACK]
    assert variant_for("k16_ci_n32_s4", 16) == NAMED_VARIANTS["k16_ci_n32_s4"]
    with pytest.raises(ValueError, match="unknown FP8 decode variant"):
        variant_for("nope", 128)


@pytest.mark.parametrize("name", ["t2", "k16_ci_s3"])
def test_fp8_decode_longest_first_order_gives_the_same_rows(name: str) -> None:
    from engine.attention_metadata import longest_first

    seq_lens = [1, 13, 0, 40]
    q, codes, dense, meta = batch(seq_lens)
    args = (q, codes, meta.block_tables, meta.seq_lens, 0.25, 2, *SCALES)
    expected = decode_attention_variant(name, *args)
    order = torch.from_numpy(longest_first(seq_lens))
    out = decode_attention_variant(name, *args, order=order)
    assert torch.equal(out, expected)
    torch.testing.assert_close(out, ref.paged_attention(q, dense, meta, 0.25), **TOL)
