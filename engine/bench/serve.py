"""`teecube bench serve`: online serving benchmark, printing one JSON object.

Poisson arrivals at --request-rate, random prompts of --input-len, --output-len tokens each
(ignore_eos), streamed from /v1/completions or /v1/chat/completions of --base-url (an engine
or the proxy in front of it, with --api-key), or of an engine it starts itself (--model).
Reports request and token throughput and TTFT / TPOT / ITL / end-to-end latency (mean, p50, p99).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

# Common English words; most are one token (with their leading space) in BPE vocabularies.
WORDS = (
    "the of and to in is was for on that with as by at from his her they have had are were be this which "
    "or an not but all one their there been has when who will more no if out so said what up its about "
    "into than them can only other new some time could these two may then do first any my now such like "
    "our over man me even most made after also did many before must through back years where much your way "
    "well down should because each just those people how too little state good very make world still own "
    "see men work long get here between both life being under never day same another know while last"
).split()


@dataclass(slots=True)
class Result:
    ok: bool = False
    error: str = ""
    prompt_tokens: int = 0
    output_tokens: int = 0
    ttft: float = 0.0
    latency: float = 0.0
    itl: list[float] = field(default_factory=list)


def make_prompts(args: argparse.Namespace, rng: random.Random) -> list[str | list[int]]:
    if args.prompt_format == "ids":
        return [[rng.randrange(1000, 30000) for _ in range(args.input_len)] for _ in range(args.num_prompts)]
    return [" ".join(rng.choice(WORDS) for _ in range(args.input_len)) for _ in range(args.num_prompts)]


def request_body(args: argparse.Namespace, model: str, prompt: str | list[int]) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": args.output_len,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if args.ignore_eos:
        body["ignore_eos"] = True
    if args.endpoint == "chat":
        if not isinstance(prompt, str):
            raise SystemExit("--endpoint chat needs --prompt-format text")
        return "/v1/chat/completions", {**body, "messages": [{"role": "user", "content": prompt}]}
    return "/v1/completions", {**body, "prompt": prompt}


async def one_request(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Result:
    res = Result()
    start = time.perf_counter()
    last = start
    try:
        async with session.post(url, json=body) as resp:
            if resp.status != 200:
                res.error = f"HTTP {resp.status} {await _error_code(resp)}".strip()
                return res
            async for raw in resp.content:
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    res.ok = True
                    break
                chunk = json.loads(data)
                if "error" in chunk:
                    res.error = f"stream error {chunk['error'].get('code') or ''}".strip()
                    return res
                if chunk.get("usage"):
                    res.prompt_tokens = chunk["usage"]["prompt_tokens"]
                    res.output_tokens = chunk["usage"]["completion_tokens"]
                if any(_chunk_text(c) for c in chunk.get("choices") or []):
                    now = time.perf_counter()
                    if res.ttft == 0.0:
                        res.ttft = now - start
                    else:
                        res.itl.append(now - last)
                    last = now
        res.latency = time.perf_counter() - start
    except (TimeoutError, aiohttp.ClientError) as exc:
        res.ok, res.error = False, type(exc).__name__
    return res


async def _error_code(resp: aiohttp.ClientResponse) -> str:
    try:
        return str((await resp.json(content_type=None))["error"]["code"] or "")
    except (ValueError, KeyError, TypeError, aiohttp.ClientError):
        return ""


def _chunk_text(choice: dict[str, Any]) -> str:
    return choice.get("text") or (choice.get("delta") or {}).get("content") or ""


async def run_load(args: argparse.Namespace, base_url: str, model: str) -> tuple[list[Result], float]:
    rng = random.Random(args.seed)
    prompts = make_prompts(args, rng)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    limit = asyncio.Semaphore(args.max_concurrency) if args.max_concurrency else None
    timeout = aiohttp.ClientTimeout(total=None, sock_read=args.timeout)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as session:

        async def fire(prompt: str | list[int]) -> Result:
            path, body = request_body(args, model, prompt)
            if limit is None:
                return await one_request(session, base_url + path, body)
            async with limit:
                return await one_request(session, base_url + path, body)

        tasks = []
        start = time.perf_counter()
        for prompt in prompts:
            tasks.append(asyncio.create_task(fire(prompt)))
            if args.request_rate != float("inf"):
                await asyncio.sleep(rng.expovariate(args.request_rate))
        results = await asyncio.gather(*tasks)
        return list(results), time.perf_counter() - start


def _stats_ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "p50": None, "p99": None}
    a = np.asarray(values) * 1000.0
    return {
        "mean": round(float(a.mean()), 3),
        "p50": round(float(np.percentile(a, 50)), 3),
        "p99": round(float(np.percentile(a, 99)), 3),
    }


def summarize(
    args: argparse.Namespace, base_url: str, model: str, results: list[Result], duration: float
) -> dict[str, Any]:
    ok = [r for r in results if r.ok]
    input_tokens = sum(r.prompt_tokens for r in ok)
    output_tokens = sum(r.output_tokens for r in ok)
    timed = [r for r in ok if r.ttft > 0.0]  # a stream whose tokens all decode to "" has no TTFT
    tpot = [(r.latency - r.ttft) / (r.output_tokens - 1) for r in timed if r.output_tokens > 1]
    errors: dict[str, int] = {}
    for r in results:
        if not r.ok:
            errors[r.error or "no [DONE]"] = errors.get(r.error or "no [DONE]", 0) + 1
    return {
        "bench": "serve",
        "base_url": base_url,
        "model": model,
        "endpoint": args.endpoint,
        "prompt_format": args.prompt_format,
        "num_prompts": args.num_prompts,
        "input_len": args.input_len,
        "output_len": args.output_len,
        "request_rate": None if args.request_rate == float("inf") else args.request_rate,
        "max_concurrency": args.max_concurrency,
        "completed": len(ok),
        "failed": len(results) - len(ok),
        "errors": errors,
        "duration_s": round(duration, 3),
        "total_input_tokens": input_tokens,
        "total_output_tokens": output_tokens,
        "request_throughput": round(len(ok) / duration, 4),
        "output_throughput": round(output_tokens / duration, 3),
        "total_token_throughput": round((input_tokens + output_tokens) / duration, 3),
        "ttft_ms": _stats_ms([r.ttft for r in timed]),
        "tpot_ms": _stats_ms(tpot),
        "itl_ms": _stats_ms([x for r in ok for x in r.itl]),
        "e2el_ms": _stats_ms([r.latency for r in ok]),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_engine(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """Start `teecube engine --model ...` as a subprocess on a free port; SIGTERM it afterwards."""
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "teecube.cli",
        "engine",
        "--model",
        args.model,
        "--port",
        str(port),
        "--log-level",
        "warning",
        *args.engine_arg,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=sys.stderr)
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


async def first_model(base_url: str, api_key: str | None) -> str:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(base_url + "/v1/models") as resp:
            resp.raise_for_status()
            return (await resp.json())["data"][0]["id"]


async def _bench(args: argparse.Namespace, base_url: str, proc: subprocess.Popen | None) -> dict[str, Any]:
    if proc is not None:
        await wait_ready(base_url, proc, args.ready_timeout)
    model = args.model_name or await first_model(base_url, args.api_key)
    if args.warmup:
        warm = argparse.Namespace(**{**vars(args), "num_prompts": 1, "request_rate": float("inf")})
        await run_load(warm, base_url, model)
    results, duration = await run_load(args, base_url, model)
    return summarize(args, base_url, model, results, duration)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="teecube bench serve", description=__doc__)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--base-url", help="a running server, e.g. http://127.0.0.1:8000")
    where.add_argument("--model", help="start `teecube engine --model MODEL` (e.g. bundled) and bench it")
    p.add_argument(
        "--engine-arg",
        action="append",
        default=[],
        help="flag for the started engine: --engine-arg=--max-num-seqs=64",
    )
    p.add_argument("--model-name", help="model name to request (default: the first of /v1/models)")
    p.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"), help="bearer token")
    p.add_argument("--endpoint", choices=["completions", "chat"], default="completions")
    p.add_argument(
        "--prompt-format",
        choices=["text", "ids"],
        default="text",
        help="text: random common words (works through any OpenAI server); ids: exact token ids",
    )
    p.add_argument("--num-prompts", type=int, default=32)
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=32)
    p.add_argument("--request-rate", type=float, default=float("inf"), help="Poisson rate; inf: at once")
    p.add_argument("--max-concurrency", type=int, default=None)
    p.add_argument("--ignore-eos", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--timeout", type=float, default=600.0, help="per-read timeout (s)")
    p.add_argument("--ready-timeout", type=float, default=300.0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.base_url:
        base_url = args.base_url.rstrip("/").removesuffix("/v1")
        report = asyncio.run(_bench(args, base_url, None))
    else:
        with local_engine(args) as (base_url, proc):
            report = asyncio.run(_bench(args, base_url, proc))
    print(json.dumps(report))
    return 0 if report["failed"] == 0 else 1
