"""The FP8 KV cache in the engine (CPU reference path, TEECUBE_FP8_REFERENCE=1): sizing from the element
size, the cache allocated in float8_e4m3fn, prefix-cache hits and chunked prefill reading FP8 K/V, the
checkpoint's per-layer KV scales in use, and FP8 weights + FP8 KV together through LLM.generate."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from engine import LLM, SamplingParams
from engine.errors import InvalidParam
from engine.kv_cache_spec import kv_block_bytes, kv_bytes_per_token, kv_cache_dtype
from engine.loader import load_model
from engine.quantization.fp8 import FP8_DTYPE
from engine.quantization.support import REFERENCE_ENV
from tests.engine.tiny_models import (
    allocate_kv_caches,
    build_tiny_model,
    chunk_metadata,
    scrambled_block_table,
)

pytestmark = pytest.mark.usefixtures("one_thread")
GREEDY = SamplingParams(temperature=0, max_tokens=6, ignore_eos=True)


@pytest.fixture(autouse=True)
def reference_path(monkeypatch) -> None:
    monkeypatch.setenv(REFERENCE_ENV, "1")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model("llama3", tmp_path_factory.mktemp("llama3") / "m")


def test_kv_dtype_and_bytes_per_token() -> None:
    assert kv_cache_dtype("auto", torch.bfloat16) is torch.bfloat16
    assert kv_cache_dtype("fp8", torch.bfloat16) is FP8_DTYPE
    assert kv_cache_dtype("fp8_e4m3", torch.float32) is FP8_DTYPE
    with pytest.raises(InvalidParam, match="kv_cache_dtype"):
        kv_cache_dtype("int8", torch.bfloat16)
    # llama3-8b: 32 layers x 8 KV heads x 128 = 128 KiB per token in bf16, half in FP8
    assert kv_bytes_per_token(32, 8, 128, torch.bfloat16) == 131072
    assert kv_bytes_per_token(32, 8, 128, FP8_DTYPE) == 65536
    assert kv_block_bytes(32, 8, 128, 16, FP8_DTYPE) == 16 * 65536


def test_fp8_cache_holds_more_tokens_in_the_same_memory(tiny: Path) -> None:
    loaded = load_model(model_path=str(tiny))
    budget = dict(cpu_kv_cache_space_gb=1e-4, enable_prefix_caching=False)
    dense = LLM(str(tiny), loaded=loaded, **budget)
    fp8 = LLM(str(tiny), loaded=loaded, kv_cache_dtype="fp8", **budget)
    assert all(c.dtype == FP8_DTYPE for c in fp8.model_runner.kv_caches)
    assert dense.model_runner.kv_caches[0].dtype == torch.float32
    # fp32 on the CPU: 4 bytes per element against 1 (bf16 on a GPU: 2x)
    assert fp8.model_runner.block_bytes * 4 == dense.model_runner.block_bytes
    assert fp8.model_runner.num_blocks >= 4 * dense.model_runner.num_blocks
    out = fp8.generate([[5, 6, 7, 8]], GREEDY, use_tqdm=False)[0]
    assert len(out.outputs[0].token_ids) == 6


def test_prefix_hits_and_chunked_prefill_read_the_same_fp8_kv(tiny: Path) -> None:
    loaded = load_model(model_path=str(tiny))
    prefix = [(i * 37) % 400 + 3 for i in range(40)]
    a, b = [*prefix, 11, 12, 13], [*prefix, 21, 22]
    alone = LLM(str(tiny), loaded=loaded, kv_cache_dtype="fp8", num_kv_blocks=64, block_size=4)
    expected = alone.generate([a], GREEDY, use_tqdm=False)[0].outputs[0].token_ids
    llm = LLM(str(tiny), loaded=loaded, kv_cache_dtype="fp8", num_kv_blocks=64, block_size=4)
    llm.generate([b], GREEDY, use_tqdm=False)
    hit = llm.generate([a], GREEDY, use_tqdm=False)[0]
    assert hit.num_cached_tokens >= 40 and hit.outputs[0].token_ids == expected
    chunked = LLM(
        str(tiny),
        loaded=loaded,
        kv_cache_dtype="fp8",
        num_kv_blocks=64,
        block_size=4,
        max_num_batched_tokens=7,
    )
    assert chunked.generate([a], GREEDY, use_tqdm=False)[0].outputs[0].token_ids == expected


@torch.no_grad()
def logits_with_cache(loaded, dtype: torch.dtype, input_ids: torch.Tensor) -> torch.Tensor:
    spec, block_size = loaded.spec, 4
    caches = allocate_kv_caches(spec.num_layers, 32, block_size, spec.num_kv_heads, spec.head_dim, dtype)
    table = scrambled_block_table(len(input_ids), block_size, 32)
    n, out = len(input_ids), []
    for start, end in itertools.pairwise([0, n - 3, n - 2, n - 1, n]):
        positions, meta = chunk_metadata(start, end, table, block_size)
        out.append(loaded.model.compute_logits(loaded.model(input_ids[start:end], positions, caches, meta)))
    return torch.cat(out)


def test_fp8_kv_logits_track_the_float_cache_and_use_the_layer_scales(tiny: Path) -> None:
    loaded = load_model(model_path=str(tiny))
    ids = torch.randint(0, loaded.spec.vocab_size, (24,), generator=torch.Generator().manual_seed(0))
    expected = logits_with_cache(loaded, torch.float32, ids)
    got = logits_with_cache(loaded, FP8_DTYPE, ids)
    cosine = F.cosine_similarity(got, expected, dim=-1)
    assert cosine.mean() > 0.99 and cosine.min() > 0.97, cosine  # measured 0.997 / 0.983
    # a checkpoint's scales are applied: a tiny k_scale saturates K (448 * 1e-3 ~ 0.45), so logits move
    for layer in loaded.model.model.layers:
        layer.self_attn.attn.k_scale = 1e-3
    moved = logits_with_cache(loaded, FP8_DTYPE, ids)
    assert F.cosine_similarity(moved, expected, dim=-1).mean() < 0.95
    # a float cache ignores them
    assert torch.equal(logits_with_cache(loaded, torch.float32, ids), expected)


def test_fp8_weights_and_fp8_kv_through_generate(tiny: Path) -> None:
    llm = LLM(
        str(tiny), quantization="fp8", kv_cache_dtype="fp8", num_kv_blocks=64, block_size=4, device="cpu"
    )
    layer = llm.model_runner.model.model.layers[0]
    assert layer.mlp.down_proj.fp8 and layer.self_attn.qkv_proj.weight.dtype == FP8_DTYPE
    outs = llm.generate([[5, 6, 7], [9, 10, 11, 12, 13]], GREEDY, use_tqdm=False)
    again = llm.generate([[5, 6, 7], [9, 10, 11, 12, 13]], GREEDY, use_tqdm=False)
    assert [o.outputs[0].token_ids for o in outs] == [o.outputs[0].token_ids for o in again]
    assert all(len(o.outputs[0].token_ids) == 6 for o in outs)


def test_engine_cli_flags_reach_the_config_and_fail_clearly_on_a_cpu(monkeypatch, capsys) -> None:
    from engine.cli import build_parser, configs, main

    args = build_parser().parse_args(
        ["--model", "m", "--device", "cpu", "-q", "fp8", "--kv-cache-dtype", "fp8"]
    )
    engine_config, _ = configs(args)
    assert (engine_config.quantization, engine_config.kv_cache_dtype) == ("fp8", "fp8")
    monkeypatch.delenv(REFERENCE_ENV)
    assert main(["--model", "m", "--device", "cpu", "--quantization", "fp8"]) == 2
    err = capsys.readouterr().err
    assert "--quantization fp8 needs an NVIDIA GPU with FP8 support" in err and "Traceback" not in err
