"""`teecube bench throughput` on a tiny model: one JSON object with the agreed keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from engine.bench.throughput import parse_range, random_workload
from teecube.bench import main as bench_main
from tests.engine.tiny_models import build_tiny_model


def test_workload_is_seeded_and_within_ranges() -> None:
    a = random_workload(5, (3, 9), (2, 4), vocab_size=512, seed=1)
    assert a == random_workload(5, (3, 9), (2, 4), vocab_size=512, seed=1)
    assert a != random_workload(5, (3, 9), (2, 4), vocab_size=512, seed=2)
    assert all(3 <= len(p) <= 9 and max(p) < 512 for p in a.prompts)
    assert all(2 <= n <= 4 for n in a.output_lens)
    assert parse_range("32") == (32, 32) and parse_range("100-1024") == (100, 1024)


@pytest.fixture(scope="module", autouse=True)
def restore_threads():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model("llama", tmp_path_factory.mktemp("llama"))


@pytest.mark.parametrize("skip_hf", [False, True])
def test_throughput_prints_one_json_object(
    tiny_llama: Path, capsys: pytest.CaptureFixture[str], skip_hf: bool
) -> None:
    path = tiny_llama
    argv = ["--model", str(path), "--device", "cpu", "--num-prompts", "3", "--input-len", "4-6"]
    argv += ["--output-len", "5", "--threads", "1"] + (["--skip-hf"] if skip_hf else [])
    assert bench_main(["throughput", *argv]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["bench"] == "throughput"
    assert result["num_prompts"] == 3 and result["output_tokens"] == 15
    assert 12 <= result["prompt_tokens"] <= 18
    assert result["engine"]["output_tokens"] == 15 and result["engine"]["output_tok_per_s"] > 0
    assert set(result["machine"]) >= {"cpu_count", "torch_threads", "device", "torch"}
    assert result["config"]["dtype"] == "float32"
    if skip_hf:
        assert result["hf"] is None and result["ratio"] is None
    else:
        assert result["hf"]["output_tokens"] == 15
        assert result["ratio"] == pytest.approx(
            result["engine"]["output_tok_per_s"] / result["hf"]["output_tok_per_s"], rel=0.02
        )


def test_warm_up_leaves_the_timed_run_nothing_in_the_prefix_cache(tiny_llama: Path) -> None:
    """The warm-up runs long prompts (the workload's own lengths) but reversed: the timed prompts, which
    share no prefix with each other, still find no cached block."""
    from engine.bench.throughput import sampling_params, warm_up
    from engine.llm import LLM

    llm = LLM(str(tiny_llama), device="cpu", dtype="float32", block_size=16, enable_prefix_caching=True)
    workload = random_workload(4, (40, 60), (2, 2), vocab_size=200, seed=3)
    warm_up(llm, workload, temperature=0.6)
    assert llm.stats().prefix_cache_queries > 0
    outs = llm.generate(workload.prompts, sampling_params(workload, 0.6), use_tqdm=False)
    assert [o.num_cached_tokens for o in outs] == [0, 0, 0, 0]
    # the control: running the same prompts again does hit the cache, so the check above can fail
    again = llm.generate(workload.prompts, sampling_params(workload, 0.6), use_tqdm=False)
    assert all(o.num_cached_tokens >= 32 for o in again)
