"""`teecube bench proxy` with tiny sizes against the fake upstream: one JSON object, sane figures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from proxy.bench_fake import paced_events, prebuilt
from proxy.bench_load import stats_ms

MODES = ("non_streaming", "streaming")


@pytest.fixture(scope="module")
def report() -> dict:
    cmd = [sys.executable, "-m", "teecube.cli", "bench", "proxy", "--num-requests", "12", "--warmup", "2",
           "--blocks", "3", "--concurrency", "2", "--max-tokens", "4"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, out.stdout  # one JSON object, nothing else on stdout
    return json.loads(lines[0])


@pytest.mark.slow
def test_report_shape(report: dict) -> None:
    assert report["bench"] == "proxy" and report["upstream"] == "fake"
    assert report["num_requests"] == 12 and report["concurrency"] == 2
    for mode in MODES:
        section = report[mode]
        assert set(section) >= {"direct", "proxy", "added_latency_ms", "throughput_cost_pct"}
        for path in ("direct", "proxy"):
            entry = section[path]
            assert entry["completed"] == 12 and entry["failed"] == 0 and entry["errors"] == {}
            assert entry["throughput_rps"] > 0 and entry["duration_s"] > 0
            assert entry["output_tok_s"] > 0
            lat = entry["latency_ms"]
            assert 0 < lat["p50"] <= lat["p99"]
        assert set(section["added_latency_ms"]) == {"p50", "p99"}
        cpu = section["cpu_ms_per_request"]  # from /proc, in clock ticks: 0 is possible for tiny runs
        assert cpu["proxy"] is not None and cpu["proxy"] >= 0 and cpu["upstream"] >= 0
    for path in ("direct", "proxy"):
        ttft = report["streaming"][path]["ttft_ms"]
        assert 0 < ttft["p50"] <= ttft["p99"]
        assert ttft["p50"] <= report["streaming"][path]["latency_ms"]["p99"]
    assert set(report["streaming"]["added_ttft_ms"]) == {"p50", "p99"}
    target = report["targets"]["non_streaming_added_p50_ms"]
    assert target["target"] == 1.0
    assert target["measured"] == report["non_streaming"]["added_latency_ms"]["p50"]


@pytest.mark.slow
def test_the_full_proxy_path_ran(report: dict) -> None:
    # Every proxied request (warm-up included) was accounted: usage records and the proxy's
    # own overhead histogram, which is observed only after auth, limits and guardrails.
    proxied = 2 * (12 + 2)
    assert report["usage_records"] == proxied
    assert report["proxy_reported_overhead"]["requests"] == proxied
    assert report["proxy_reported_overhead"]["mean_ms"] > 0
    assert report["machine"]["cpus"] >= 1


def test_fake_upstream_answers_are_openai_shaped() -> None:
    answers = prebuilt(3)
    full = json.loads(answers[(True, False, False)])
    assert full["choices"][0]["message"]["content"] == " token" * 3
    assert full["usage"]["completion_tokens"] == 3
    events = answers[(False, True, True)].split(b"\n\n")
    assert events[-2] == b"data: [DONE]"
    assert json.loads(events[-3][6:])["usage"]["completion_tokens"] == 3
    assert b"usage" not in answers[(True, True, False)]


def test_paced_events_are_engine_like() -> None:
    # token-id answers: empty text and the chunk's ids; continuous usage counts up on every chunk
    events = paced_events(3, chat=False, ids=True, include_usage=True, continuous=True)
    assert events[-1] == b"data: [DONE]\n\n" and all(e.endswith(b"\n\n") for e in events)
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert [c["choices"][0]["text"] for c in chunks[:3]] == ["", "", ""]
    assert all(c["choices"][0]["token_ids"] for c in chunks[:3])
    assert [c["usage"]["completion_tokens"] for c in chunks] == [1, 2, 3, 3]
    assert chunks[3]["choices"] == [] and chunks[2]["choices"][0]["finish_reason"] == "length"
    assert b": " not in events[0][6:] and b", " not in events[0]  # the engine's compact layout
    chat = paced_events(2, chat=True, ids=False, include_usage=False, continuous=False)
    assert [json.loads(e[6:])["choices"][0]["delta"] for e in chat[:-1]] == [{"content": " token"}] * 2
    assert all(b"usage" not in e for e in chat)


def test_stats_ms() -> None:
    assert stats_ms([]) == {"mean": None, "p50": None, "p99": None}
    s = stats_ms([0.001, 0.002, 0.003])
    assert s["p50"] == 2.0 and s["mean"] == 2.0 and 2.0 < s["p99"] <= 3.0


@pytest.mark.slow
def test_responses_endpoint_is_measured_against_its_chat_completion() -> None:
    """`--endpoint responses`: Responses requests through the proxy, their chat completions direct; each
    stream ends on its final event (no [DONE]) with its tokens and a first-text time."""
    cmd = [sys.executable, "-m", "teecube.cli", "bench", "proxy", "--endpoint", "responses", "--num-requests",
           "8", "--warmup", "1", "--blocks", "2", "--concurrency", "2", "--max-tokens", "4"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["endpoint"] == "responses"
    for mode in MODES:
        for path in ("direct", "proxy"):
            entry = report[mode][path]
            assert entry["completed"] == 8 and entry["failed"] == 0, (mode, path, entry["errors"])
            assert entry["output_tok_s"] > 0
        assert report["streaming"]["proxy"]["ttft_ms"]["p50"] > 0
    assert report["usage_records"] == 2 * (8 + 1)


def test_prompt_words_sets_the_prompt_length() -> None:
    from proxy.bench import PROMPT, build_parser, prompt_text

    assert prompt_text(0) == PROMPT
    long = prompt_text(512)
    assert len(long.split()) == 512 and long == prompt_text(512)  # the same prompt every run
    assert len(set(long.split())) > 50  # everyday words, not one word repeated
    assert build_parser().parse_args(["--prompt-words", "256"]).prompt_words == 256
