"""The load generator of `teecube bench serve`: streamed OpenAI requests, timed per token arrival.

A token arrival is a stream chunk carrying choices (completions: any such chunk, as vLLM's
benchmark_serving counts; chat: one with content), so models served without a tokenizer, whose chunks
carry token ids and no text, are timed too.
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass(slots=True)
class BenchRequest:
    prompt: str | list[int]
    max_tokens: int


@dataclass(slots=True)
class Target:
    """Where requests go: an engine (`--base-url`) or the proxy in front of one (`--proxy-url`)."""

    name: str
    base_url: str  # without /v1
    api_key: str | None = None
    ssl: ssl.SSLContext | None = None
    model: str | None = None  # the name to request; None: the first of /v1/models
    metrics_url: str | None = None  # a started proxy's operator /metrics (its pre-forward histogram)


@dataclass(slots=True)
class Result:
    ok: bool = False
    error: str = ""
    prompt_tokens: int = 0
    output_tokens: int = 0
    ttft: float = 0.0
    latency: float = 0.0
    itl: list[float] = field(default_factory=list)


@dataclass(slots=True)
class LoadOptions:
    endpoint: str = "completions"  # or "chat"
    request_rate: float = float("inf")  # Poisson arrivals; inf: all at once
    max_concurrency: int | None = None
    temperature: float = 0.0
    ignore_eos: bool = True
    seed: int = 0
    timeout: float = 600.0  # per read


def request_body(options: LoadOptions, model: str, req: BenchRequest) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": req.max_tokens,
        "temperature": options.temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if options.ignore_eos:
        body["ignore_eos"] = True
    if options.endpoint == "chat":
        if not isinstance(req.prompt, str):
            raise SystemExit("--endpoint chat needs text prompts (--prompt-format text)")
        return "/v1/chat/completions", {**body, "messages": [{"role": "user", "content": req.prompt}]}
    return "/v1/completions", {**body, "prompt": req.prompt}


def _is_token_arrival(chunk: dict[str, Any], chat: bool) -> bool:
    choices = chunk.get("choices") or []
    if not chat:
        return bool(choices)
    return any((c.get("delta") or {}).get("content") or c.get("token_ids") for c in choices)


async def one_request(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], tls: ssl.SSLContext | None = None
) -> Result:
    res = Result()
    chat = "messages" in body
    start = last = time.perf_counter()
    try:
        async with session.post(url, json=body, ssl=tls if tls is not None else True) as resp:
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
                if _is_token_arrival(chunk, chat):
                    now = time.perf_counter()
                    if res.ttft == 0.0:
                        res.ttft = now - start
                    else:
                        res.itl.append(now - last)
                    last = now
        res.latency = time.perf_counter() - start
    except (TimeoutError, aiohttp.ClientError, ssl.SSLError) as exc:
        res.ok, res.error = False, type(exc).__name__
    return res


async def _error_code(resp: aiohttp.ClientResponse) -> str:
    try:
        return str((await resp.json(content_type=None))["error"]["code"] or "")
    except (ValueError, KeyError, TypeError, aiohttp.ClientError):
        return ""


def session_for(target: Target, options: LoadOptions) -> aiohttp.ClientSession:
    headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
    timeout = aiohttp.ClientTimeout(total=None, sock_read=options.timeout)
    return aiohttp.ClientSession(headers=headers, timeout=timeout, connector=aiohttp.TCPConnector(limit=0))


async def run_load(
    target: Target, model: str, requests: list[BenchRequest], options: LoadOptions
) -> tuple[list[Result], float]:
    """Send every request (Poisson arrivals at request_rate, at most max_concurrency in flight);
    returns the results in request order and the wall time from the first send to the last answer."""
    rng = random.Random(options.seed)
    limit = asyncio.Semaphore(options.max_concurrency) if options.max_concurrency else None
    async with session_for(target, options) as session:

        async def fire(req: BenchRequest) -> Result:
            path, body = request_body(options, model, req)
            if limit is None:
                return await one_request(session, target.base_url + path, body, target.ssl)
            async with limit:
                return await one_request(session, target.base_url + path, body, target.ssl)

        tasks = []
        start = time.perf_counter()
        for req in requests:
            tasks.append(asyncio.create_task(fire(req)))
            if options.request_rate != float("inf"):
                await asyncio.sleep(rng.expovariate(options.request_rate))
        results = await asyncio.gather(*tasks)
        return list(results), time.perf_counter() - start


async def first_model(target: Target) -> str:
    headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(target.base_url + "/v1/models", ssl=target.ssl or True) as resp:
                resp.raise_for_status()
                return (await resp.json())["data"][0]["id"]
    except aiohttp.ClientConnectorCertificateError:
        hint = "; pass --proxy-cacert FILE or --proxy-attest" if target.name == "proxy" else ""
        raise SystemExit(f"{target.base_url}: its TLS certificate is not trusted{hint}") from None
    except aiohttp.ClientError as exc:
        raise SystemExit(f"{target.base_url}: cannot list its models: {type(exc).__name__}") from None
