"""The qwen3-30b-a3b shape: parameter counts of the model as built (meta tensors) and the roofline that
reads only the experts a decode step activates."""

from __future__ import annotations

import pytest
import torch

from engine.bench.roofline import active_experts, roofline
from engine.bench.shapes import SHAPES, weight_bytes
from engine.models.config import DecoderConfig
from engine.models.registry import build_model


@pytest.fixture(scope="module")
def qwen3_moe_bytes() -> dict:
    with torch.device("meta"):
        model = build_model(DecoderConfig.from_hf_config(SHAPES["qwen3-30b-a3b"]))
    total = sum(p.numel() for p in model.parameters())
    assert 30.4e9 < total < 30.6e9  # Qwen3-30B-A3B: 30.5B parameters
    return weight_bytes(model)


def test_weight_bytes_split_experts_from_the_rest(qwen3_moe_bytes: dict) -> None:
    moe = qwen3_moe_bytes["moe"]
    assert moe == {
        "num_experts": 128, "top_k": 8, "layers": 48,
        "expert_bytes": 3 * 2048 * 768 * 4, "expert_params": 3 * 2048 * 768,  # meta tensors: float32
    }
    attention = 48 * (2048 * 4096 * 2 + 2048 * 512 * 2)
    router = 48 * 2048 * 128
    active_experts_params = 48 * 8 * 3 * 2048 * 768
    assert qwen3_moe_bytes["matmul_params"] == attention + router + active_experts_params
    embedding = 151936 * 2048
    active = qwen3_moe_bytes["matmul_params"] + qwen3_moe_bytes["lm_head_params"] + embedding
    assert 3.3e9 < active < 3.4e9  # "A3B": 3.3B activated


def test_active_experts() -> None:
    assert active_experts(128, 8, 1) == pytest.approx(8)
    assert active_experts(128, 8, 256) == pytest.approx(128, rel=1e-6)
    assert active_experts(8, 2, 2) == pytest.approx(8 * (1 - 0.75**2))


def test_moe_roofline_reads_only_active_experts(qwen3_moe_bytes: dict) -> None:
    wb = qwen3_moe_bytes
    moe = wb["moe"]
    one = roofline([10], [2], wb["decode_read_bytes"], 0, wb["matmul_params"], wb["lm_head_params"],
                   1e10, 1e15, moe=moe)
    expected_bytes = wb["decode_read_bytes"] + 48 * 8 * moe["expert_bytes"]  # one sequence: 8 experts
    assert one["decode_s"] == pytest.approx(expected_bytes / 1e10, rel=1e-3)
    many = roofline([10] * 512, [2] * 512, wb["decode_read_bytes"], 0, wb["matmul_params"],
                    wb["lm_head_params"], 1e10, 1e15, moe=moe)
    all_bytes = wb["decode_read_bytes"] + 48 * 128 * moe["expert_bytes"]  # 512 sequences: all experts
    assert many["decode_s"] == pytest.approx(all_bytes / 1e10, rel=1e-3)
    mean = many["moe"]["mean_expert_bytes_per_step"]
    assert mean == pytest.approx(48 * 128 * moe["expert_bytes"], rel=1e-3)
