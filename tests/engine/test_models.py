"""Our decoder against HF transformers, on tiny random models of each family: one prefill, a prefill
chunked through the paged cache (block_size 4, scrambled block ids) and token-by-token decode."""

from __future__ import annotations

import itertools
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_models import allocate_kv_caches, build_tiny_model, chunk_metadata, scrambled_block_table

from engine.attention_metadata import build_attention_metadata
from engine.layers.attention import paged_attention, store_kvcache
from engine.layers.layernorm import RMSNorm
from engine.loader import load_model

os.environ["HF_HUB_OFFLINE"] = "1"
torch.set_num_threads(2)

BLOCK_SIZE = 4
NUM_BLOCKS = 64
PROMPT_LEN = 23
CASES = [
    ("llama", False),
    ("llama3", False),
    ("mistral", False),
    ("qwen2", False),
    ("qwen3", False),
    ("llama", True),
    ("qwen3", True),
]


@pytest.fixture(scope="module", params=CASES, ids=[f"{f}-{'tied' if t else 'untied'}" for f, t in CASES])
def tiny(request, tmp_path_factory):
    from transformers import AutoModelForCausalLM

    family, tied = request.param
    path = build_tiny_model(family, tmp_path_factory.mktemp(family), tie_word_embeddings=tied)
    hf_model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    loaded = load_model(model_path=str(path), dtype="float32")
    input_ids = torch.randint(
        0, loaded.spec.vocab_size, (PROMPT_LEN,), generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        expected = hf_model(input_ids[None]).logits[0]
    return loaded, input_ids, expected


def _caches(loaded):
    spec = loaded.spec
    return allocate_kv_caches(
        spec.num_layers, NUM_BLOCKS, BLOCK_SIZE, spec.num_kv_heads, spec.head_dim, spec.dtype
    )


@torch.no_grad()
def run_chunks(loaded, input_ids: torch.Tensor, boundaries: list[int]) -> torch.Tensor:
    """Run input_ids in chunks [b_i, b_{i+1}) sharing one paged cache; logits of all tokens."""
    kv_caches = _caches(loaded)
    table = scrambled_block_table(len(input_ids), BLOCK_SIZE, NUM_BLOCKS)
    logits = []
    for start, end in itertools.pairwise(boundaries):
        positions, meta = chunk_metadata(start, end, table, BLOCK_SIZE)
        hidden = loaded.model(input_ids[start:end], positions, kv_caches, meta)
        logits.append(loaded.model.compute_logits(hidden))
    return torch.cat(logits)


def test_single_prefill_matches_hf(tiny):
    loaded, input_ids, expected = tiny
    logits = run_chunks(loaded, input_ids, [0, PROMPT_LEN])
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_chunked_prefill_matches_hf(tiny):
    loaded, input_ids, expected = tiny
    logits = run_chunks(loaded, input_ids, [0, 5, 6, 13, PROMPT_LEN])
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def test_token_by_token_decode_matches_hf(tiny):
    loaded, input_ids, expected = tiny
    logits = run_chunks(loaded, input_ids, list(range(PROMPT_LEN + 1)))
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


@torch.no_grad()
def test_mixed_batch_of_prefills_and_decodes(tiny):
    """One step with a decode, a prefill chunk and a fresh prefill; then an all-decode step."""
    loaded, input_ids, expected = tiny
    kv_caches = _caches(loaded)
    tables = [[1, 2, 3, 4, 5, 6], [20, 11, 17, 9, 30, 31], [40, 33, 35, 50, 41, 42]]
    for i, table in enumerate(tables[:2]):  # seq 0 cached 10 tokens, seq 1 cached 4
        cached = (10, 4)[i]
        positions, meta = chunk_metadata(0, cached, table, BLOCK_SIZE)
        loaded.model(input_ids[:cached], positions, kv_caches, meta)
    query_lens, seq_lens = [1, 8, 7], [11, 12, 7]
    ids = torch.cat([input_ids[10:11], input_ids[4:12], input_ids[0:7]])
    positions = torch.cat([torch.arange(10, 11), torch.arange(4, 12), torch.arange(0, 7)])
    meta = build_attention_metadata(query_lens, seq_lens, tables, BLOCK_SIZE)
    logits = loaded.model.compute_logits(loaded.model(ids, positions, kv_caches, meta))
    torch.testing.assert_close(
        logits, torch.cat([expected[10:11], expected[4:12], expected[0:7]]), atol=1e-4, rtol=1e-4
    )
    ids, positions = torch.stack([input_ids[11], input_ids[12], input_ids[7]]), torch.tensor([11, 12, 7])
    meta = build_attention_metadata([1, 1, 1], [12, 13, 8], tables, BLOCK_SIZE)
    logits = loaded.model.compute_logits(loaded.model(ids, positions, kv_caches, meta))
    torch.testing.assert_close(logits, expected[[11, 12, 7]], atol=1e-4, rtol=1e-4)


def dense_causal_attention(q, k, v, scale):
    """Naive reference for one sequence: q [Tq, Hq, D] are the last Tq of the Tk positions in k/v."""
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
    scores = torch.einsum("qhd,khd->hqk", q, k) * scale
    q_pos = torch.arange(k.shape[0] - q.shape[0], k.shape[0])
    scores = scores.masked_fill(torch.arange(k.shape[0])[None, :] > q_pos[:, None], float("-inf"))
    return torch.einsum("hqk,khd->qhd", scores.softmax(-1), v)


@settings(max_examples=40, deadline=None)
@given(
    lens=st.lists(st.tuples(st.integers(0, 20), st.integers(1, 9)), min_size=1, max_size=4),
    decode_only=st.booleans(),
    block_size=st.sampled_from([1, 2, 4, 16]),
    kv_heads=st.sampled_from([1, 2]),
    groups=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**16),
)
def test_paged_attention_matches_dense(lens, decode_only, block_size, kv_heads, groups, seed):
    """Random cached/new lengths, scrambled block tables, GQA: the paged ops equal dense causal attention."""
    generator = torch.Generator().manual_seed(seed)
    head_dim, num_blocks = 8, 128
    lens = [(cached, 1 if decode_only else new) for cached, new in lens]
    kv_cache = torch.randn(
        2, num_blocks, block_size, kv_heads, head_dim, generator=generator
    )  # garbage elsewhere
    free = (torch.randperm(num_blocks - 1, generator=generator) + 1).tolist()
    tables, q_all, k_all, v_all = [], [], [], []
    for cached, new in lens:
        total = cached + new
        tables.append([free.pop() for _ in range(-(-total // block_size))])
        k_all.append(torch.randn(total, kv_heads, head_dim, generator=generator))
        v_all.append(torch.randn(total, kv_heads, head_dim, generator=generator))
        q_all.append(torch.randn(new, kv_heads * groups, head_dim, generator=generator))
    # the cached part goes in first, as an earlier step would have stored it
    cached_meta = build_attention_metadata([c for c, _ in lens], [c for c, _ in lens], tables, block_size)
    store_kvcache(
        torch.cat([k[:c] for k, (c, _) in zip(k_all, lens, strict=True)]),
        torch.cat([v[:c] for v, (c, _) in zip(v_all, lens, strict=True)]),
        kv_cache,
        cached_meta.slot_mapping,
    )
    meta = build_attention_metadata([n for _, n in lens], [c + n for c, n in lens], tables, block_size)
    store_kvcache(
        torch.cat([k[c:] for k, (c, _) in zip(k_all, lens, strict=True)]),
        torch.cat([v[c:] for v, (c, _) in zip(v_all, lens, strict=True)]),
        kv_cache,
        meta.slot_mapping,
    )
    out = paged_attention(torch.cat(q_all), kv_cache, meta, head_dim**-0.5)
    expected = torch.cat(
        [dense_causal_attention(q, k, v, head_dim**-0.5) for q, k, v in zip(q_all, k_all, v_all, strict=True)]
    )
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_store_kvcache_skips_minus_one():
    kv_cache = torch.zeros(2, 3, 2, 1, 4)
    k, v = torch.ones(3, 1, 4), 2 * torch.ones(3, 1, 4)
    store_kvcache(k, v, kv_cache, torch.tensor([5, -1, 0]))
    flat = kv_cache.view(2, 6, 4)
    assert flat[0, 5].eq(1).all() and flat[1, 5].eq(2).all() and flat[0, 0].eq(1).all()
    assert flat[:, 1:5].eq(0).all()


def test_fused_residual_rmsnorm_equals_add_then_norm():
    norm = RMSNorm(16, eps=1e-6)
    norm.weight.data = torch.randn(16)
    x, residual = torch.randn(5, 16), torch.randn(5, 16)
    out, new_residual = norm(x, residual)
    expected, _ = norm(x + residual)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(new_residual, x + residual)
