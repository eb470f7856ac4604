"""On a CUDA GPU: Mistral, Qwen2 and Qwen2-MoE with their sliding windows on (window 8, every prompt
longer) give HF transformers' greedy tokens through the Triton paged kernels (fp32, graphs on and off),
also when later prompts hit the first one's cached prefix blocks.

Run: `pytest tests/gpu/test_window_families_gpu.py -m gpu -q` (skipped without CUDA)."""

from __future__ import annotations

import random

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

from engine import LLM, SamplingParams  # noqa: E402
from tests.engine.tiny_families import build_tiny_family, clear_greedy_prompts  # noqa: E402

MAX_TOKENS = 12
PROMPT_LENS = (9, 17, 23, 30, 41)


@pytest.fixture(scope="module", params=["mistral-swa", "qwen2-swa", "qwen2-moe-swa"])
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from transformers import AutoModelForCausalLM

    path = build_tiny_family(request.param, tmp_path_factory.mktemp(request.param))
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to("cuda").eval()
    seed = len(request.param)

    def varied(rng: random.Random) -> list[list[int]]:
        return [[rng.randrange(3, 500) for _ in range(n)] for n in PROMPT_LENS]

    def shared(rng: random.Random) -> list[list[int]]:
        prefix = [rng.randrange(3, 500) for _ in range(37)]
        return [prefix] + [prefix + [rng.randrange(3, 500) for _ in range(n)] for n in (1, 5, 11)]

    # prompts whose HF tokens have no near-tie (see clear_greedy_prompts)
    prompts, refs = clear_greedy_prompts(hf, varied, seed, MAX_TOKENS, device="cuda")
    shared_prompts, shared_refs = clear_greedy_prompts(hf, shared, seed + 1, MAX_TOKENS, device="cuda")
    return {
        "path": path,
        "prompts": prompts,
        "refs": refs,
        "shared": shared_prompts,
        "shared_refs": shared_refs,
    }


@pytest.mark.parametrize("enforce_eager", [False, True], ids=["graphs", "eager"])
def test_window_greedy_matches_hf(family: dict, enforce_eager: bool) -> None:
    llm = LLM(
        str(family["path"]),
        device="cuda",
        dtype="float32",
        enforce_eager=enforce_eager,
        max_num_seqs=16,
        num_kv_blocks=64,
        block_size=16,
    )
    params = SamplingParams(temperature=0, max_tokens=MAX_TOKENS, ignore_eos=True)
    outs = llm.generate(family["prompts"], params, use_tqdm=False)
    assert [o.outputs[0].token_ids for o in outs] == family["refs"]


def test_window_prefix_hits_and_chunks_match_hf(family: dict) -> None:
    llm = LLM(
        str(family["path"]),
        device="cuda",
        dtype="float32",
        max_num_seqs=16,
        num_kv_blocks=64,
        block_size=16,
        max_num_batched_tokens=24,
        max_model_len=128,
    )
    params = SamplingParams(temperature=0, max_tokens=MAX_TOKENS, ignore_eos=True)
    first = llm.generate(family["shared"][:1], params, use_tqdm=False)
    rest = llm.generate(family["shared"][1:], params, use_tqdm=False)
    assert llm.stats().prefix_cache_hits >= 3 * 32
    assert [o.outputs[0].token_ids for o in first + rest] == family["shared_refs"]
