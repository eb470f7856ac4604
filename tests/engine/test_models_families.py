"""Gemma 2, Gemma 3, Phi-3 (and Phi-4-mini's partial rotary), Mixtral and the Qwen MoE families against
HF transformers on tiny random models: one prefill, a chunked prefill through the paged cache and
token-by-token decode (the prompt is longer than every sliding window), plus a greedy continuation."""

from __future__ import annotations

import os

import pytest
import torch
from test_models import PROMPT_LEN, run_chunks
from tiny_families import build_tiny_family

from engine.loader import load_model

os.environ["HF_HUB_OFFLINE"] = "1"

FAMILIES = [
    "gemma2", "phi3", "mistral-swa",
    # seconds each for HF's reference: `make test` only (tests/kernels/test_moe.py covers MoE fast)
    *(pytest.param(f, marks=pytest.mark.slow)
      for f in ("gemma3", "gemma3-multimodal", "phi3-partial", "mixtral", "qwen3-moe", "qwen2-moe",
                "qwen2-swa", "qwen2-moe-swa")),
]


@pytest.fixture(scope="module", params=FAMILIES)
def tiny(request, tmp_path_factory):
    from transformers import AutoModelForCausalLM, Gemma3ForConditionalGeneration

    path = build_tiny_family(request.param, tmp_path_factory.mktemp(request.param))
    multimodal = request.param == "gemma3-multimodal"
    hf_class = Gemma3ForConditionalGeneration if multimodal else AutoModelForCausalLM
    hf_model = hf_class.from_pretrained(path, dtype=torch.float32).eval()
    loaded = load_model(model_path=str(path), dtype="float32")
    input_ids = torch.randint(
        0, loaded.spec.vocab_size, (PROMPT_LEN,), generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        expected = hf_model(input_ids[None]).logits[0]
    return loaded, input_ids, expected, hf_model, path


def test_prefill_chunked_and_decode_match_hf(tiny):
    loaded, input_ids, expected, _, _ = tiny
    for boundaries in ([0, PROMPT_LEN], [0, 5, 6, 13, PROMPT_LEN], list(range(PROMPT_LEN + 1))):
        logits = run_chunks(loaded, input_ids, boundaries)
        torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


@torch.no_grad()
def test_greedy_continuation_matches_hf(tiny):
    """16 tokens in all: within Phi-3's original context, where HF uses LongRoPE's short factors, as the
    engine does at max_model_len 16."""
    _, input_ids, _, hf_model, path = tiny
    loaded = load_model(model_path=str(path), dtype="float32", max_model_len=16)
    prompt = input_ids[:8]
    hf_ids = hf_model.generate(prompt[None], max_new_tokens=8, do_sample=False, min_new_tokens=8)[0]
    ids = prompt.clone()
    for _ in range(8):
        logits = run_chunks(loaded, ids, [0, len(ids)])
        ids = torch.cat([ids, logits[-1:].argmax(-1)])
    assert ids.tolist() == hf_ids.tolist()


def test_gemma3_4b_config_reads_transformers_defaults() -> None:
    """Gemma 3 4B's config.json (multimodal, transformers 4.50) leaves most text fields to the defaults."""
    from engine.models.config import DecoderConfig

    hf = {
        "architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3", "eos_token_id": [1, 106],
        "torch_dtype": "bfloat16",
        "text_config": {
            "hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text",
            "num_hidden_layers": 34, "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
            "sliding_window": 1024,
        },
        "vision_config": {"model_type": "siglip_vision_model"},
    }
    config = DecoderConfig.from_hf_config(hf)
    assert config.architecture == "Gemma3ForCausalLM" and config.hidden_act == "gelu_pytorch_tanh"
    assert (config.num_heads, config.num_kv_heads, config.head_dim, config.vocab_size) == (8, 4, 256, 262_208)
    assert config.query_pre_attn_scalar == 256 and config.eos_token_ids == [1, 106]
    assert [config.layer_window(i) for i in range(6)] == [1024] * 5 + [None]
    assert config.rope_scaling == {"factor": 8.0, "rope_type": "linear"} and config.rope_local_scaling is None
    assert (config.rope_theta, config.rope_local_theta) == (1_000_000.0, 10_000.0)


def test_engine_generates_hf_greedy_tokens(tiny) -> None:
    """Through the whole engine (scheduler, paged cache of block 8, chunked prefill): HF's greedy tokens."""
    from engine import LLM, SamplingParams

    _, input_ids, _, hf_model, path = tiny
    phi3 = "phi3" in str(path)  # within LongRoPE's short context, where HF's factors stay put
    prompts = [input_ids[:9].tolist()] + ([] if phi3 else [input_ids.tolist()])
    llm = LLM(str(path), device="cpu", dtype="float32", block_size=8, num_kv_blocks=32,
              max_num_batched_tokens=16, max_model_len=16 if phi3 else None)
    params = SamplingParams(temperature=0, max_tokens=6, ignore_eos=True)
    outs = llm.generate(prompts, params, use_tqdm=False)
    for prompt, out in zip(prompts, outs, strict=True):
        with torch.no_grad():
            hf_ids = hf_model.generate(
                torch.tensor([prompt]), max_new_tokens=6, min_new_tokens=6, do_sample=False
            )
        assert out.outputs[0].token_ids == hf_ids[0, len(prompt) :].tolist()
