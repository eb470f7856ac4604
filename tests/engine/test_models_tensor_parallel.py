"""The new families at tensor-parallel size 2 (gloo, CPU) give the greedy tokens of size 1: each
expert's intermediate dimension and the shared expert split over the ranks (Qwen2-MoE), Gemma's norms
and soft-caps, Phi-3's fused checkpoint tensors cut before sharding."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tensor_parallel import ENGINE, TP, run

from engine import LLM
from engine.distributed import get_tp_size
from tests.engine.tiny_families import build_tiny_family

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("family", ["qwen2-moe", "gemma2", "phi3"])
@pytest.mark.slow
def test_tensor_parallel_2_matches_1(family: str, tmp_path: Path) -> None:
    path = str(build_tiny_family(family, tmp_path / family))
    expected = run(LLM(path, **ENGINE), seed=len(family))
    llm = LLM(path, tensor_parallel_size=TP, **ENGINE)
    try:
        assert get_tp_size() == TP
        got = run(llm, seed=len(family))
    finally:
        llm.shutdown()
    assert got == expected
