"""Prompt logprobs on a CUDA GPU (the pinned, event-guarded copy path): HF transformers' log_softmax over
the prompt (fp32, same weights), whole and in chunks, with the step loop keeping a step in flight.

Run: `pytest tests/gpu -m gpu -q` (skipped without CUDA)."""

from __future__ import annotations

import random

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

from engine import LLM, SamplingParams  # noqa: E402
from tests.engine.test_prompt_logprobs import check  # noqa: E402
from tests.engine.tiny_models import build_tiny_model  # noqa: E402


@pytest.mark.parametrize("budget", [None, 7], ids=["whole", "chunked"])
def test_prompt_logprobs_match_hf_on_gpu(
    budget: int | None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from transformers import AutoModelForCausalLM

    path = build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3"))
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to("cuda").eval()
    rng = random.Random(3)
    prompts = [[rng.randrange(3, 500) for _ in range(n)] for n in (2, 17, 40)]
    with torch.inference_mode():
        logits = [hf(torch.tensor([p], device="cuda")).logits[0].float() for p in prompts]
    refs = [torch.log_softmax(x, dim=-1).cpu() for x in logits]
    extra = {"max_num_batched_tokens": budget} if budget else {}
    llm = LLM(str(path), device="cuda", dtype="float32", max_num_seqs=8, num_kv_blocks=64, **extra)
    assert llm.core.async_scheduling
    params = SamplingParams(temperature=0, max_tokens=4, prompt_logprobs=3)
    outs = llm.generate(prompts, params, use_tqdm=False)
    for out, prompt, ref in zip(outs, prompts, refs, strict=True):
        check(out.prompt_logprobs, prompt, ref, 3, tol=5e-3)  # (TF32 in the kernels)
