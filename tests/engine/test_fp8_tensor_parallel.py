"""FP8 weights and KV at tensor-parallel size 2 (CPU, gloo, reference FP8 path): each rank quantizes its
own shards when it loads. Column-parallel shards quantize exactly as the whole layer does; a row-parallel
rank scales its half of each row by that half's max, so tokens may differ from size 1 in near-ties."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import LLM, SamplingParams
from engine.distributed import get_tp_size
from engine.quantization.fp8 import FP8_DTYPE
from engine.quantization.support import REFERENCE_ENV
from tests.engine.tiny_models import build_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")
ENGINE = dict(
    device="cpu",
    block_size=8,
    num_kv_blocks=96,
    max_num_batched_tokens=24,
    quantization="fp8",
    kv_cache_dtype="fp8",
)
FIRST = SamplingParams(temperature=0, max_tokens=1, ignore_eos=True, logprobs=4)
PROMPTS = [[5, 9, 13], [(i * 31) % 480 + 3 for i in range(30)], [(i * 7) % 480 + 3 for i in range(45)]]


def first_token_logprobs(llm: LLM) -> list[dict[int, float]]:
    """Top-4 logprobs of each prompt's first generated token (a tiny model's logits are flat: its
    top-3 often lie within 0.02 of each other, so tokens alone would compare near-ties)."""
    outs = llm.generate(PROMPTS, FIRST, use_tqdm=False)
    return [dict(o.outputs[0].logprobs[0]["top"]) for o in outs]


@pytest.mark.slow
def test_fp8_at_tensor_parallel_2_tracks_size_1(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(REFERENCE_ENV, "1")  # spawned ranks inherit it
    path = str(build_tiny_model("qwen3", tmp_path / "qwen3"))
    expected = first_token_logprobs(LLM(path, **ENGINE))
    llm = LLM(path, tensor_parallel_size=2, **ENGINE)
    try:
        assert get_tp_size() == 2
        runner = llm.model_runner
        assert runner.kv_caches[0].dtype == FP8_DTYPE and runner.kv_caches[0].shape[-2] == 1
        layer = runner.model.model.layers[0]
        assert layer.mlp.down_proj.fp8 and layer.mlp.down_proj.weight.shape == (64, 64)  # half of 128
        got = first_token_logprobs(llm)
    finally:
        llm.shutdown()
    assert [p.exitcode for p in llm.workers.procs] == [0]
    # measured: the same top tokens, logprobs within 0.25 (FP8 noise; fp8 vs fp32 differs as much);
    # a rank with wrong scales or shards moves them by whole units
    for g, e in zip(got, expected, strict=True):
        shared = g.keys() & e.keys()
        assert len(shared) >= 2, (g, e)
        assert max(abs(g[t] - e[t]) for t in shared) < 0.5, (g, e)
