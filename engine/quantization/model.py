"""Turn a model's linear layers to FP8: before loading an FP8 checkpoint (`prepare_fp8_model`), or after
loading a bf16 one (`quantize_model_`, online). Each tensor-parallel rank does this to its own shards.
The LM head and the embedding stay in the model dtype (as in vLLM)."""

from __future__ import annotations

import torch
from torch import nn

from engine.errors import UnsupportedModel
from engine.layers.linear import LinearBase
from engine.quantization.checkpoint import Fp8Scheme


def linear_layers(model: nn.Module) -> list[tuple[str, LinearBase]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, LinearBase)]


@torch.no_grad()
def quantize_model_(model: nn.Module) -> int:
    """Online FP8: every linear layer's loaded weight to FP8 codes + per-output-channel scales. Returns the
    number of layers converted."""
    layers = linear_layers(model)
    for _, layer in layers:
        if not layer.fp8:
            layer.quantize_weight_()
    if any(p.is_cuda for p in model.parameters()):
        torch.cuda.empty_cache()  # the bf16 weights' memory goes back before the KV cache is sized
    return len(layers)


def prepare_fp8_model(model: nn.Module, scheme: Fp8Scheme) -> int:
    """FP8 parameters (codes, weight scales, static input scales) for the checkpoint's quantized layers.
    A merged layer (qkv_proj, gate_up_proj) is FP8 when all its checkpoint parts are."""
    parts: dict[str, list[str]] = {}
    for checkpoint_name, (param_name, _) in getattr(model, "packed_modules_mapping", {}).items():
        parts.setdefault(param_name, []).append(checkpoint_name)
    converted = 0
    for name, layer in linear_layers(model):
        prefix, _, leaf = name.rpartition(".")
        names = [f"{prefix}.{part}" for part in parts.get(leaf, [leaf])]
        ignored = [scheme.ignores(n) for n in names]
        if all(ignored):
            continue
        if any(ignored):
            raise UnsupportedModel(f"FP8 checkpoint quantizes only some of {names} (merged into {name})")
        try:
            layer.use_fp8(static_input_scale=scheme.static_activations, weight_block=scheme.weight_block)
        except ValueError as e:
            raise UnsupportedModel(f"FP8 checkpoint, {name}: {e}") from e
        converted += 1
    return converted


@torch.no_grad()
def finish_fp8_model(model: nn.Module, scheme: Fp8Scheme) -> None:
    """After the weights are loaded: online quantization, or block-wise checkpoint weights requantized
    per output channel (dequantize by blocks, one scale per row); other checkpoints are ready as loaded."""
    if not scheme.from_checkpoint:
        quantize_model_(model)
        return
    if scheme.weight_block is None:
        return
    for _, layer in linear_layers(model):
        if layer.fp8:
            layer.requantize_blocks_per_channel_()
    if any(p.is_cuda for p in model.parameters()):
        torch.cuda.empty_cache()


def set_kv_scale(model: nn.Module, module_name: str, attr: str, value: torch.Tensor) -> None:
    """A checkpoint's per-layer KV-cache scale onto the attention module (a Python float, read once)."""
    try:
        module = model.get_submodule(module_name)
    except AttributeError as e:
        raise UnsupportedModel(f"KV-cache scale for {module_name!r}: no such attention module") from e
    if value.numel() != 1:
        raise UnsupportedModel(f"{module_name}.{attr}: per-tensor KV scales only, got {tuple(value.shape)}")
    scale = float(value.float().reshape(()))
    if not scale > 0:
        raise UnsupportedModel(f"{module_name}.{attr}: scale {scale} is not positive")
    setattr(module, attr, scale)
