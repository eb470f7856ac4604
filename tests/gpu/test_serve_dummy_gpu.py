"""On a GPU: `teecube engine --load-format dummy` with the qwen3-0.6b shape serves `bench serve`'s random
token-id workload, and `--compare-offline` measures the offline engine on the same requests first
(small sizes: the full comparison is a benchmark, see docs/engine-server.md)."""

from __future__ import annotations

import json

import pytest
import torch

from engine.bench import serve as bench_serve

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_dummy_qwen3_serves_and_compares_with_offline(capsys: pytest.CaptureFixture[str]) -> None:
    argv = (
        "--model qwen3-0.6b --engine-arg=--load-format=dummy --engine-arg=--max-model-len=2048 "
        "--dataset random --random-input-len 256 --random-output-len 64 --num-prompts 32 "
        "--max-concurrency 32 --compare-offline"
    ).split()
    assert bench_serve.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["completed"] == 32 and report["total_output_tokens"] == 32 * 64
    assert report["offline"]["output_tokens"] == 32 * 64
    assert report["serve_vs_offline"]["output_throughput"] > 0
    assert report["p99_ttft_ms"] >= report["median_ttft_ms"] > 0
