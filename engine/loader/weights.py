"""Copy checkpoint tensors (HF names) into the model through each parameter's weight_loader.

A model may rename or cut tensors first (`checkpoint_weights`, e.g. Phi-3's fused qkv), and route some
names to shards of its own (`checkpoint_shard(name) -> (param name, shard id, shards) | None`, e.g.
one expert of a fused mixture-of-experts weight)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import torch
from torch import nn

from engine.errors import ModelLoadError
from engine.quantization.checkpoint import OPTIONAL_SUFFIXES, checkpoint_scale_name, kv_scale_target
from engine.quantization.model import set_kv_scale

SKIPPED_SUFFIXES = ("rotary_emb.inv_freq",)


def load_weights(model: nn.Module, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
    params = dict(model.named_parameters())
    packed = model.packed_modules_mapping
    tied = model.config.tie_word_embeddings
    loaded: Counter[str] = Counter()
    if hasattr(model, "checkpoint_weights"):
        weights = model.checkpoint_weights(weights)
    own_shard = getattr(model, "checkpoint_shard", None)
    shard_counts: dict[str, int] = {}
    for name, tensor in weights:
        if name.endswith(SKIPPED_SUFFIXES) or (tied and name == "lm_head.weight"):
            continue
        if (kv_scale := kv_scale_target(name)) is not None:  # FP8 checkpoints: per-layer KV-cache scales
            set_kv_scale(model, *kv_scale, tensor)
            continue
        name = checkpoint_scale_name(name)  # weight_scale_inv -> weight_scale
        shard_id = None
        routed = own_shard(name) if own_shard is not None else None
        if routed is not None:
            name, shard_id, shard_counts[name] = routed
        for checkpoint_name, (param_name, shard) in packed.items() if routed is None else ():
            if f".{checkpoint_name}." in name:
                name, shard_id = name.replace(f".{checkpoint_name}.", f".{param_name}."), shard
                break
        param = params.get(name)
        if param is None and name.endswith(OPTIONAL_SUFFIXES):
            continue
        if param is None:
            raise ModelLoadError(f"checkpoint tensor {name!r} does not belong to {model.config.architecture}")
        try:
            param.weight_loader(param, tensor, shard_id)
        except ValueError as e:
            raise ModelLoadError(f"checkpoint tensor {name!r} (shard {shard_id}): {e}") from e
        loaded[name] += 1
    expected = {name: shard_counts.get(name) or _num_shards(name) for name in params}
    missing = sorted(name for name, count in expected.items() if loaded[name] < count)
    if missing:
        raise ModelLoadError(f"checkpoint lacks {len(missing)} tensors, e.g. {missing[:3]}")


def expected_tensors(model: nn.Module) -> int:
    """How many checkpoint tensors `load_weights` consumes for `model` (for a progress bar); a model
    whose checkpoints store tensors fused or per expert counts its own (`checkpoint_tensors`)."""
    own = getattr(model, "checkpoint_tensors", None)
    counts = ((own(name) if own is not None else None) for name, _ in model.named_parameters())
    return sum(
        _num_shards(name) if count is None else count
        for (name, _), count in zip(model.named_parameters(), counts, strict=True)
    )


def _num_shards(param_name: str) -> int:
    if ".qkv_proj." in param_name:
        return 3
    if ".gate_up_proj." in param_name:
        return 2
    return 1
