"""FP8 weights and activations on the CPU reference path: quantize/dequantize round trips, scale handling,
the FP8 linear, tensor-parallel shards of FP8 layers, online `--quantization fp8` on every family, and the
clear errors where FP8 cannot run."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from engine.config import EngineConfig
from engine.distributed import parallel_state as ps
from engine.errors import InvalidParam
from engine.layers.linear import (
    MergedColumnParallelLinear,
    QKVParallelLinear,
    ReplicatedLinear,
    RowParallelLinear,
)
from engine.loader import load_model
from engine.quantization.fp8 import (
    FP8_DTYPE,
    FP8_MAX,
    dequantize,
    quantize_per_channel,
    quantize_per_tensor,
    quantize_per_token,
    to_fp8,
)
from engine.quantization.linear import fp8_linear
from engine.quantization.support import REFERENCE_ENV
from tests.engine.tiny_models import (
    FAMILIES,
    allocate_kv_caches,
    build_tiny_model,
    chunk_metadata,
    scrambled_block_table,
)

pytestmark = pytest.mark.usefixtures("one_thread")
E4M3_REL = 2.0**-4  # half an ulp of a 3-bit mantissa


def close_in_fp8(decoded: torch.Tensor, original: torch.Tensor, scale: torch.Tensor | float) -> None:
    """Each element within half an e4m3 ulp, or a subnormal step (2^-9 of the scale) near zero."""
    bound = E4M3_REL * original.abs() + torch.as_tensor(scale) * 2.0**-9 + 1e-12
    assert ((decoded - original).abs() <= bound).all()


def test_per_channel_round_trip_and_row_max_maps_to_448() -> None:
    w = torch.randn(24, 40, generator=torch.Generator().manual_seed(0)) * torch.logspace(-3, 2, 24)[:, None]
    codes, scale = quantize_per_channel(w)
    assert codes.dtype == FP8_DTYPE and scale.dtype == torch.float32 and scale.shape == (24,)
    close_in_fp8(dequantize(codes, scale[:, None]), w, scale[:, None])
    row_max = codes.float().abs().amax(dim=1)
    assert torch.equal(row_max, torch.full((24,), FP8_MAX))
    torch.testing.assert_close(scale, w.abs().amax(dim=1) / FP8_MAX)


def test_zero_rows_get_a_finite_scale_and_decode_to_zero() -> None:
    w = torch.zeros(3, 16)
    w[1] = torch.linspace(-1, 1, 16)
    codes, scale = quantize_per_channel(w)
    assert torch.isfinite(scale).all() and (scale > 0).all()
    decoded = dequantize(codes, scale[:, None])
    assert torch.equal(decoded[0], torch.zeros(16)) and torch.equal(decoded[2], torch.zeros(16))


def test_out_of_range_values_saturate_instead_of_nan() -> None:
    codes = to_fp8(torch.tensor([1e6, -1e6, 449.0, 0.5]), 1.0)
    assert torch.equal(codes.float(), torch.tensor([448.0, -448.0, 448.0, 0.5]))


def test_per_token_and_per_tensor_activation_scales() -> None:
    x = (
        torch.randn(5, 32, generator=torch.Generator().manual_seed(1))
        * torch.tensor([1e-2, 1, 10, 100, 3])[:, None]
    )
    codes, scales = quantize_per_token(x)
    assert scales.shape == (5, 1)
    close_in_fp8(dequantize(codes, scales), x, scales)
    static = torch.tensor([0.5])
    codes, scale = quantize_per_tensor(x, static)
    assert scale.shape == () and scale.item() == 0.5
    assert codes.float().abs().max() == FP8_MAX  # 100 * 3 / 0.5 saturates
    codes, scale = quantize_per_tensor(x)
    torch.testing.assert_close(scale, x.abs().max() / FP8_MAX)


@pytest.mark.parametrize("static", [False, True])
def test_fp8_linear_reference_tracks_the_float_matmul(static: bool) -> None:
    gen = torch.Generator().manual_seed(2)
    x, w, b = (
        torch.randn(7, 64, generator=gen),
        torch.randn(48, 64, generator=gen) * 0.05,
        torch.randn(48, generator=gen),
    )
    codes, scale = quantize_per_channel(w)
    input_scale = (x.abs().max() / FP8_MAX).reshape(()) if static else None
    y = fp8_linear(x, codes, scale, b, input_scale)
    expected = F.linear(x, w, b)
    assert y.shape == expected.shape and y.dtype == x.dtype
    assert F.cosine_similarity(y.flatten(), expected.flatten(), dim=0) > 0.999
    # exactly the math it claims: dequantized operands in fp32
    xq, xs = quantize_per_token(x) if not static else (to_fp8(x, input_scale), input_scale)
    manual = dequantize(xq, xs) @ dequantize(codes, scale[:, None]).t() + b
    torch.testing.assert_close(y, manual)
    # 3-D inputs keep their leading dims
    assert fp8_linear(x.view(1, 7, 64), codes, scale, b, input_scale).shape == (1, 7, 48)


def test_online_quantized_layer_matches_the_float_layer() -> None:
    layer = ReplicatedLinear(64, 32, bias=True)
    torch.nn.init.normal_(layer.weight, std=0.1)
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(9, 64)
    expected = layer(x)
    layer.quantize_weight_()
    assert layer.fp8 and layer.weight.dtype == FP8_DTYPE and layer.weight_scale.shape == (32,)
    assert F.cosine_similarity(layer(x).flatten(), expected.flatten(), dim=0) > 0.999


# --- tensor-parallel shards of FP8 layers (built as each rank would; no process group) -------------


def as_rank(rank: int, world_size: int):
    class _Rank:
        def __enter__(self) -> None:
            ps._state.rank, ps._state.world_size = rank, world_size

        def __exit__(self, *exc: object) -> None:
            ps._state.rank, ps._state.world_size = 0, 1

    return _Rank()


def fp8_checkpoint_tensor(
    rows: int, cols: int, per_channel: bool, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    w = torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed)) * 0.1
    if per_channel:
        codes, scale = quantize_per_channel(w)
        return codes, scale[:, None]  # compressed-tensors' [out, 1]
    codes, scale = quantize_per_tensor(w)
    return codes, scale.reshape(1)


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
@pytest.mark.parametrize("tp", [1, 2])
def test_fp8_shards_compose_to_the_full_layer(per_channel: bool, tp: int) -> None:
    hidden, head_dim, heads, kv_heads, inter = 32, 16, 4, 2, 48
    parts = {
        "q": fp8_checkpoint_tensor(heads * head_dim, hidden, per_channel, 1),
        "k": fp8_checkpoint_tensor(kv_heads * head_dim, hidden, per_channel, 2),
        "v": fp8_checkpoint_tensor(kv_heads * head_dim, hidden, per_channel, 3),
        0: fp8_checkpoint_tensor(inter, hidden, per_channel, 4),
        1: fp8_checkpoint_tensor(inter, hidden, per_channel, 5),
        "down": fp8_checkpoint_tensor(hidden, inter, per_channel, 6),
    }

    def full(name: object) -> torch.Tensor:
        codes, scale = parts[name]
        return dequantize(codes, scale.reshape(-1, 1))

    x, h = torch.randn(5, hidden), torch.randn(5, inter)
    qkv_out, gate_up_out, down_out = [], [], torch.zeros(5, hidden)
    for rank in range(tp):
        with as_rank(rank, tp):
            qkv = QKVParallelLinear(hidden, head_dim, heads, kv_heads)
            gate_up = MergedColumnParallelLinear(hidden, [inter, inter])
            down = RowParallelLinear(inter, hidden)
        for layer in (qkv, gate_up, down):
            layer.use_fp8()
        for shard in ("q", "k", "v"):
            qkv.weight.weight_loader(qkv.weight, parts[shard][0], shard)
            qkv.weight_scale.weight_loader(qkv.weight_scale, parts[shard][1], shard)
        for shard in (0, 1):
            gate_up.weight.weight_loader(gate_up.weight, parts[shard][0], shard)
            gate_up.weight_scale.weight_loader(gate_up.weight_scale, parts[shard][1], shard)
        down.weight.weight_loader(down.weight, parts["down"][0])
        down.weight_scale.weight_loader(down.weight_scale, parts["down"][1])
        qkv_out.append(qkv(x).split([qkv.q_size, qkv.kv_size, qkv.kv_size], dim=-1))
        gate_up_out.append(gate_up(x).chunk(2, dim=-1))
        # row-parallel partial sums; the all-reduce is their sum
        down_out += down.matmul(h.chunk(tp, dim=-1)[rank], None)
    for i, shard in enumerate(("q", "k", "v")):
        got = torch.cat([out[i] for out in qkv_out], dim=-1)
        expected = F.linear(x, full(shard))
        assert F.cosine_similarity(got.flatten(), expected.flatten(), dim=0) > 0.999, shard
    for i in (0, 1):
        got = torch.cat([out[i] for out in gate_up_out], dim=-1)
        assert F.cosine_similarity(got.flatten(), F.linear(x, full(i)).flatten(), dim=0) > 0.999
    expected = F.linear(h, full("down"))
    assert F.cosine_similarity(down_out.flatten(), expected.flatten(), dim=0) > 0.999


@pytest.mark.parametrize("tp", [1, 2])
def test_block_scales_shard_and_requantize_per_channel(tp: int) -> None:
    hidden, head_dim, heads, kv_heads, block = 32, 16, 4, 2, 8
    gen = torch.Generator().manual_seed(9)
    full = {
        s: torch.randn(n * head_dim, hidden, generator=gen) * 0.1
        for s, n in (("q", heads), ("k", kv_heads), ("v", kv_heads))
    }
    down_w = torch.randn(hidden, 48, generator=gen) * 0.1

    def blockwise(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tiles = w.reshape(w.shape[0] // block, block, w.shape[1] // block, block)
        scale = tiles.abs().amax(dim=(1, 3)) / FP8_MAX
        codes = to_fp8(tiles, scale[:, None, :, None]).reshape(w.shape)
        return codes, scale, codes.float() * scale.repeat_interleave(block, 0).repeat_interleave(block, 1)

    parts = {s: blockwise(w) for s, w in full.items()}
    down = blockwise(down_w)
    x, h = torch.randn(3, hidden), torch.randn(3, 48)
    outs, down_sum = [], torch.zeros(3, hidden)
    for rank in range(tp):
        with as_rank(rank, tp):
            qkv = QKVParallelLinear(hidden, head_dim, heads, kv_heads)
            row = RowParallelLinear(48, hidden)
        qkv.use_fp8(weight_block=(block, block))
        row.use_fp8(weight_block=(block, block))
        for s, (codes, scale, _) in parts.items():
            qkv.weight.weight_loader(qkv.weight, codes, s)
            qkv.weight_scale.weight_loader(qkv.weight_scale, scale, s)
        row.weight.weight_loader(row.weight, down[0])
        row.weight_scale.weight_loader(row.weight_scale, down[1])
        assert qkv.weight_scale.shape == (qkv.output_size // block, hidden // block)
        qkv.requantize_blocks_per_channel_()
        row.requantize_blocks_per_channel_()
        assert qkv.weight_scale.shape == (qkv.output_size,) and qkv.weight_block is None
        outs.append(qkv(x).split([qkv.q_size, qkv.kv_size, qkv.kv_size], dim=-1))
        down_sum += row.matmul(h.chunk(tp, dim=-1)[rank], None)
    for i, s in enumerate(("q", "k", "v")):
        got = torch.cat([o[i] for o in outs], dim=-1)
        assert F.cosine_similarity(got.flatten(), F.linear(x, parts[s][2]).flatten(), dim=0) > 0.999, s
    assert F.cosine_similarity(down_sum.flatten(), F.linear(h, down[2]).flatten(), dim=0) > 0.999


def test_static_input_scales_of_merged_shards_keep_the_largest() -> None:
    layer = QKVParallelLinear(32, 16, 4, 2)
    layer.use_fp8(static_input_scale=True)
    for shard, value in (("q", 0.25), ("k", 0.75), ("v", 0.5)):
        layer.input_scale.weight_loader(layer.input_scale, torch.tensor([value]), shard)
    assert layer.input_scale.item() == 0.75


# --- online quantization of whole models --------------------------------------------------------


@torch.no_grad()
def prefill_then_decode_logits(loaded, input_ids: torch.Tensor) -> torch.Tensor:
    spec, block_size = loaded.spec, 4
    caches = allocate_kv_caches(
        spec.num_layers, 32, block_size, spec.num_kv_heads, spec.head_dim, torch.float32
    )
    table = scrambled_block_table(len(input_ids), block_size, 32)
    logits = []
    for start, end in itertools.pairwise(
        [0, len(input_ids) - 3, len(input_ids) - 2, len(input_ids) - 1, len(input_ids)]
    ):
        positions, meta = chunk_metadata(start, end, table, block_size)
        logits.append(
            loaded.model.compute_logits(loaded.model(input_ids[start:end], positions, caches, meta))
        )
    return torch.cat(logits)


@pytest.mark.parametrize("family", FAMILIES)
def test_online_fp8_model_tracks_the_float_model(family: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(REFERENCE_ENV, "1")
    path = build_tiny_model(family, tmp_path / family)
    dense = load_model(model_path=str(path), dtype="float32")
    fp8 = load_model(model_path=str(path), dtype="float32", quantization="fp8")
    layers = [m for m in fp8.model.modules() if hasattr(m, "fp8")]
    assert len(layers) == 4 * 2 and all(m.fp8 and m.weight.dtype == FP8_DTYPE for m in layers)
    assert fp8.model.lm_head.weight.dtype == torch.float32  # the head stays in the model dtype
    ids = torch.randint(0, dense.spec.vocab_size, (20,), generator=torch.Generator().manual_seed(3))
    expected, got = prefill_then_decode_logits(dense, ids), prefill_then_decode_logits(fp8, ids)
    # e4m3 keeps ~3 significant bits (~5% error per GEMM on these tiny random models, whose logits are
    # flat: std 1.6 over 512 ids); measured cosine 0.982-0.991 mean, top-1 0.65-0.85. A wrong scale
    # or shard gives cosine < 0.5.
    cosine = F.cosine_similarity(got, expected, dim=-1)
    assert cosine.mean() > 0.97 and cosine.min() > 0.93, cosine
    top1 = (got.argmax(-1) == expected.argmax(-1)).float().mean()
    assert top1 >= 0.5, top1


def test_cpu_engine_refuses_fp8_flags_without_the_test_override(monkeypatch) -> None:
    monkeypatch.delenv(REFERENCE_ENV, raising=False)
    with pytest.raises(InvalidParam, match="--quantization fp8 needs an NVIDIA GPU") as e:
        EngineConfig(model="m", device="cpu", quantization="fp8")
    assert e.value.param == "quantization"
    with pytest.raises(InvalidParam, match="--kv-cache-dtype fp8 needs an NVIDIA GPU") as e:
        EngineConfig(model="m", device="cpu", kv_cache_dtype="fp8")
    assert e.value.param == "kv_cache_dtype"
    with pytest.raises(InvalidParam, match="'int4' is not supported"):
        EngineConfig(model="m", device="cpu", quantization="int4")
    with pytest.raises(InvalidParam, match="'fp8_e5m2' is not one of auto, fp8, fp8_e4m3"):
        EngineConfig(model="m", device="cpu", kv_cache_dtype="fp8_e5m2")
    monkeypatch.setenv(REFERENCE_ENV, "1")
    config = EngineConfig(model="m", device="cpu", quantization="fp8", kv_cache_dtype="fp8")
    assert (config.quantization, config.kv_cache_dtype) == ("fp8", "fp8")
