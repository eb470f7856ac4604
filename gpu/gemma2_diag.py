"""Diagnose tests/gpu/test_moe_gpu.py::test_greedy_matches_hf[gemma2-*] on a GPU (a late divergence seen on
an H200): the tiny Gemma 2's greedy tokens against HF, batched and alone, with the Triton attention
kernels and with the PyTorch attention path on the same CUDA tensors. Prints one JSON line per run."""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import engine.layers.attention as attention
from engine import LLM, SamplingParams
from tests.engine.tiny_families import build_tiny_family

MAX_TOKENS = 12


def main() -> None:
    from transformers import AutoModelForCausalLM

    path = build_tiny_family("gemma2", Path(tempfile.mkdtemp()) / "gemma2")
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to("cuda").eval()
    rng = random.Random(6)  # noqa: S311
    prompts = [[rng.randrange(3, 500) for _ in range(n)] for n in (17, 23, 30, 41, 20)]
    prompts += [[338] * 30, [250] * 41, [320] * 20]
    refs, margins = [], []
    with torch.inference_mode():
        for p in prompts:
            ids = torch.tensor([p], device="cuda")
            out = hf.generate(
                ids, do_sample=False, max_new_tokens=MAX_TOKENS, eos_token_id=None, pad_token_id=0
            )
            refs.append(out[0, len(p) :].tolist())
            top = hf(out).logits[0, len(p) - 1 :].topk(2).values
            margins.append(round(float((top[:, 0] - top[:, 1]).min()), 4))
    print(json.dumps({"hf_min_top2_margin": margins}), flush=True)
    params = SamplingParams(temperature=0, max_tokens=MAX_TOKENS, ignore_eos=True)
    kernels = attention.cuda_kernels
    for mode in ("triton", "torch-attention"):
        attention.cuda_kernels = kernels if mode == "triton" else (lambda: None)
        llm = LLM(
            str(path), device="cuda", dtype="float32", enforce_eager=True, max_num_seqs=16, num_kv_blocks=64
        )
        for batch in ("batched", "alone"):
            if batch == "batched":
                got = [o.outputs[0].token_ids for o in llm.generate(prompts, params, use_tqdm=False)]
            else:
                got = [llm.generate([p], params, use_tqdm=False)[0].outputs[0].token_ids for p in prompts]
            bad = {i: {"got": g, "hf": r} for i, (g, r) in enumerate(zip(got, refs, strict=True)) if g != r}
            print(json.dumps({"mode": mode, "batch": batch, "mismatches": bad}), flush=True)
        del llm
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
