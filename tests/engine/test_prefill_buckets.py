"""engine/prefill_buckets.py: eager steps padded to a multiple of PREFILL_PAD tokens (CUDA; forced here on
the CPU) give the same tokens as unpadded steps, padded tokens never reach the KV cache, and the start-up
warm-up calls each distinct linear layer once per padded size."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import LLM, SamplingParams
from engine.layers.linear import LinearBase
from engine.loader import load_model
from engine.prefill_buckets import bucket_sizes, distinct_linears, pad_step, padded_count, warm_linears
from tests.engine.tiny_models import build_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


def test_padded_count_and_sizes() -> None:
    assert [padded_count(n, 64) for n in (1, 63, 64, 65, 16384)] == [64, 64, 64, 128, 16384]
    assert padded_count(7, 1) == 7
    assert bucket_sizes(200, 64) == [64, 128, 192, 256]
    assert bucket_sizes(128, 64) == [64, 128]


def test_pad_step_adds_unstored_tokens() -> None:
    ids, pos, slots = (np.arange(3, dtype=np.int64) + k for k in (5, 0, 10))
    ids2, pos2, slots2 = pad_step(ids, pos, slots, 6)
    assert ids2.tolist() == [5, 6, 7, 0, 0, 0]
    assert pos2.tolist() == [0, 1, 2, 0, 0, 0]
    assert slots2.tolist() == [10, 11, 12, -1, -1, -1]
    assert all(a.dtype == np.int64 for a in (ids2, pos2, slots2))
    same = pad_step(ids, pos, slots, 3)
    assert same[0] is ids and same[2] is slots


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3"))


def test_distinct_linears_and_warm_up_calls(tiny_llama: Path) -> None:
    loaded = load_model(model_path=tiny_llama, dtype="float32", device="cpu")
    layers = distinct_linears(loaded.model)
    all_linears = [m for m in loaded.model.modules() if isinstance(m, LinearBase)]
    shapes = {(tuple(m.weight.shape), m.bias is not None) for m in all_linears}
    assert len(layers) == len(shapes) < len(all_linears)  # one per shape, not one per layer
    assert warm_linears(loaded.model, [64, 128], torch.float32, torch.device("cpu")) == 2 * len(layers)
    assert warm_linears(loaded.model, [], torch.float32, torch.device("cpu")) == 0


def generate(path: Path, prompts: list[list[int]], pad: int) -> tuple[list[list[int]], torch.Tensor]:
    loaded = load_model(model_path=path, dtype="float32", device="cpu")
    # a small token budget: chunked prefill and steps mixing decode rows with a prefill chunk
    llm = LLM(str(path), loaded=loaded, num_kv_blocks=64, block_size=4, max_num_batched_tokens=24)
    assert llm.model_runner.prefill_pad == 1  # CPU default: no padding
    llm.model_runner.prefill_pad = pad
    params = SamplingParams(temperature=0, max_tokens=6, ignore_eos=True)
    outs = llm.generate(prompts, params, use_tqdm=False)
    return [o.outputs[0].token_ids for o in outs], llm.model_runner.kv_caches[0].clone()


def test_padded_steps_give_the_same_tokens_and_cache(tiny_llama: Path) -> None:
    rng = random.Random(3)
    prompts = [[rng.randrange(3, 200) for _ in range(n)] for n in (3, 17, 30, 9, 41)]
    plain, plain_cache = generate(tiny_llama, prompts, 1)
    padded, padded_cache = generate(tiny_llama, prompts, 16)
    assert padded == plain
    # padded tokens (slot -1) wrote nothing: the caches hold the same K/V
    assert torch.equal(padded_cache, plain_cache)
