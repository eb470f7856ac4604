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

FAMILIES = ["gemma2", "gemma3", "phi3", "phi3-partial", "mixtral", "qwen3-moe", "qwen2-moe"]


@pytest.fixture(scope="module", params=FAMILIES)
def tiny(request, tmp_path_factory):
    from transformers import AutoModelForCausalLM

    path = build_tiny_family(request.param, tmp_path_factory.mktemp(request.param))
    hf_model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
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
