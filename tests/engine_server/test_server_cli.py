"""`teecube engine` as a subprocess: bench serve against it, queue full (503), graceful SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_harness import http

from engine.bench import serve as bench_serve
from engine.cli import BUNDLED_NAME
from engine.cli import main as engine_main

KEY = "cli-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def engine_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    flags = "--max-num-seqs 1 --max-queue-size 0 --max-model-len 256 --shutdown-timeout 60".split()
    cmd = [sys.executable, "-m", "teecube.cli", "engine", "--model", "bundled", "--port", str(port), *flags]
    env = {**os.environ, "TEECUBE_ENGINE_API_KEY": KEY}
    log = (tmp_path_factory.mktemp("engine") / "engine.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if http(base_url + "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.3)
    assert proc.poll() is None, f"the engine exited; see {log.name}"
    yield proc, base_url
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()


def test_invalid_flags_exit_2_without_loading() -> None:
    assert engine_main(["--model", "bundled", "--max-queue-size", "-1"]) == 2
    assert engine_main(["--model", "bundled", "--max-num-seqs", "0"]) == 2


@pytest.mark.slow
def test_bench_serve_against_a_running_server(engine_proc: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    _, base_url = engine_proc
    common = (
        f"--base-url {base_url}/v1 --api-key {KEY} --num-prompts 3 --input-len 8 --output-len 4 --no-warmup"
    )
    argv = [*common.split(), "--request-rate", "50", "--max-concurrency", "1"]
    assert bench_serve.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == BUNDLED_NAME and report["completed"] == 3 and report["failed"] == 0
    assert report["total_output_tokens"] == 12 and report["total_input_tokens"] >= 3 * 8
    for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms"):
        assert 0 < report[key]["p50"] <= report[key]["p99"]
    assert report["request_throughput"] > 0 and report["output_throughput"] > 0
    # no concurrency limit: the engine (1 running, no queue) turns the rest away, and the report says why
    assert bench_serve.main([*common.split(), "--request-rate", "inf"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == {"HTTP 503 queue_full": report["failed"]} and report["failed"] >= 1


@pytest.mark.slow
def test_bench_serve_vllm_options_against_the_bundled_model(
    engine_proc: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    """vLLM's random dataset as token ids (the bundled vocabulary is 49,152), its percentile options."""
    _, base_url = engine_proc
    argv = (
        f"--base-url {base_url} --api-key {KEY} --dataset random --random-input-len 12 --random-output-len 3 "
        "--random-range-ratio 0.25 --num-prompts 3 --max-concurrency 1 --vocab-size 49152 "
        "--metric-percentiles 50,99 --percentile-metrics ttft,e2el --no-warmup"
    ).split()
    assert bench_serve.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["completed"] == 3 and report["total_output_tokens"] == report["requested_output_tokens"]
    assert report["median_ttft_ms"] > 0 and report["p99_e2el_ms"] >= report["p50_e2el_ms"]
    assert "mean_tpot_ms" not in report and "p90_ttft_ms" not in report


@pytest.mark.slow
def test_queue_full_then_sigterm_lets_the_stream_finish(engine_proc: tuple) -> None:
    proc, base_url = engine_proc
    body = {
        "model": BUNDLED_NAME,
        "prompt": "Once upon a time",
        "max_tokens": 24,
        "ignore_eos": True,
        "stream": True,
    }
    req = urllib.request.Request(
        base_url + "/v1/completions",
        data=json.dumps(body).encode(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=120) as stream:
        first = stream.readline()
        assert first.startswith(b"data: ")
        status, headers, err = http(base_url + "/v1/completions", {**body, "stream": False}, AUTH)
        assert status == 503 and headers["Retry-After"] == "1" and err["error"]["code"] == "queue_full"
        proc.send_signal(signal.SIGTERM)
        rest = stream.read().decode()
    events = [line[6:] for line in rest.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    last = json.loads(events[-2])
    assert last["choices"][0]["finish_reason"] == "length"
    assert proc.wait(timeout=60) == 0


@pytest.mark.slow
def test_sigterm_during_start_up_exits_cleanly(tmp_path: Path) -> None:
    log_path = tmp_path / "engine.log"
    cmd = [sys.executable, "-m", "teecube.cli", "engine", "--model", "bundled", "--port", str(free_port())]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while "starting: loading the model" not in log_path.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log_path.read_text()
        assert "shut down" in log_path.read_text() and "serving" not in log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
