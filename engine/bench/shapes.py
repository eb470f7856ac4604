"""Named model shapes (engine/loader/shapes.py) with random weights, built with no download.

Throughput does not depend on the weights' values, so a benchmark can run a shape (qwen3-0.6b,
llama3-8b) without fetching its checkpoint. Prompts are token ids, so the tokenizer is a trivial one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from engine.loader import LoadedModel, load_model
from engine.loader.shapes import SHAPES

__all__ = ["SHAPES", "hf_model", "random_model", "shape_loader", "weight_bytes"]


def random_model(
    shape: str,
    device: str | torch.device = "cuda",
    dtype: torch.dtype = torch.bfloat16,
    seed: int = 0,
) -> LoadedModel:
    """The engine's model for `shape`, weights drawn on the device (`--load-format dummy`)."""
    return load_model(model_path=shape, dtype=dtype, device=device, load_format="dummy", seed=seed)


def shape_loader(
    shape: str, dtype: torch.dtype = torch.bfloat16, seed: int = 0
) -> Callable[[Any], LoadedModel]:
    """A picklable `loader(config)` for tensor parallelism: each rank builds its shard of `shape` on its
    own device (the same seed on every rank, so replicated parameters such as the norms agree)."""
    return partial(_load_shape, shape, dtype, seed)


def _load_shape(shape: str, dtype: torch.dtype, seed: int, config: Any) -> LoadedModel:
    loaded = random_model(shape, config.device, dtype, seed)
    if getattr(config, "quantization", None) == "fp8":  # each rank quantizes its own shards
        from engine.quantization.model import quantize_model_

        quantize_model_(loaded.model)
    return loaded


def hf_model(shape: str, device: str | torch.device = "cuda", dtype: torch.dtype = torch.bfloat16) -> Any:
    """HF transformers' model of the same shape with random weights (its own init), on the device."""
    from transformers import AutoConfig, AutoModelForCausalLM

    hf = dict(SHAPES[shape])
    fields = {k: v for k, v in hf.items() if k not in ("model_type", "architectures", "torch_dtype")}
    config = AutoConfig.for_model(hf["model_type"], **fields)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval()


def weight_bytes(model: torch.nn.Module) -> dict[str, Any]:
    """Bytes a decode step reads (every matrix; the input embedding only when it is the LM head too) and
    the parameter count of the matmuls (for FLOPs), counting shared tensors once.

    Mixture of experts: decode_read_bytes leaves the experts out; "moe" gives what the roofline needs to
    add the experts a step activates (num_experts, top_k, layers, bytes and parameters of one expert in
    one layer), and matmul_params counts top_k experts per layer (what one token multiplies)."""
    from engine.layers.moe import FusedExperts

    seen: set[int] = set()
    read = matmul = 0
    moe: dict[str, Any] | None = None
    experts = [m for m in model.modules() if isinstance(m, FusedExperts)]
    if experts:
        first = experts[0]
        params = (first.w13.numel() + first.w2.numel()) // first.num_experts
        moe = {
            "num_experts": first.num_experts,
            "top_k": model.config.num_experts_per_tok,
            "layers": len(experts),
            "expert_bytes": params * first.w13.element_size(),
            "expert_params": params,
        }
        seen.update(id(p) for m in experts for p in (m.w13, m.w2))
        matmul += len(experts) * moe["top_k"] * params
    embed = model.model.embed_tokens.weight
    tied = model.lm_head.weight is embed
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in seen:
            continue
        seen.add(id(p))
        is_embed = p is embed
        if is_embed and not tied:
            continue
        read += p.numel() * p.element_size()
        if p.dim() == 2 and not (is_embed or name.startswith("lm_head")):
            matmul += p.numel()
    head = model.lm_head.weight.numel()
    result: dict[str, Any] = {"decode_read_bytes": read, "matmul_params": matmul, "lm_head_params": head}
    if moe is not None:
        result["moe"] = moe
    return result
