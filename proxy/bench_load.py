"""The load side of `teecube bench proxy`: the same requests to several targets, in
alternating blocks at a fixed concurrency, timed per request (latency, TTFT for streams)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    url: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(slots=True)
class Sample:
    ok: bool
    latency: float = 0.0
    ttft: float | None = None
    tokens: int = 0
    error: str = ""


@dataclass(slots=True)
class PathResult:
    samples: list[Sample] = field(default_factory=list)
    duration: float = 0.0

    def errors(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.samples:
            if not s.ok:
                out[s.error or "unknown"] = out.get(s.error or "unknown", 0) + 1
        return out


def stats_ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "p50": None, "p99": None}
    a = np.asarray(values) * 1000.0
    return {
        "mean": round(float(a.mean()), 3),
        "p50": round(float(np.percentile(a, 50)), 3),
        "p99": round(float(np.percentile(a, 99)), 3),
    }


FINAL_EVENTS = ("response.completed", "response.incomplete")  # a Responses stream's last event


def _has_text(chunk: dict[str, Any]) -> bool:
    if chunk.get("type") == "response.output_text.delta":
        return bool(chunk.get("delta"))
    for choice in chunk.get("choices") or []:
        if choice.get("text") or (choice.get("delta") or {}).get("content"):
            return True
    return False


async def one_request(session: aiohttp.ClientSession, target: Target, data: bytes, stream: bool) -> Sample:
    start = time.perf_counter()
    try:
        async with session.post(target.url, data=data, headers=target.headers) as resp:
            if resp.status != 200:
                await resp.read()
                return Sample(False, error=f"HTTP {resp.status}")
            if not stream:
                payload = json.loads(await resp.read())
                usage = payload.get("usage") or {}
                tokens = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
                return Sample(True, time.perf_counter() - start, tokens=tokens)
            sample = Sample(False)
            async for raw in resp.content:
                if not raw.startswith(b"data:"):
                    continue
                data_ = raw[5:].strip()
                if data_ == b"[DONE]":
                    sample.ok = True
                    break
                chunk = json.loads(data_)
                if "error" in chunk or chunk.get("type") in ("error", "response.failed"):
                    sample.error = "stream error"
                    return sample
                if chunk.get("type") in FINAL_EVENTS:  # Responses: no [DONE]
                    sample.tokens = int((chunk["response"].get("usage") or {}).get("output_tokens") or 0)
                    sample.ok = True
                    break
                if sample.ttft is None and _has_text(chunk):
                    sample.ttft = time.perf_counter() - start
                if chunk.get("usage"):
                    sample.tokens = int(chunk["usage"].get("completion_tokens") or 0)
            sample.latency = time.perf_counter() - start
            if not sample.ok:
                sample.error = "no [DONE]"
            return sample
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        return Sample(False, error=type(exc).__name__)


async def run_block(session: aiohttp.ClientSession, target: Target, n: int, concurrency: int,
                    stream: bool) -> tuple[list[Sample], float]:
    """n requests to one target, `concurrency` at a time; returns the samples and the wall time."""
    data = json.dumps(target.body).encode()
    left = n
    samples: list[Sample] = []

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            samples.append(await one_request(session, target, data, stream))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
    return samples, time.perf_counter() - start


async def run_blocks(targets: list[Target], n: int, concurrency: int, blocks: int, *,
                     stream: bool, timeout: float = 600.0) -> dict[str, PathResult]:
    """n requests per target, split into `blocks` blocks; the order of the targets flips every
    block (A B, B A, A B, ...) so that slow drift weighs the same on each."""
    results = {t.name: PathResult() for t in targets}
    blocks = max(1, min(blocks, n))
    sizes = [n // blocks + (1 if i < n % blocks else 0) for i in range(blocks)]
    connector = aiohttp.TCPConnector(limit=0)
    client_timeout = aiohttp.ClientTimeout(total=None, sock_read=timeout)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout, headers=headers) as session:
        for i, size in enumerate(sizes):
            for target in targets if i % 2 == 0 else reversed(targets):
                samples, duration = await run_block(session, target, size, concurrency, stream)
                results[target.name].samples.extend(samples)
                results[target.name].duration += duration
    return results
