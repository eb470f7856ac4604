"""`teecube bench throughput --shape`: PERFORMANCE.md's workload, the roofline model and the JSON keys
(on the tiny shape, on the CPU; the GPU run is in tests/gpu)."""

from __future__ import annotations

import json

import pytest
import torch

from engine.bench.roofline import roofline
from engine.bench.shapes import SHAPES, random_model, weight_bytes
from engine.bench.throughput import random_workload
from engine.models.config import DecoderConfig
from engine.models.decoder import DecoderForCausalLM
from teecube.bench import main as bench_main


def test_workload_is_performance_md() -> None:
    w = random_workload(256, (100, 1024), (100, 1024), vocab_size=151936, seed=0)
    assert (w.prompt_tokens, w.output_tokens) == (148_194, 140_797)
    assert all(100 <= len(p) <= 1024 and 0 <= min(p) and max(p) <= 10_000 for p in w.prompts)


def meta_model(shape: str) -> DecoderForCausalLM:
    with torch.device("meta"):
        return DecoderForCausalLM(DecoderConfig.from_hf_config(SHAPES[shape]))


def test_weight_bytes_count_tied_embeddings_once() -> None:
    qwen = weight_bytes(meta_model("qwen3-0.6b"))
    assert qwen["lm_head_params"] == 151936 * 1024
    assert qwen["matmul_params"] == 28 * (1024 * 4096 + 2048 * 1024 + 1024 * 6144 + 3072 * 1024)
    assert 1.18e9 < qwen["decode_read_bytes"] / 4 * 2 < 1.2e9  # meta tensors are float32: 4 bytes
    llama = weight_bytes(meta_model("llama3-8b"))  # untied: the embedding is not read by decode
    assert 7.4e9 < llama["matmul_params"] + llama["lm_head_params"] < 7.6e9


def test_roofline_reproduces_performance_md() -> None:
    """PERFORMANCE.md: 25,200 output tok/s for qwen3-0.6b at 3.0 TB/s and 788 TFLOP/s."""
    w = random_workload(256, (100, 1024), (100, 1024), vocab_size=151936, seed=0)
    wb = weight_bytes(meta_model("qwen3-0.6b"))
    kv_per_token = 2 * 28 * 8 * 128 * 2
    r = roofline(
        [len(p) for p in w.prompts], w.output_lens, wb["decode_read_bytes"] // 2, kv_per_token,
        wb["matmul_params"], wb["lm_head_params"], 3.0e12, 788e12,
    )
    assert r["output_tok_per_s"] == pytest.approx(25_200, rel=0.02)
    assert r["decode_steps"] == max(w.output_lens) - 1 and r["prefill_s"] < 0.05 * r["decode_s"]


def test_roofline_with_decode_flops_binds_only_where_gemms_outrun_the_weight_read() -> None:
    """llama3-8b at 256 sequences on an H200 (4.27 TB/s, 794 TFLOP/s): the full-batch steps are
    compute-bound (2 * 7.5e9 * 256 FLOPs take longer than reading 15 GB), so the bound is lower; with a
    huge matmul rate it is the bandwidth roofline again."""
    w = random_workload(256, (100, 1024), (100, 1024), vocab_size=128256, seed=0)
    wb = weight_bytes(meta_model("llama3-8b"))
    args = ([len(p) for p in w.prompts], w.output_lens, wb["decode_read_bytes"] // 2, 2 * 32 * 8 * 128 * 2,
            wb["matmul_params"], wb["lm_head_params"], 4.27e12)
    r = roofline(*args, 794e12)
    bound = r["with_decode_flops"]
    assert r["decode_s"] + r["prefill_s"] < bound["seconds"] < 1.2 * r["seconds"]
    assert bound["output_tok_per_s"] < r["output_tok_per_s"]
    fast = roofline(*args, 1e18)["with_decode_flops"]
    assert fast["seconds"] == pytest.approx(roofline(*args, 1e18)["seconds"], rel=1e-6)


def test_random_model_is_finite() -> None:
    loaded = random_model("tiny", "cpu", torch.float32)
    assert all(torch.isfinite(p).all() for p in loaded.model.parameters())
    assert loaded.spec.vocab_size == 512 and loaded.tokenizer.decode([1, 2]) == ""


def test_shape_needs_random_weights(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_main(["throughput", "--shape", "tiny", "--device", "cpu"])
    assert "--random-weights" in capsys.readouterr().err


@pytest.mark.parametrize("skip_hf", [True, False])
@pytest.mark.slow
def test_shape_bench_prints_one_json_object(capsys: pytest.CaptureFixture[str], skip_hf: bool) -> None:
    previous = torch.get_num_threads()
    argv = ["throughput", "--shape", "tiny", "--random-weights", "--device", "cpu", "--threads", "1"]
    argv += ["--num-prompts", "5", "--input-len", "4-9", "--output-len", "3-6", "--hf-batch-size", "2"]
    argv += ["--hf-batches", "2", "--profile"] + (["--skip-hf"] if skip_hf else [])
    try:
        assert bench_main(argv) == 0
    finally:
        torch.set_num_threads(previous)
    out = capsys.readouterr().out
    result = json.loads(out)
    assert out.count("\n") == 1
    w = random_workload(5, (4, 9), (3, 6), vocab_size=512, seed=0)
    assert result["prompt_tokens"] == w.prompt_tokens and result["output_tokens"] == w.output_tokens
    assert result["engine"]["output_tokens"] == w.output_tokens
    assert result["temperature"] == 0.6 and result["weights"] == "random" and result["dtype"] == "bfloat16"
    assert result["roofline"] is None  # no GPU to measure
    assert result["kv_cache"]["tokens"] == result["kv_cache"]["num_blocks"] * 16
    assert set(result["profile"]) == {"first_steps", "decode_steps", "method"}
    assert result["profile"]["decode_steps"]["steps"] > 0
    assert result["profile"]["first_steps"]["prefix_cache_reset"] is True  # real prefill, not prefix hits
    assert result["config"]["max_model_len"] == 4096
    if skip_hf:
        assert result["hf"] is None and result["ratio"] is None
    else:
        hf = result["hf"]
        assert hf["batches_run"] == 2 and hf["batches_in_workload"] == 3 and hf["subset"] is True
        assert hf["output_tokens"] == sum(w.output_lens[:4])
