"""`teecube bench serve`: online serving benchmark with vLLM's benchmark_serving options, one JSON object.

Streams /v1/completions (or /v1/chat/completions) requests of a dataset (engine/bench/serve_data.py:
words, vLLM's random, or PERFORMANCE.md's offline workload) at --request-rate (Poisson; inf: at once)
with at most --max-concurrency in flight, and reports throughput and TTFT / TPOT / ITL / E2EL
(mean, median, std and --metric-percentiles) under vLLM's result field names.

Targets: a running engine (--base-url), an engine it starts (--model MODEL --engine-arg=...), the proxy
in front of one (--proxy-url with --api-key; TLS verified with --proxy-cacert or by attestation with
--proxy-attest), or a proxy it starts in front of its engine (--start-proxy, default guardrail policy).
With an engine and a proxy it runs both, one after the other, and prints proxy/direct ratios.
--compare-offline first runs `bench throughput`'s offline engine on the same requests (in a child process),
then serves them, and prints serve/offline ratios.

Where the engine's /metrics can be read, each path's report has `engine_side_mean_ms`: what the engine
itself measured for that path's timed requests (its TTFT from arrival at its server, time queued, time in
prefill), so a client TTFT splits into the engine's part and what came before it; a started proxy adds
`proxy_pre_forward_mean_ms` and its phases.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from engine.bench.serve_client import BenchRequest, LoadOptions, Result, Target, first_model, run_load
from engine.bench.serve_data import DATASETS, build_requests
from engine.bench.serve_engine_side import engine_report, engine_sums
from engine.bench.serve_stats import add_delta, compare, mean_ms, parse_metrics, parse_percentiles, summarize

OFFLINE_TEMPERATURE = 0.6  # PERFORMANCE.md's offline workload samples at 0.6 (bench throughput --shape)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_engine(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Start `teecube engine MODEL ...` as a subprocess on a free port; SIGTERM it afterwards."""
    port = _free_port()
    cmd = [sys.executable, "-m", "teecube.cli", "engine", "--model", args.model, "--port", str(port),
           "--log-level", "warning", *args.engine_arg]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)  # its log goes to our stderr
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


async def wait_ready(base_url: str, proc: subprocess.Popen | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise SystemExit(f"the engine exited with status {proc.returncode}")
            try:
                async with session.get(base_url + "/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit(f"{base_url} did not become healthy within {timeout:.0f} s")


def load_options(args: argparse.Namespace) -> LoadOptions:
    return LoadOptions(
        endpoint=args.endpoint,
        request_rate=args.request_rate,
        max_concurrency=args.max_concurrency,
        temperature=args.temperature,
        ignore_eos=args.ignore_eos,
        seed=args.seed,
        timeout=args.timeout,
    )


async def warm_up(target: Target, model: str, requests: list[BenchRequest], options: LoadOptions) -> None:
    """1, 3 and 16 short requests at once (as `bench throughput` warms up), so that kernels for each
    batch-size class are compiled before the timed run."""
    for n in (1, 3, 16):
        warm = [BenchRequest(_head(requests[i % len(requests)].prompt, 8 + i), 2) for i in range(n)]
        await run_load(target, model, warm, dataclasses.replace(options, request_rate=float("inf")))


def _head(prompt: str | list[int], n: int) -> str | list[int]:
    return prompt[:n] if isinstance(prompt, list) else " ".join(prompt.split()[:n])


def proxy_tls(args: argparse.Namespace) -> Any:
    """The client TLS context for --proxy-url: a CA or certificate file, or the attested pinned key."""
    if args.proxy_attest:
        from attestation.client import connect

        return connect(args.proxy_url, args.attestation_policy, args.trusted_simulated_root).ssl_context()
    if args.proxy_cacert:
        import ssl

        return ssl.create_default_context(cafile=args.proxy_cacert)
    return None


async def open_targets(args: argparse.Namespace, stack: AsyncExitStack) -> list[Target]:
    """The engine (running, or started here) and the proxy (running, or started here), models resolved."""
    targets: list[Target] = []
    if args.base_url:
        targets.append(Target("direct", args.base_url.rstrip("/").removesuffix("/v1"), args.api_key))
    elif args.model:
        base_url, proc = stack.enter_context(local_engine(args))
        await wait_ready(base_url, proc, args.ready_timeout)
        targets.append(Target("direct", base_url))
    if targets:
        targets[0].model = args.model_name or await first_model(targets[0])
    if args.proxy_url:
        key = args.proxy_api_key or args.api_key
        proxy = Target("proxy", args.proxy_url.rstrip("/").removesuffix("/v1"), key, proxy_tls(args))
        proxy.model = args.proxy_model_name or await first_model(proxy)
        targets.append(proxy)
    elif args.start_proxy and targets:
        from engine.bench.serve_proxy import appliance_proxy_args, started_proxy

        workdir = Path(tempfile.mkdtemp(prefix="teecube-bench-serve-"))
        stack.callback(shutil.rmtree, workdir, True)
        engine = targets[0]
        targets.append(
            await stack.enter_async_context(
                started_proxy(
                    engine.base_url,
                    engine.model,
                    workdir,
                    60,
                    connections=args.max_concurrency or 1024,
                    extra_args=appliance_proxy_args(args.proxy_arg, args.engine_arg if args.model else None),
                )
            )
        )
    return targets


async def run_all(args: argparse.Namespace, requests: list[BenchRequest]) -> dict[str, Any]:
    """Each target's report. With two targets and --rounds N, the requests are cut into N blocks and the
    targets take turns (A B, B A, ...), so that drift on a shared machine falls on both alike."""
    options = load_options(args)
    async with AsyncExitStack() as stack:
        targets = await open_targets(args, stack)
        if args.warmup:
            for target in targets:
                await warm_up(target, target.model or "", requests, options)
        from engine.bench.serve_proxy import pre_forward

        before = {t.name: await pre_forward(t) for t in targets}
        done: dict[str, tuple[list[Result], float]] = {t.name: ([], 0.0) for t in targets}
        engine = next((t for t in targets if t.name == "direct"), None)  # every target's requests reach it
        engine_side: dict[str, dict[str, list[float]]] = {t.name: {} for t in targets}
        size = -(-len(requests) // max(1, args.rounds))
        for i, start in enumerate(range(0, len(requests), size)):
            for target in targets if i % 2 == 0 else targets[::-1]:
                seen = await engine_sums(engine) if engine else None
                results, duration = await run_load(
                    target, target.model or "", requests[start : start + size], options
                )
                if engine is not None:
                    add_delta(engine_side[target.name], seen, await engine_sums(engine))
                previous, elapsed = done[target.name]
                done[target.name] = (previous + results, elapsed + duration)
        after = {t.name: await pre_forward(t) for t in targets}
    reports = {
        t.name: {
            "target": t.name,
            "base_url": t.base_url,
            "model": t.model,
            **summarize(*done[t.name], args.percentile_metrics, args.metric_percentiles),
        }
        for t in targets
    }
    for name, report in reports.items():
        if (engine_means := engine_report(engine_side[name])) is not None:
            report["engine_side_mean_ms"] = engine_means  # the engine's own TTFT, queue and prefill time
        timed: dict[Any, list[float]] = {}  # the timed requests only (warm-up left out)
        add_delta(timed, before[name], after[name])
        means = mean_ms(timed)
        if ("overhead", "") in means:
            report["proxy_pre_forward_mean_ms"] = means[("overhead", "")]
            report["proxy_phase_mean_ms"] = {
                phase: v for (kind, phase), v in sorted(means.items()) if kind == "phase"
            }
    return reports


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="teecube bench serve", description=__doc__)
    where = p.add_argument_group("targets")
    where.add_argument("--base-url", help="a running engine, e.g. http://127.0.0.1:8000")
    where.add_argument("--model", help="start `teecube engine --model MODEL` (e.g. bundled) and bench it")
    where.add_argument(
        "--engine-arg",
        action="append",
        default=[],
        help="flag for the started engine: --engine-arg=--max-num-seqs=64",
    )
    where.add_argument("--model-name", help="model name to request (default: the first of /v1/models)")
    where.add_argument(
        "--api-key",
        default=os.environ.get("OPENAI_API_KEY"),
        help="bearer token of --base-url (and of --proxy-url without --proxy-api-key)",
    )
    where.add_argument("--proxy-url", help="a teecube proxy in front of the engine, e.g. https://host:8443")
    where.add_argument("--proxy-api-key", help="the tenant key for --proxy-url (default: --api-key)")
    where.add_argument("--proxy-model-name", help="the alias to request through the proxy")
    where.add_argument("--proxy-cacert", help="verify the proxy's certificate with this CA/certificate file")
    where.add_argument(
        "--proxy-attest", action="store_true", help="attest the proxy first and pin its attested TLS key"
    )
    where.add_argument("--attestation-policy", help="with --proxy-attest: the policy file")
    where.add_argument("--trusted-simulated-root", help="with --proxy-attest: a simulated TEE's root")
    where.add_argument(
        "--start-proxy",
        action="store_true",
        help="start a proxy (default guardrail policy) in front of the engine; bench both",
    )
    where.add_argument(
        "--proxy-arg",
        action="append",
        default=[],
        help="flag for the started proxy: --proxy-arg=--guard-scan-workers=0 (beside an engine started "
        "here on a GPU it gets --workers=auto, as `teecube serve` runs it, unless this names --workers)",
    )
    where.add_argument(
        "--compare-offline",
        action="store_true",
        help="with --model: run the offline engine on the same requests first",
    )
    data = p.add_argument_group("requests")
    data.add_argument(
        "--dataset",
        "--dataset-name",
        choices=DATASETS,
        default=None,
        help="words (default), random (vLLM's), offline-workload (PERFORMANCE.md's)",
    )
    data.add_argument("--endpoint", choices=["completions", "chat"], default="completions")
    data.add_argument(
        "--prompt-format",
        choices=["text", "ids"],
        default=None,
        help="text: words (any OpenAI server); ids: exact token ids (default for random and "
        "offline-workload)",
    )
    data.add_argument("--num-prompts", type=int, default=None, help="default 32; offline-workload 256")
    data.add_argument("--input-len", type=int, default=128, help="words dataset")
    data.add_argument("--output-len", type=int, default=32, help="words dataset")
    data.add_argument("--random-input-len", type=int, default=None)
    data.add_argument("--random-output-len", type=int, default=None)
    data.add_argument("--random-range-ratio", type=float, default=0.0)
    data.add_argument("--workload-input-len", default=None, help="offline-workload: MIN-MAX (100-1024)")
    data.add_argument("--workload-output-len", default=None, help="offline-workload: MIN-MAX (100-1024)")
    data.add_argument("--vocab-size", type=int, default=151936, help="token ids are drawn below it")
    data.add_argument(
        "--temperature",
        type=float,
        default=None,
        help=f"default 0; offline-workload {OFFLINE_TEMPERATURE} (as bench throughput)",
    )
    data.add_argument("--ignore-eos", action=argparse.BooleanOptionalAction, default=True)
    data.add_argument("--seed", type=int, default=0)
    load = p.add_argument_group("load and report")
    load.add_argument("--request-rate", type=float, default=float("inf"), help="Poisson rate; inf: at once")
    load.add_argument("--max-concurrency", type=int, default=None)
    load.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="with an engine and a proxy: alternate them over this many blocks of the requests",
    )
    load.add_argument("--percentile-metrics", type=parse_metrics, default=parse_metrics("ttft,tpot,itl,e2el"))
    load.add_argument("--metric-percentiles", type=parse_percentiles, default=parse_percentiles("50,90,99"))
    load.add_argument("--save-result", action="store_true", help="also write the JSON to a file")
    load.add_argument("--result-dir", default=".", help="where --save-result writes")
    load.add_argument("--result-filename", default=None, help="default: serve-DATASET-TIMESTAMP.json")
    load.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=True)
    load.add_argument("--timeout", type=float, default=600.0, help="per-read timeout (s)")
    load.add_argument("--ready-timeout", type=float, default=300.0)
    return p


def resolve_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    if args.base_url and args.model:
        p.error("--base-url and --model are exclusive (a running engine, or one to start)")
    if not (args.base_url or args.model or args.proxy_url):
        p.error("give --base-url, --model or --proxy-url")
    if args.compare_offline and not args.model:
        p.error("--compare-offline needs --model (the engine it runs offline, then serves)")
    if args.start_proxy and args.proxy_url:
        p.error("--start-proxy and --proxy-url are exclusive")
    if args.proxy_arg and not args.start_proxy:
        p.error("--proxy-arg needs --start-proxy")
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if args.proxy_attest and not args.proxy_url:
        p.error("--proxy-attest needs --proxy-url")
    if args.dataset is None:
        args.dataset = "random" if args.random_input_len or args.random_output_len else "words"
    if args.dataset == "random":
        args.random_input_len = args.random_input_len or 1024
        args.random_output_len = args.random_output_len or 128
    if args.prompt_format is None:
        args.prompt_format = "text" if args.dataset == "words" else "ids"
    if args.dataset == "offline-workload" and args.prompt_format != "ids":
        p.error("--dataset offline-workload sends token ids (--prompt-format ids)")
    if args.temperature is None:
        args.temperature = OFFLINE_TEMPERATURE if args.dataset == "offline-workload" else 0.0
    return args


def head(args: argparse.Namespace, requests: list[BenchRequest]) -> dict[str, Any]:
    return {
        "bench": "serve",
        "date": datetime.now().strftime("%Y%m%d-%H%M%S"),
        "dataset": args.dataset,
        "endpoint": args.endpoint,
        "prompt_format": args.prompt_format,
        "num_prompts": len(requests),
        "input_len": args.input_len if args.dataset == "words" else None,
        "output_len": args.output_len if args.dataset == "words" else None,
        "random_input_len": args.random_input_len,
        "random_output_len": args.random_output_len,
        "random_range_ratio": args.random_range_ratio if args.dataset == "random" else None,
        "requested_output_tokens": sum(r.max_tokens for r in requests),
        "request_rate": None if args.request_rate == float("inf") else args.request_rate,
        "max_concurrency": args.max_concurrency,
        "temperature": args.temperature,
        "ignore_eos": args.ignore_eos,
        "seed": args.seed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = resolve_args(parser, parser.parse_args(sys.argv[1:] if argv is None else argv))
    requests = build_requests(args)
    report = head(args, requests)
    if args.compare_offline:
        from engine.bench.serve_offline import run_offline_in_child

        offline = run_offline_in_child(args.model, args.engine_arg, requests, args.temperature, args.seed)
        report["offline"] = offline
    sections = asyncio.run(run_all(args, requests))
    first = sections.get("direct") or sections["proxy"]
    report.update(first)  # the first target's figures at the top level, as a single-target run prints
    if "direct" in sections and "proxy" in sections:
        report["proxy"] = sections["proxy"]
        report["proxy_vs_direct"] = compare(sections["direct"], sections["proxy"])
    if args.compare_offline:
        from engine.bench.serve_offline import offline_vs_serve

        report["serve_vs_offline"] = offline_vs_serve(report["offline"], sections["direct"])
        if "proxy" in sections:
            report["proxy_vs_offline"] = offline_vs_serve(report["offline"], sections["proxy"])
    text = json.dumps(report)
    if args.save_result:
        name = args.result_filename or f"serve-{args.dataset}-{report['date']}.json"
        path = Path(args.result_dir) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    print(text)
    return 0 if all(s["failed"] == 0 for s in sections.values()) else 1
