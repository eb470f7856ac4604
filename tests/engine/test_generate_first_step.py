"""LLM.generate with a step in flight (async scheduling, forced on CPU): it adds the requests that fill
the first step, launches it, then adds the rest while it runs; the outputs are the synchronous loop's."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engine import LLM, SamplingParams
from engine.loader import load_model
from tests.engine.tiny_models import build_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model("llama", tmp_path_factory.mktemp("llama"))


def run(path: Path, overlapped: bool) -> tuple[list, list[bool]]:
    llm = LLM(str(path), loaded=load_model(model_path=path, dtype="float32", device="cpu"), block_size=4,
              num_kv_blocks=256, max_num_batched_tokens=40, async_scheduling=overlapped)
    in_flight: list[bool] = []  # per add: was a step already launched?
    real_add = llm.add_request

    def add(*args, **kwargs):
        in_flight.append(llm.core.inflight is not None)
        return real_add(*args, **kwargs)

    llm.add_request = add  # type: ignore[method-assign]
    rng = random.Random(5)
    prompts = [[rng.randrange(3, 300) for _ in range(n)] for n in (9, 14, 30, 5, 22, 11, 17)]
    params = [SamplingParams(temperature=0.8, seed=i, max_tokens=5 + i, ignore_eos=True, n=1 + i % 2)
              for i in range(len(prompts))]
    outs = llm.generate(prompts, params, use_tqdm=False)
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks
    return [[c.token_ids for c in o.outputs] for o in outs], in_flight


def test_the_rest_is_added_while_the_first_step_runs(tiny_path: Path) -> None:
    sync_out, sync_flags = run(tiny_path, overlapped=False)
    async_out, async_flags = run(tiny_path, overlapped=True)
    assert async_out == sync_out
    assert not any(sync_flags)
    # 9 + 14 * 2 (n=2) + 30 prompt tokens fill the 40-token first step: three requests before it
    assert async_flags == [False] * 3 + [True] * 4
