"""FP8 checkpoints, written here as tiny random models in the two formats users download (HF/vLLM
`quant_method: fp8` and compressed-tensors `float-quantized`), loaded through engine/loader: FP8 codes and
scales land in the right rows (merged q/k/v and gate/up included), static input scales, KV-cache scales,
ignored layers, and logits that track the dequantized model."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from engine.errors import InvalidParam, UnsupportedModel
from engine.loader import load_model
from engine.quantization.fp8 import FP8_DTYPE, dequantize, quantize_per_channel, quantize_per_tensor, to_fp8
from engine.quantization.support import REFERENCE_ENV
from tests.engine.tiny_models import (
    allocate_kv_caches,
    build_tiny_model,
    chunk_metadata,
    scrambled_block_table,
)

pytestmark = pytest.mark.usefixtures("one_thread")
LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def write_fp8_checkpoint(
    src: Path,
    dst: Path,
    quantization_config: dict,
    *,
    per_channel: bool,
    scale_name: str = "weight_scale",
    input_scales: bool = False,
    kv_scale_name: str | None = None,
    skip: str = "",
    block: int | None = None,
) -> dict[str, torch.Tensor]:
    """The float checkpoint at src rewritten as FP8 at dst; returns the dense (dequantized) state dict the
    FP8 one stands for. skip: a substring of module names left unquantized."""
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.suffix != ".safetensors":
            (dst / f.name).write_bytes(f.read_bytes())
    config = json.loads((src / "config.json").read_text())
    config["quantization_config"] = quantization_config
    (dst / "config.json").write_text(json.dumps(config))
    tensors, dense = {}, {}
    gen = torch.Generator().manual_seed(7)
    for name, w in load_file(src / "model.safetensors").items():
        module = name.removesuffix(".weight")
        if not (name.endswith(".weight") and module.endswith(LINEARS)) or (skip and skip in module):
            tensors[name] = dense[name] = w
            continue
        if block:
            codes, scale = quantize_blockwise(w, block)
            tensors[name], tensors[f"{module}.{scale_name}"] = codes, scale
            dense[name] = dequantize_blockwise(codes, scale, block)
            continue
        if per_channel:
            codes, scale = quantize_per_channel(w)
            scale = scale[:, None]  # [out, 1], as compressed-tensors writes it
        else:
            codes, scale = quantize_per_tensor(w)  # 0-dim, as AutoFP8 writes it
        tensors[name], tensors[f"{module}.{scale_name}"] = codes, scale
        dense[name] = dequantize(codes, scale.reshape(-1, 1) if per_channel else scale)
        if input_scales:
            tensors[f"{module}.input_scale"] = torch.rand((), generator=gen) * 0.02 + 0.01
        if kv_scale_name and module.endswith(("k_proj", "v_proj")):
            attn, kv = module.rsplit(".", 1)[0], module[-6]
            key = kv_scale_name.format(attn=attn, kv=kv)
            tensors[key] = torch.tensor(0.5 if kv == "k" else 0.25)
    save_file({k: v.contiguous() for k, v in tensors.items()}, dst / "model.safetensors")
    return dense


def quantize_blockwise(w: torch.Tensor, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """DeepSeek / Qwen3-FP8 style: one scale per block x block tile ([rows / block, cols / block])."""
    rows, cols = w.shape
    tiles = w.reshape(rows // block, block, cols // block, block)
    scale = (tiles.abs().amax(dim=(1, 3)) / 448.0).clamp(min=1e-12)
    codes = to_fp8(tiles, scale[:, None, :, None]).reshape(rows, cols)
    return codes, scale


def dequantize_blockwise(codes: torch.Tensor, scale: torch.Tensor, block: int) -> torch.Tensor:
    return codes.float() * scale.repeat_interleave(block, 0).repeat_interleave(block, 1)


@pytest.fixture(scope="module")
def float_checkpoint(tmp_path_factory) -> Path:
    return build_tiny_model("qwen2", tmp_path_factory.mktemp("qwen2") / "float")  # q/k/v biases too


@pytest.fixture(autouse=True)
def reference_path(monkeypatch) -> None:
    monkeypatch.setenv(REFERENCE_ENV, "1")


AUTOFP8_STATIC = {"quant_method": "fp8", "activation_scheme": "static", "ignored_layers": ["lm_head"]}
HF_FP8_DYNAMIC = {"quant_method": "fp8", "activation_scheme": "dynamic", "weight_block_size": None}


def compressed_tensors(weights: str, acts: dict | None, ignore: list[str], kv: bool = False) -> dict:
    fp8 = {"num_bits": 8, "type": "float", "symmetric": True}
    return {
        "quant_method": "compressed-tensors",
        "format": "float-quantized",
        "config_groups": {
            "group_0": {
                "targets": ["Linear"],
                "weights": {**fp8, "strategy": weights, "dynamic": False},
                "input_activations": None if acts is None else {**fp8, **acts},
            }
        },
        "ignore": ignore,
        "kv_cache_scheme": {**fp8, "strategy": "tensor", "dynamic": False} if kv else None,
        "quantization_status": "compressed",
    }


CASES = {
    # AutoFP8 / vLLM-style: per-tensor weight scales, static input scales, k_proj.output_scale KV scales
    "hf-fp8-static": dict(
        qc=AUTOFP8_STATIC, per_channel=False, input_scales=True, kv_scale_name="{attn}.{kv}_proj.output_scale"
    ),
    # transformers' FP8 config with per-channel weight_scale_inv, dynamic activations
    "hf-fp8-dynamic-channel": dict(qc=HF_FP8_DYNAMIC, per_channel=True, scale_name="weight_scale_inv"),
    # Qwen3-FP8 / DeepSeek style: 16 x 16 blocks here (128 x 128 there), requantized per channel at load
    "hf-fp8-block": dict(
        qc={**HF_FP8_DYNAMIC, "weight_block_size": [16, 16]},
        per_channel=False,
        block=16,
        scale_name="weight_scale_inv",
    ),
    # compressed-tensors: channel weights, dynamic per-token activations, one MLP left unquantized
    "ct-channel-dynamic": dict(
        qc=compressed_tensors(
            "channel", {"strategy": "token", "dynamic": True}, ["lm_head", "re:.*1\\.mlp.*"]
        ),
        per_channel=True,
        skip="layers.1.mlp",
    ),
    # compressed-tensors: tensor weights, static per-tensor activations, self_attn.k_scale KV scales
    "ct-tensor-static": dict(
        qc=compressed_tensors("tensor", {"strategy": "tensor", "dynamic": False}, ["lm_head"], kv=True),
        per_channel=False,
        input_scales=True,
        kv_scale_name="{attn}.{kv}_scale",
    ),
}


@torch.no_grad()
def logits_of(loaded, input_ids: torch.Tensor) -> torch.Tensor:
    spec, block_size = loaded.spec, 4
    caches = allocate_kv_caches(
        spec.num_layers, 32, block_size, spec.num_kv_heads, spec.head_dim, torch.float32
    )
    table = scrambled_block_table(len(input_ids), block_size, 32)
    out = []
    for start, end in itertools.pairwise([0, len(input_ids) - 2, len(input_ids) - 1, len(input_ids)]):
        positions, meta = chunk_metadata(start, end, table, block_size)
        out.append(loaded.model.compute_logits(loaded.model(input_ids[start:end], positions, caches, meta)))
    return torch.cat(out)


@pytest.mark.parametrize("case", list(CASES))
def test_fp8_checkpoint_loads_and_tracks_its_dense_model(
    case: str, float_checkpoint: Path, tmp_path: Path
) -> None:
    c = dict(CASES[case])
    qc = c.pop("qc")
    skip = c.get("skip", "")
    dense_state = write_fp8_checkpoint(float_checkpoint, tmp_path / case, qc, **c)
    saved = load_file(tmp_path / case / "model.safetensors")
    loaded = load_model(model_path=str(tmp_path / case), dtype="float32")
    model = loaded.model
    for i in range(2):
        attn, mlp = model.model.layers[i].self_attn, model.model.layers[i].mlp
        prefix = f"model.layers.{i}"
        # q/k/v codes side by side in qkv_proj, each shard's scale over its rows
        assert attn.qkv_proj.fp8 and attn.qkv_proj.weight.dtype == FP8_DTYPE
        dense_qkv = torch.cat([dense_state[f"{prefix}.self_attn.{p}_proj.weight"] for p in "qkv"])
        got = dequantize(attn.qkv_proj.weight, attn.qkv_proj.weight_scale[:, None])
        assert attn.qkv_proj.weight_scale.shape == (got.shape[0],)  # per channel, whatever the checkpoint
        same_weights(got, dense_qkv, exact=not c.get("block"))
        assert attn.o_proj.fp8
        if skip and skip.endswith(f"{i}.mlp"):
            assert not mlp.gate_up_proj.fp8 and mlp.gate_up_proj.weight.dtype == torch.float32
        else:
            dense_gate_up = torch.cat([dense_state[f"{prefix}.mlp.{p}_proj.weight"] for p in ("gate", "up")])
            got = dequantize(mlp.gate_up_proj.weight, mlp.gate_up_proj.weight_scale[:, None])
            same_weights(got, dense_gate_up, exact=not c.get("block"))
        if c.get("input_scales"):
            expected = max(saved[f"{prefix}.self_attn.{p}_proj.input_scale"].item() for p in "qkv")
            assert attn.qkv_proj.input_scale.item() == pytest.approx(expected)
        else:
            assert attn.qkv_proj.input_scale is None
        scales = (attn.attn.k_scale, attn.attn.v_scale)
        assert scales == ((0.5, 0.25) if c.get("kv_scale_name") else (1.0, 1.0))
    # the whole model against the float model holding the same (dequantized) weights
    dense = load_model(model_path=str(float_checkpoint), dtype="float32")
    dense.model.load_state_dict(_ours(dense_state, dense.model), strict=True)
    ids = torch.randint(0, loaded.spec.vocab_size, (16,), generator=torch.Generator().manual_seed(4))
    cosine = F.cosine_similarity(logits_of(loaded, ids), logits_of(dense, ids), dim=-1)
    assert cosine.mean() > 0.97 and cosine.min() > 0.93, cosine  # activation quantization only


def same_weights(got: torch.Tensor, dense: torch.Tensor, exact: bool) -> None:
    """Exactly the checkpoint's values, or (block-wise, requantized per row) within half an e4m3 step of
    each row's scale range."""
    if exact:
        torch.testing.assert_close(got, dense, rtol=0, atol=0)
        return
    row_scale = dense.abs().amax(dim=1, keepdim=True) / 448.0
    assert ((got - dense).abs() <= 2.0**-4 * dense.abs() + row_scale * 2.0**-9 + 1e-12).all()


def _ours(state: dict[str, torch.Tensor], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """An HF-named state dict in our merged layout (qkv_proj, gate_up_proj)."""
    out = {}
    for name in model.state_dict():
        if ".qkv_proj." in name:
            out[name] = torch.cat([state[name.replace("qkv_proj", f"{p}_proj")] for p in "qkv"])
        elif ".gate_up_proj." in name:
            out[name] = torch.cat([state[name.replace("gate_up_proj", f"{p}_proj")] for p in ("gate", "up")])
        else:
            out[name] = state[name]
    return out


def test_unsupported_fp8_checkpoints_are_refused_clearly(float_checkpoint: Path, tmp_path: Path) -> None:
    block = {**HF_FP8_DYNAMIC, "weight_block_size": [128, 128]}  # the tiny model's 64 rows do not tile
    write_fp8_checkpoint(float_checkpoint, tmp_path / "block", block, per_channel=True)
    with pytest.raises(UnsupportedModel, match="do not tile into 128 x 128 scale blocks"):
        load_model(model_path=str(tmp_path / "block"))
    static_block = {**block, "activation_scheme": "static"}
    write_fp8_checkpoint(float_checkpoint, tmp_path / "static-block", static_block, per_channel=True)
    with pytest.raises(UnsupportedModel, match="weight_block_size"):
        load_model(model_path=str(tmp_path / "static-block"))
    write_fp8_checkpoint(float_checkpoint, tmp_path / "awq", {"quant_method": "awq"}, per_channel=True)
    with pytest.raises(UnsupportedModel, match="quant_method 'awq' is not supported"):
        load_model(model_path=str(tmp_path / "awq"))
    int8 = compressed_tensors("channel", None, [])
    int8["config_groups"]["group_0"]["weights"]["type"] = "int"
    write_fp8_checkpoint(float_checkpoint, tmp_path / "int8", int8, per_channel=True)
    with pytest.raises(UnsupportedModel, match="not symmetric 8-bit float"):
        load_model(model_path=str(tmp_path / "int8"))


def test_fp8_checkpoint_on_a_cpu_without_the_override_names_the_flag(
    float_checkpoint: Path, tmp_path: Path, monkeypatch
) -> None:
    write_fp8_checkpoint(float_checkpoint, tmp_path / "fp8", HF_FP8_DYNAMIC, per_channel=True)
    monkeypatch.delenv(REFERENCE_ENV)
    with pytest.raises(InvalidParam, match=r"--quantization fp8.* needs an NVIDIA GPU"):
        load_model(model_path=str(tmp_path / "fp8"))
