"""Tile configurations of the fused MoE kernel (engine/kernels/moe.py), chosen by problem size.

Defaults follow vLLM's shape of heuristics: while few (token, expert) pairs land on each expert (decode)
the GEMMs are weight-bound, so BLOCK_M is 16 (little padding) with wide K tiles and deep pipelining;
at prefill sizes BLOCK_M 64 and BLOCK_N 128 reuse each weight tile over more rows, and GROUP_M groups
programs on neighbouring row blocks (mostly one expert) so its weight tiles stay in L2.

Override: TEECUBE_MOE_CONFIG holds JSON (or the path of a JSON file): one config for every size, e.g.
{"block_m": 16, "block_n": 64, "block_k": 128, "group_m": 1, "num_warps": 4, "num_stages": 4}, or a
table keyed by token count, {"1": {...}, "64": {...}, "4096": {...}}, of which the entry with the
nearest key is used (as vLLM's tuned files). gpu/swa.sh's sweep (engine/bench/moe_sweep.py) prints one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path

ENV = "TEECUBE_MOE_CONFIG"


@dataclass(frozen=True, slots=True)
class MoeConfig:
    block_m: int = 64
    block_n: int = 64
    block_k: int = 64
    group_m: int = 1
    num_warps: int = 4
    num_stages: int = 2

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MoeConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"{ENV}: unknown keys {sorted(unknown)}; expected {sorted(names)}")
        config = cls(**{k: int(v) for k, v in d.items()})
        for name in ("block_m", "block_n", "block_k"):
            size = getattr(config, name)
            if size < 16 or size & (size - 1):
                raise ValueError(f"{ENV}: {name} must be a power of 2 >= 16 (got {size})")
        if config.group_m < 1 or config.num_warps not in (1, 2, 4, 8, 16) or config.num_stages < 1:
            raise ValueError(f"{ENV}: invalid group_m, num_warps or num_stages in {d}")
        return config


def default_config(num_tokens: int, top_k: int, num_experts: int) -> MoeConfig:
    """By the mean (token, expert) pairs per expert: <= 16 decode-like, <= 64 mid, else prefill."""
    per_expert = num_tokens * top_k / max(num_experts, 1)
    if per_expert <= 16:
        return MoeConfig(block_m=16, block_n=64, block_k=128, group_m=1, num_warps=4, num_stages=4)
    if per_expert <= 64:
        return MoeConfig(block_m=32, block_n=64, block_k=128, group_m=8, num_warps=4, num_stages=4)
    return MoeConfig(block_m=64, block_n=128, block_k=64, group_m=8, num_warps=8, num_stages=3)


@cache
def _override(raw: str) -> dict[int, MoeConfig] | MoeConfig:
    text = Path(raw).read_text() if not raw.lstrip().startswith("{") else raw
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{ENV}: expected a JSON object")
    if data and all(isinstance(v, dict) for v in data.values()):
        return {int(k): MoeConfig.from_dict(v) for k, v in data.items()}
    return MoeConfig.from_dict(data)


def moe_config(num_tokens: int, top_k: int, num_experts: int) -> MoeConfig:
    """The override from TEECUBE_MOE_CONFIG when set (the nearest token count of a table), else the
    default for this size."""
    raw = os.environ.get(ENV)
    if not raw:
        return default_config(num_tokens, top_k, num_experts)
    override = _override(raw)
    if isinstance(override, MoeConfig):
        return override
    return override[min(override, key=lambda m: abs(m - num_tokens))]
