"""Which FP8 scheme a model uses: online (`--quantization fp8` on a bf16 checkpoint), or the one its HF
`quantization_config` declares, in the two formats FP8 checkpoints ship in.

- HF / vLLM `quant_method: fp8` (AutoFP8, transformers' FP8 config): FP8 `weight` with `weight_scale`
  (or `weight_scale_inv`), per tensor or per output channel; `activation_scheme` "dynamic" or "static"
  (then every linear has a per-tensor `input_scale`); `ignored_layers` / `modules_to_not_convert`.
  Block-wise weights (`weight_block_size` [bo, bi], `weight_scale_inv` [out / bo, in / bi]: Qwen3-FP8,
  DeepSeek) with dynamic activations are loaded and then requantized per output channel.
- compressed-tensors, `format: float-quantized`: `config_groups` of 8-bit float weights (strategy tensor
  or channel, symmetric) and input activations (dynamic, or static per tensor); `ignore` (names or
  "re:" patterns); `kv_cache_scheme` for per-layer `k_scale` / `v_scale`.

Checkpoint KV-cache scales are read for every layer that has them (names below), whatever the format."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.errors import UnsupportedModel

ONLINE, HF_FP8, COMPRESSED_TENSORS = "online", "fp8", "compressed-tensors"


@dataclass(frozen=True, slots=True)
class Fp8Scheme:
    source: str  # ONLINE, HF_FP8 or COMPRESSED_TENSORS
    static_activations: bool = False
    ignored: tuple[str, ...] = ()  # checkpoint module names, or "re:<pattern>"
    weight_block: tuple[int, int] | None = None  # block-wise weight scales (rows, columns per block)

    @property
    def from_checkpoint(self) -> bool:
        return self.source != ONLINE

    def ignores(self, module_name: str) -> bool:
        """module_name: a checkpoint module name such as model.layers.0.self_attn.q_proj."""
        for entry in self.ignored:
            if entry.startswith("re:"):
                if re.match(entry[3:], module_name):
                    return True
            elif module_name == entry or module_name.endswith("." + entry):
                return True
        return False


def fp8_scheme(hf_config: dict[str, Any], quantization: str | None) -> Fp8Scheme | None:
    """The scheme for this checkpoint and `--quantization` value (None or "fp8"), or None: no FP8."""
    qc = hf_config.get("quantization_config")
    if not qc:
        return Fp8Scheme(ONLINE) if quantization == "fp8" else None
    method = qc.get("quant_method")
    if method == "fp8":
        return _hf_fp8(qc)
    if method == "compressed-tensors":
        return _compressed_tensors(qc)
    raise UnsupportedModel(
        f"quantization_config quant_method {method!r} is not supported"
        " (FP8 checkpoints are: quant_method fp8, or compressed-tensors float-quantized)"
    )


def _hf_fp8(qc: dict[str, Any]) -> Fp8Scheme:
    scheme = qc.get("activation_scheme", "dynamic")
    if scheme not in ("dynamic", "static"):
        raise UnsupportedModel(f"FP8 checkpoint: activation_scheme {scheme!r} is not dynamic or static")
    ignored = tuple(qc.get("ignored_layers") or qc.get("modules_to_not_convert") or [])
    block = qc.get("weight_block_size")
    if block:
        if len(block) != 2 or not all(isinstance(b, int) and b > 0 for b in block) or scheme != "dynamic":
            raise UnsupportedModel(
                f"FP8 checkpoint: weight_block_size {block} with activation_scheme {scheme!r} is not"
                " supported (two positive block sides, dynamic activations)"
            )
        return Fp8Scheme(HF_FP8, ignored=ignored, weight_block=(block[0], block[1]))
    return Fp8Scheme(HF_FP8, static_activations=scheme == "static", ignored=ignored)


def _compressed_tensors(qc: dict[str, Any]) -> Fp8Scheme:
    fmt = qc.get("format")
    if fmt != "float-quantized":
        raise UnsupportedModel(f"compressed-tensors format {fmt!r} is not supported (float-quantized is)")
    static: set[bool] = set()
    for name, group in (qc.get("config_groups") or {}).items():
        weights = group.get("weights") or {}
        if not _is_fp8_args(weights) or weights.get("strategy") not in ("tensor", "channel"):
            raise UnsupportedModel(
                f"compressed-tensors group {name!r}: weights {weights} are not symmetric 8-bit float"
                " with a tensor or channel strategy"
            )
        acts = group.get("input_activations")
        if acts is None:
            static.add(False)  # weight-only: activations quantized per token on the fly
            continue
        if not _is_fp8_args(acts):
            raise UnsupportedModel(
                f"compressed-tensors group {name!r}: input activations {acts} are not 8-bit float"
            )
        if not acts.get("dynamic", False) and acts.get("strategy", "tensor") != "tensor":
            raise UnsupportedModel(
                f"compressed-tensors group {name!r}: static activations must be per tensor"
            )
        static.add(not acts.get("dynamic", False))
    if len(static) != 1:
        raise UnsupportedModel(
            "compressed-tensors: no config group, or groups mixing static and dynamic activations"
        )
    return Fp8Scheme(
        COMPRESSED_TENSORS, static_activations=static.pop(), ignored=tuple(qc.get("ignore") or ())
    )


def _is_fp8_args(args: dict[str, Any]) -> bool:
    return args.get("num_bits") == 8 and args.get("type") == "float" and args.get("symmetric", True)


# Checkpoint names of per-layer KV-cache scales -> (attention module name, "k_scale" | "v_scale").
_KV_SCALE_NAMES = re.compile(
    r"^(?P<prefix>.*\.self_attn)\.(?:attn\.)?(?:(?P<a>[kv])_scale|(?P<b>[kv])_proj\.output_scale)$"
)


def kv_scale_target(name: str) -> tuple[str, str] | None:
    """("model.layers.3.self_attn.attn", "k_scale") for model.layers.3.self_attn.k_scale,
    ...self_attn.k_proj.output_scale (AutoFP8) or ...self_attn.attn.k_scale; None for anything else."""
    m = _KV_SCALE_NAMES.match(name)
    if m is None:
        return None
    return f"{m['prefix']}.attn", f"{m['a'] or m['b']}_scale"


# Checkpoint tensor-name suffixes -> our parameter names.
SCALE_RENAMES = {".weight_scale_inv": ".weight_scale"}
# Dropped when the model has no such parameter: input scales of a dynamic-activation checkpoint, and the
# query / softmax-probability scales of vLLM's FP8 attention (this engine computes attention in bf16).
OPTIONAL_SUFFIXES = (".input_scale", ".q_scale", ".prob_scale")


def checkpoint_scale_name(name: str) -> str:
    for old, new in SCALE_RENAMES.items():
        if name.endswith(old):
            return name[: -len(old)] + new
    return name
