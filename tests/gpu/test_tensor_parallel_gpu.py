"""Tensor parallelism on 2 GPUs (NCCL, no NVLink multicast): greedy tokens at tensor-parallel size 2
equal size 1 (fp32, same weights) for a tiny random model of each family, with decode CUDA graphs on
and off; and `teecube bench throughput --shape ... -tp 2` on the GPUs.

Run: `pytest tests/gpu/test_tensor_parallel_gpu.py -m gpu -q` (skipped with fewer than 2 GPUs)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs"),
]

from engine import LLM, SamplingParams  # noqa: E402
from engine.distributed import get_tp_size  # noqa: E402
from teecube.bench import main as bench_main  # noqa: E402
from tests.engine.tiny_models import FAMILIES, build_tiny_model  # noqa: E402

PARAMS = SamplingParams(temperature=0, max_tokens=12, ignore_eos=True)
ENGINE = dict(device="cuda", dtype="float32", max_num_seqs=16, num_kv_blocks=64)


def prompts(seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(3, 500) for _ in range(n)] for n in (3, 9, 17, 30, 41)]


@pytest.mark.parametrize("enforce_eager", [False, True], ids=["graphs", "eager"])
@pytest.mark.parametrize("family", FAMILIES)
def test_tensor_parallel_2_matches_1(family: str, enforce_eager: bool, tmp_path: Path) -> None:
    path = str(build_tiny_model(family, tmp_path / family, tie_word_embeddings=family == "qwen2"))
    ps = prompts(len(family))
    one = LLM(path, enforce_eager=enforce_eager, **ENGINE)
    expected = [o.outputs[0].token_ids for o in one.generate(ps, PARAMS, use_tqdm=False)]
    del one
    torch.cuda.empty_cache()
    llm = LLM(path, enforce_eager=enforce_eager, tensor_parallel_size=2, **ENGINE)
    try:
        assert (llm.model_runner.graphs is None) == enforce_eager
        got = [o.outputs[0].token_ids for o in llm.generate(ps, PARAMS, use_tqdm=False)]
    finally:
        llm.shutdown()
    assert got == expected
    assert [p.exitcode for p in llm.workers.procs] == [0]
    assert get_tp_size() == 1


def test_shape_bench_on_two_gpus(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["throughput", "--shape", "tiny", "--random-weights", "--device", "cuda", "--skip-hf"]
    argv += ["--num-prompts", "8", "--input-len", "4-9", "--output-len", "3-6", "--tensor-parallel-size", "2"]
    assert bench_main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["config"]["tensor_parallel_size"] == 2
    assert result["engine"]["output_tokens"] == result["output_tokens"]
    assert result["engine"]["cuda_graphs"] is True
