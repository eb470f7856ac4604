"""`teecube engine --shape tiny` (--load-format dummy): random weights, no tokenizer. Prompts are token
ids, answers carry token ids and no text, text prompts and chat get a clear 400; `teecube bench serve`
replays PERFORMANCE.md's workload shape against it, through a proxy it starts, beside the offline run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from server_harness import http

from engine.bench import serve as bench_serve

pytestmark = pytest.mark.slow  # an engine process of its own (dummy weights)

SMALL_WORKLOAD = (
    "--dataset offline-workload --num-prompts 6 --workload-input-len 16-48 --workload-output-len 4-12 "
    "--vocab-size 512 --max-concurrency 3"
).split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dummy_engine_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engine") / "engine.log"


@pytest.fixture(scope="module")
def dummy_engine(dummy_engine_log: Path) -> Iterator[str]:
    port = free_port()
    flags = ["--shape", "tiny", "--device", "cpu", "--max-model-len", "512", "--port", str(port)]
    flags += ["--override-generation-config", '{"max_tokens": 3}']
    cmd = [sys.executable, "-m", "teecube.cli", "engine", *flags]
    log = dummy_engine_log.open("w")
    env = {k: v for k, v in os.environ.items() if k not in ("TEECUBE_ENGINE_API_KEY", "VLLM_API_KEY")}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if http(base_url + "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    assert proc.poll() is None, f"the engine exited; see {log.name}"
    yield base_url
    proc.terminate()
    proc.wait(30)
    log.close()


@pytest.fixture(scope="module")
def client(dummy_engine: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=dummy_engine + "/v1", api_key="unused", max_retries=0)


def test_token_id_prompts_get_token_ids_back(client: openai.OpenAI) -> None:
    out = client.completions.create(
        model="tiny", prompt=[5, 6, 7], max_tokens=4, extra_body={"ignore_eos": True}
    )
    (choice,) = out.choices
    assert choice.text == "" and len(choice.model_extra["token_ids"]) == 4
    assert all(0 <= t < 512 for t in choice.model_extra["token_ids"]) and out.usage.completion_tokens == 4
    both = client.completions.create(model="tiny", prompt=[[1, 2], [3, 4, 5]], max_tokens=2)
    assert [c.index for c in both.choices] == [0, 1] and both.usage.prompt_tokens == 5
    stream = client.completions.create(
        model="tiny", prompt=[9, 9, 9], max_tokens=5, stream=True, extra_body={"ignore_eos": True}
    )
    ids = [t for chunk in stream for c in chunk.choices for t in c.model_extra["token_ids"]]
    assert len(ids) == 5


def test_generation_config_defaults_apply_where_the_request_is_silent(client: openai.OpenAI) -> None:
    out = client.completions.create(model="tiny", prompt=[1, 2], extra_body={"ignore_eos": True})
    assert out.usage.completion_tokens == 3  # --override-generation-config, not the API's 16
    out = client.completions.create(
        model="tiny", prompt=[1, 2], max_tokens=5, extra_body={"ignore_eos": True}
    )
    assert out.usage.completion_tokens == 5


def test_text_prompts_and_chat_get_a_clear_400(client: openai.OpenAI, dummy_engine_log: Path) -> None:
    with pytest.raises(openai.BadRequestError, match="without a tokenizer") as exc:
        client.completions.create(model="tiny", prompt="secret canary text", max_tokens=2)
    assert "secret canary" not in str(exc.value)
    with pytest.raises(openai.BadRequestError, match="without a tokenizer"):
        client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "hi"}])
    status, _, body = http(
        str(client.base_url).removesuffix("/v1/") + "/tokenize", {"prompt": "secret canary"}
    )
    assert status == 400 and "without a tokenizer" in body["error"]["message"] and "canary" not in str(body)
    assert "canary" not in dummy_engine_log.read_text()  # nor in the engine's log


def test_tokenizer_route_without_a_tokenizer_serves_the_token_ids_format(dummy_engine: str) -> None:
    """GET /tokenizer on random weights with no tokenizer: format `token-ids` (no tokenizer JSON), which
    the proxy decodes itself exactly as this engine's /detokenize does (every id in range to no text),
    so a token-id prompt costs no /detokenize round trip; ETag revalidation as for a real tokenizer."""
    import random

    from proxy.guardrails.id_decoder import OutOfRange, parse

    status, headers, doc = http(dummy_engine + "/tokenizer?model=tiny")
    assert status == 200 and doc["format"] == "token-ids" and doc["tokenizer"] is None
    assert headers["ETag"] == f'"{doc["sha256"]}"'
    decoder = parse(json.dumps(doc).encode())
    vocab = doc["vocab_size"]
    rng = random.Random(0)
    for ids in ([], [0], [vocab - 1], [rng.randrange(vocab) for _ in range(40)]):
        status, _, body = http(dummy_engine + "/detokenize", {"model": "tiny", "tokens": ids})
        assert status == 200 and decoder.decode(ids) == body["prompt"] == "", ids
    status, _, body = http(dummy_engine + "/detokenize", {"model": "tiny", "tokens": [vocab]})
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    with pytest.raises(OutOfRange):
        decoder.decode([1, vocab])
    status, _, _ = http(dummy_engine + "/tokenizer", headers={"If-None-Match": headers["ETag"]})
    assert status == 304
    status, _, body = http(dummy_engine + "/tokenizer?model=other")
    assert status == 404 and body["error"]["type"] == "invalid_request_error"


def test_bench_serve_random_dataset_with_vllm_options(
    dummy_engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = (
        f"--base-url {dummy_engine} --dataset-name random --random-input-len 20 --random-output-len 6 "
        "--random-range-ratio 0.5 --num-prompts 5 --request-rate inf --max-concurrency 2 --vocab-size 512 "
        "--percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,90,99 --ignore-eos --seed 1 "
        f"--save-result --result-dir {tmp_path} --result-filename r.json --no-warmup"
    ).split()
    assert bench_serve.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert json.loads((tmp_path / "r.json").read_text()) == report
    assert report["completed"] == 5 and report["dataset"] == "random" and report["prompt_format"] == "ids"
    assert report["total_output_tokens"] == report["requested_output_tokens"]
    assert 5 * 10 <= report["total_input_tokens"] <= 5 * 30
    for metric in ("ttft", "tpot", "itl", "e2el"):
        for stat in ("mean", "median", "std", "p50", "p90", "p99"):
            assert report[f"{stat}_{metric}_ms"] is not None, (stat, metric)
        assert 0 < report[f"{metric}_ms"]["p50"] <= report[f"{metric}_ms"]["p99"]
    assert report["request_throughput"] > 0 and report["output_throughput"] > 0
    # what the engine itself saw of the 5 timed requests (its /metrics, read around the run)
    side = report["engine_side_mean_ms"]
    assert side["requests"] == 5 and set(side) == {"requests", "ttft", "queue", "prefill"}
    assert 0 < side["ttft"] <= report["mean_ttft_ms"] and side["queue"] >= 0 and side["prefill"] > 0


def test_bench_serve_offline_workload_offline_direct_and_proxy_in_one_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = [
        "--engine-arg=--load-format=dummy",
        "--engine-arg=--device=cpu",
        "--engine-arg=--max-model-len=512",
    ]
    # --proxy-arg reaches the started proxy (an unknown flag would stop it from starting)
    both = ["--compare-offline", "--start-proxy", "--proxy-arg=--guard-scan-workers=1", "--rounds", "2"]
    argv = ["--model", "tiny", *engine, *SMALL_WORKLOAD, *both]
    assert bench_serve.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == "offline-workload" and report["temperature"] == 0.6
    requested = report["requested_output_tokens"]
    assert report["offline"]["output_tokens"] == requested == report["total_output_tokens"]
    assert report["proxy"]["total_output_tokens"] == requested and report["proxy"]["failed"] == 0
    assert report["proxy"]["model"] == "bench" and report["model"] == "tiny"
    # the proxy's own time before forwarding, over the timed requests (its metrics listener)
    assert report["proxy"]["proxy_pre_forward_mean_ms"] > 0 and "proxy_pre_forward_mean_ms" not in report
    phases = report["proxy"]["proxy_phase_mean_ms"]
    assert set(phases) == {"admission", "limits", "input_guardrails"} and all(v > 0 for v in phases.values())
    assert sum(phases.values()) <= report["proxy"]["proxy_pre_forward_mean_ms"] * 1.01 + 0.01
    for key in ("output_throughput", "median_ttft_ms"):
        assert report["proxy_vs_direct"][key] > 0
    assert report["serve_vs_offline"]["output_throughput"] > 0
    # the engine's side of each path's timed requests (warm-up left out): the proxy's reach it too
    for side in (report["engine_side_mean_ms"], report["proxy"]["engine_side_mean_ms"]):
        assert side["requests"] == 6 and side["ttft"] > 0 and side["prefill"] > 0 and side["queue"] >= 0
    assert report["proxy_vs_offline"]["output_throughput"] > 0


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from datetime import UTC, datetime, timedelta
    from ipaddress import ip_address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC) - timedelta(minutes=1)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    key_file, cert_file = tmp_path / "key.pem", tmp_path / "cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def test_ssl_flags_serve_https(tmp_path: Path) -> None:
    import ssl
    import urllib.request

    key_file, cert_file = self_signed(tmp_path)
    port = free_port()
    flags = ["--shape", "tiny", "--device", "cpu", "--port", str(port)]
    flags += ["--ssl-keyfile", str(key_file), "--ssl-certfile", str(cert_file)]
    proc = subprocess.Popen([sys.executable, "-m", "teecube.cli", "engine", *flags], stderr=subprocess.PIPE)
    context = ssl.create_default_context(cafile=str(cert_file))
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None and status is None:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/health", context=context) as resp:
                    status = resp.status
            except OSError:
                time.sleep(0.2)
        assert status == 200
        with pytest.raises(OSError):  # plain HTTP is not served
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"https://127.0.0.1:{port}" in err.decode()


def test_bench_serve_proxy_arg_needs_start_proxy(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_serve.main(["--base-url", "http://127.0.0.1:9", "--proxy-arg=--guard-scan-workers=0"])
    assert "--proxy-arg needs --start-proxy" in capsys.readouterr().err


def test_the_started_proxy_runs_as_the_appliance_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beside an engine the bench started on a GPU the proxy gets `--workers=auto` (what `teecube serve`
    gives it there); on a CPU, for a running engine, or when --proxy-arg names --workers: as given."""
    from engine.bench import serve_proxy

    args = serve_proxy.appliance_proxy_args
    monkeypatch.setattr(serve_proxy, "_cuda_available", lambda: True)
    assert args(["--guard-scan-workers=0"], []) == ["--guard-scan-workers=0", "--workers=auto"]
    assert args([], ["--device", "cuda"]) == ["--workers=auto"]
    assert args([], ["--device=cpu"]) == [] and args([], ["--device", "cpu"]) == []
    assert args(["--workers=2"], []) == ["--workers=2"] and args(["--workers", "3"], []) == ["--workers", "3"]
    assert args([], None) == []  # --base-url: the engine's device is not known here
    monkeypatch.setattr(serve_proxy, "_cuda_available", lambda: False)
    assert args([], []) == [] and args([], ["--device=cuda"]) == ["--workers=auto"]
