"""The fused MoE's tile choice (engine/kernels/moe_config.py): defaults by pairs per expert, the
TEECUBE_MOE_CONFIG override (one config or a table by token count), and the kernel under the interpreter
with grouped launch order (group_m > 1), K not a multiple of BLOCK_K and every BLOCK_M."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.kernels.moe import fused_moe
from engine.kernels.moe_config import ENV, MoeConfig, default_config, moe_config
from engine.layers.moe import moe_reference, route


def test_defaults_by_pairs_per_expert() -> None:
    # qwen3-30b-a3b: 128 experts, top-8
    assert default_config(1, 8, 128).block_m == 16
    assert default_config(256, 8, 128).block_m == 16  # 16 pairs per expert
    assert default_config(512, 8, 128).block_m == 32
    prefill = default_config(4096, 8, 128)
    assert (prefill.block_m, prefill.block_n, prefill.num_stages) == (64, 128, 3)


def test_override_one_config_or_a_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    one = dict(block_m=32, block_n=128, block_k=64, group_m=4, num_warps=8, num_stages=3)
    monkeypatch.setenv(ENV, json.dumps(one))
    assert moe_config(1, 8, 128) == moe_config(4096, 8, 128) == MoeConfig(**one)
    table = {"1": dict(block_m=16), "64": dict(block_m=32), "4096": dict(block_m=64, num_warps=8)}
    path = tmp_path / "moe.json"
    path.write_text(json.dumps(table))
    monkeypatch.setenv(ENV, str(path))
    assert [moe_config(m, 8, 128).block_m for m in (1, 20, 40, 1000, 3000, 9000)] == [16, 16, 32, 32, 64, 64]


@pytest.mark.parametrize("bad", [dict(block_m=24), dict(block_q=16), dict(num_warps=3)])
def test_override_refuses_bad_tiles(monkeypatch: pytest.MonkeyPatch, bad: dict) -> None:
    monkeypatch.setenv(ENV, json.dumps(bad))
    with pytest.raises(ValueError, match=ENV):
        moe_config(1, 8, 128)


@pytest.mark.parametrize(
    "config",
    [
        MoeConfig(block_m=16, block_n=32, block_k=32, group_m=4, num_warps=4, num_stages=4),
        pytest.param(MoeConfig(block_m=32, block_n=16, block_k=16, group_m=2, num_warps=4, num_stages=3),
                     marks=pytest.mark.slow),  # the most tiles: about 2 s under the interpreter
        MoeConfig(block_m=64, block_n=64, block_k=128, group_m=8, num_warps=8, num_stages=3),
    ],
)
def test_fused_moe_with_each_config(config: MoeConfig) -> None:
    gen = torch.Generator().manual_seed(3)
    num_tokens, num_experts, top_k, hidden, inter = 37, 6, 2, 48, 40  # K 48 and 40: ragged K tiles
    x = torch.randn(num_tokens, hidden, generator=gen)
    w13 = torch.randn(num_experts, 2 * inter, hidden, generator=gen) * 0.2
    w2 = torch.randn(num_experts, hidden, inter, generator=gen) * 0.2
    weights, ids = route(torch.randn(num_tokens, num_experts, generator=gen), top_k, renormalize=True)
    out = fused_moe(x, w13, w2, weights, ids, config=config)
    torch.testing.assert_close(out, moe_reference(x, w13, w2, weights, ids), atol=1e-4, rtol=1e-4)
