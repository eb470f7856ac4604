"""`teecube bench throughput --shape ... --quantization fp8 --kv-cache-dtype fp8 --compare-bf16` on the
CPU (tiny shape, reference FP8 path): one JSON object with the bf16, fp8 and fp8+kv-fp8 runs, FP8 bytes in
each run's figures; and the roofline's FP8 inputs."""

from __future__ import annotations

import json

import pytest
import torch

from engine.bench.roofline import roofline
from engine.bench.shapes import random_model, weight_bytes
from engine.quantization.model import quantize_model_
from engine.quantization.support import REFERENCE_ENV
from teecube.bench import main as bench_main


@pytest.mark.slow
def test_compare_bf16_prints_every_run_with_fp8_bytes(
    capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv(REFERENCE_ENV, "1")
    previous = torch.get_num_threads()
    argv = ["throughput", "--shape", "tiny", "--random-weights", "--device", "cpu", "--threads", "1"]
    argv += ["--num-prompts", "3", "--input-len", "4-9", "--output-len", "3-5"]
    argv += ["--quantization", "fp8", "--kv-cache-dtype", "fp8", "--compare-bf16"]
    try:
        assert bench_main(argv) == 0
    finally:
        torch.set_num_threads(previous)
    captured = capsys.readouterr()
    out = captured.out
    assert out.count("\n") == 1
    partial = [json.loads(line) for line in captured.err.splitlines() if line.startswith('{"partial"')]
    assert [p["partial"] for p in partial] == ["bf16", "fp8", "fp8+kv-fp8"]
    result = json.loads(out)
    assert list(result["runs"]) == ["bf16", "fp8", "fp8+kv-fp8"]
    runs, summary = result["runs"], result["summary"]
    for name, run in runs.items():
        assert run["engine"]["output_tokens"] == runs["bf16"]["output_tokens"], name
        assert run["hf"] is None
    assert [runs[n]["config"]["quantization"] for n in runs] == [None, "fp8", "fp8"]
    assert [runs[n]["kv_cache"]["dtype"] for n in runs] == ["bfloat16", "bfloat16", "float8_e4m3fn"]
    bf16_kv, fp8_kv = runs["bf16"]["kv_cache"], runs["fp8+kv-fp8"]["kv_cache"]
    assert bf16_kv["bytes_per_token"] == 2 * fp8_kv["bytes_per_token"]
    assert summary["fp8+kv-fp8"]["kv_tokens_same_memory_vs_bf16"] == 2.0
    assert summary["fp8+kv-fp8"]["tokens_in_bf16_kv_memory"] == 2 * bf16_kv["tokens"]
    assert result["targets"]["fp8_kv_tokens_ratio"]["same_memory"] == 2.0
    assert "speedup_vs_bf16" in summary["fp8"] and "speedup_vs_bf16" not in summary["bf16"]


def test_weight_bytes_count_fp8_weights_as_one_byte() -> None:
    loaded = random_model("tiny", "cpu", torch.bfloat16)
    before = weight_bytes(loaded.model)
    n = quantize_model_(loaded.model)
    after = weight_bytes(loaded.model)
    linear = sum(m.weight.numel() for m in loaded.model.modules() if getattr(m, "fp8", False))
    scales = sum(m.weight_scale.numel() for m in loaded.model.modules() if getattr(m, "fp8", False))
    assert n == 8 and after["matmul_params"] == before["matmul_params"]
    assert after["decode_read_bytes"] == before["decode_read_bytes"] - linear + 4 * scales


def test_fp8_roofline_reads_half_the_bytes_and_names_its_matmul_rate() -> None:
    prompts, outputs = [100, 300, 1000], [50, 200, 20]
    args = dict(matmul_params=7_000_000_000, lm_head_params=500_000_000, bandwidth=4.0e12)
    bf16 = roofline(prompts, outputs, 16_000_000_000, 131072, flops=800e12, **args)
    fp8 = roofline(prompts, outputs, 8_000_000_000, 65536, flops=1600e12, matmul_dtype="fp8", **args)
    assert fp8["decode_s"] == pytest.approx(bf16["decode_s"] / 2, rel=1e-2)
    assert fp8["prefill_s"] == pytest.approx(bf16["prefill_s"] / 2, rel=1e-2)
    assert fp8["fp8_matmul_tflop_s"] == 1600.0 and "bf16_matmul_tflop_s" not in fp8
    assert fp8["kv_bytes_per_token"] == 65536
