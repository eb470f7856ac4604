"""Sliding windows of Mistral, Qwen2 and Qwen2-MoE (and which layers slide in every family, as
transformers decides), and the engine's greedy tokens against HF with the window shorter than the
prompt, through chunked prefill and prefix-cache hits (block 8, window 8)."""

from __future__ import annotations

import os
import random

import pytest
import torch
from tiny_families import build_tiny_family

from engine.errors import UnsupportedModel
from engine.models.config import DecoderConfig

os.environ["HF_HUB_OFFLINE"] = "1"

BASE = dict(
    vocab_size=512,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=4,
    num_attention_heads=4,
    max_position_embeddings=256,
)


def windows(architecture: str, max_model_len: int | None = None, **hf: object) -> list[int | None]:
    config = DecoderConfig.from_hf_config({**BASE, "architectures": [architecture], **hf}, max_model_len)
    return [config.layer_window(i) for i in range(config.num_layers)]


def test_mistral_mixtral_phi3_slide_every_layer() -> None:
    for arch in ("MistralForCausalLM", "MixtralForCausalLM", "Phi3ForCausalLM"):
        extra = dict(num_local_experts=4, num_experts_per_tok=2) if arch == "MixtralForCausalLM" else {}
        assert windows(arch, sliding_window=16, **extra) == [16] * 4
        assert windows(arch, sliding_window=None, **extra) == [None] * 4
    # MistralForCausalLM ignores layer_types (transformers warns and slides everywhere)
    types = ["full_attention", "sliding_attention"] * 2
    assert windows("MistralForCausalLM", sliding_window=16, layer_types=types) == [16] * 4


def test_qwen2_and_qwen3_slide_from_max_window_layers() -> None:
    for arch in ("Qwen2ForCausalLM", "Qwen3ForCausalLM"):
        assert windows(arch, sliding_window=16, max_window_layers=2) == [None] * 4  # use_sliding_window off
        assert windows(arch, sliding_window=16, use_sliding_window=False) == [None] * 4
        on = dict(sliding_window=16, use_sliding_window=True)
        assert windows(arch, **on, max_window_layers=2) == [None, None, 16, 16]
        assert windows(arch, **on) == [None] * 4  # max_window_layers defaults to 28
        types = ["sliding_attention", "full_attention"] * 2  # config.json's layer_types win
        assert windows(arch, **on, max_window_layers=2, layer_types=types) == [16, None, 16, None]


def test_qwen_moe_windows() -> None:
    moe = dict(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32)
    on = dict(sliding_window=16, use_sliding_window=True)
    assert windows("Qwen2MoeForCausalLM", **moe, **on, max_window_layers=3) == [16, None, 16, None]
    assert windows("Qwen2MoeForCausalLM", **moe, **on, max_window_layers=1) == [16, None, None, None]
    assert windows("Qwen2MoeForCausalLM", **moe, sliding_window=16, max_window_layers=3) == [None] * 4
    assert windows("Qwen3MoeForCausalLM", **moe, **on) == [16] * 4
    assert windows("Qwen3MoeForCausalLM", **moe, sliding_window=16) == [None] * 4


def test_a_window_no_shorter_than_max_model_len_is_dropped() -> None:
    assert windows("MistralForCausalLM", 16, sliding_window=16) == [None] * 4
    assert windows("MistralForCausalLM", 17, sliding_window=16) == [16] * 4
    assert windows("MistralForCausalLM", None, sliding_window=4096) == [4096] * 4  # length unknown


@pytest.mark.parametrize(
    ("hf", "message"),
    [
        (dict(architectures=["MistralForCausalLM"], sliding_window=0), "positive integer"),
        (dict(architectures=["MistralForCausalLM"], sliding_window="4096"), "positive integer"),
        (
            dict(
                architectures=["Qwen2ForCausalLM"],
                sliding_window=8,
                use_sliding_window=True,
                layer_types=["chunked_attention"] * 4,
            ),
            "chunked_attention",
        ),
        (
            dict(
                architectures=["Qwen2ForCausalLM"],
                sliding_window=8,
                use_sliding_window=True,
                layer_types=["full_attention"] * 3,
            ),
            "each of the 4 layers",
        ),
    ],
)
def test_what_cannot_run_is_refused(hf: dict, message: str) -> None:
    with pytest.raises(UnsupportedModel, match=message):
        DecoderConfig.from_hf_config({**BASE, **hf})


@pytest.fixture(scope="module", params=[pytest.param("mistral-swa", marks=pytest.mark.slow), "qwen2-swa",
                                        pytest.param("qwen2-moe-swa", marks=pytest.mark.slow)])
def tiny(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from transformers import AutoModelForCausalLM

    path = build_tiny_family(request.param, tmp_path_factory.mktemp(request.param))
    hf_model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    return dict(path=path, hf=hf_model)


@torch.no_grad()
def hf_greedy(hf_model: torch.nn.Module, prompt: list[int], max_tokens: int) -> list[int]:
    out = hf_model.generate(
        torch.tensor([prompt]), max_new_tokens=max_tokens, min_new_tokens=max_tokens, do_sample=False
    )
    return out[0, len(prompt) :].tolist()


def test_prefix_hits_and_chunked_prefill_keep_hf_greedy_tokens(tiny: dict) -> None:
    """A 21-token shared prefix (two full blocks past the window) served first, then prompts that hit
    its cached blocks, prefilled in chunks of 16; 10 new tokens each (the window is 8)."""
    from engine import LLM, SamplingParams

    rng = random.Random(7)
    prefix = [rng.randrange(3, 500) for _ in range(21)]
    prompts = [prefix] + [prefix + [rng.randrange(3, 500) for _ in range(n)] for n in (1, 6, 13)]
    llm = LLM(
        str(tiny["path"]),
        device="cpu",
        dtype="float32",
        block_size=8,
        num_kv_blocks=64,
        max_num_batched_tokens=16,
        max_model_len=64,
    )
    params = SamplingParams(temperature=0, max_tokens=10, ignore_eos=True)
    first = llm.generate(prompts[:1], params, use_tqdm=False)
    rest = llm.generate(prompts[1:], params, use_tqdm=False)
    assert llm.stats().prefix_cache_hits >= 3 * 16
    got = [o.outputs[0].token_ids for o in first + rest]
    assert got == [hf_greedy(tiny["hf"], p, 10) for p in prompts]
