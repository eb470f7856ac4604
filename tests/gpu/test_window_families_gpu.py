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
from tests.engine.tiny_families import build_tiny_family  # noqa: E402

MAX_TOKENS = 12
PROMPT_LENS = (9, 17, 23, 30, 41)


def hf_greedy(hf: torch.nn.Module, prompt: list[int]) -> list[int]:
    ids = torch.tensor([prompt], device="cuda")
    out = hf.generate(ids, do_sample=False, max_new_tokens=MAX_TOKENS, eos_token_id=None, pad_token_id=0)
    return out[0, len(prompt) :].tolist()


@pytest.fixture(scope="module", params=["mistral-swa", "qwen2-swa", "qwen2-moe-swa"])
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from transformers import AutoModelForCausalLM

    path = build_tiny_family(request.param, tmp_path_factory.mktemp(request.param))
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to("cuda").eval()
    rng = random.Random(len(request.param))
    prompts = [[rng.randrange(3, 500) for _ in range(n)] for n in PROMPT_LENS]
    prefix = [rng.randrange(3, 500) for _ in range(37)]
    shared = [prefix] + [prefix + [rng.randrange(3, 500) for _ in range(n)] for n in (1, 5, 11)]
    with torch.inference_mode():
        refs = [hf_greedy(hf, p) for p in prompts]
        shared_refs = [hf_greedy(hf, p) for p in shared]
    return {"path": path, "prompts": prompts, "refs": refs, "shared": shared, "shared_refs": shared_refs}


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
