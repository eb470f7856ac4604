"""Deployment health probes and the engine panel's figures, read from each upstream's /metrics.

Requests go to operator-registered upstream URLs only, with the deployment's own credential,
through the proxy's upstream pool; each has a short timeout so a dead upstream cannot stall
the page.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from proxy.forward.upstream import CredentialError, Upstream, resolve_credential
from proxy.state import POOL

PROBE_TIMEOUT = aiohttp.ClientTimeout(total=2.0)
MAX_METRICS_BYTES = 4 * 1024 * 1024
GAUGES = {
    "vllm:num_requests_running": "running",
    "vllm:num_requests_waiting": "waiting",
    "vllm:kv_cache_usage_perc": "kv_cache_usage",
}
COUNTERS = {"vllm:prompt_tokens": "prompt_tokens", "vllm:generation_tokens": "generation_tokens"}


def _headers(upstream: Upstream) -> dict[str, str]:
    try:
        credential = resolve_credential(upstream.credential_ref)
    except CredentialError:
        credential = None
    return {"Authorization": f"Bearer {credential}"} if credential else {}


async def _get(app: web.Application, row: dict[str, Any], path: str) -> tuple[int, str]:
    upstream = Upstream(row["url"], row.get("credential_ref"))
    session = app[POOL].session(upstream)
    url = upstream.endpoint(path)
    async with session.get(url, headers=_headers(upstream), timeout=PROBE_TIMEOUT) as resp:
        body = await resp.content.read(MAX_METRICS_BYTES)
        return resp.status, body.decode(errors="replace")


async def probe(app: web.Application, row: dict[str, Any]) -> str:
    if row["status"] != "active":
        return "disabled"
    path = "/api/version" if row["kind"] == "ollama" else "/health"
    try:
        status, _ = await _get(app, row, path)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return "unreachable"
    return "healthy" if status == 200 else f"HTTP {status}"


async def probe_all(app: web.Application, rows: list[dict[str, Any]]) -> dict[str, str]:
    results = await asyncio.gather(*(probe(app, r) for r in rows))
    return {r["name"]: h for r, h in zip(rows, results, strict=True)}


def parse_metrics(text: str) -> dict[str, float]:
    """Sum vLLM's gauges and counters over their label sets (one engine may report several)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        base = family.name.removesuffix("_total")
        name = GAUGES.get(base) or COUNTERS.get(base)
        if name is None:
            continue
        for sample in family.samples:
            if sample.name in (base, f"{base}_total"):
                out[name] = out.get(name, 0.0) + sample.value
    return out


async def engine_figures(app: web.Application, row: dict[str, Any],
                         previous: dict[str, tuple[float, dict[str, float]]]) -> dict[str, Any]:
    """Running/waiting requests, KV-cache usage and token throughput since the last look."""
    if row["kind"] == "ollama" or row["status"] != "active":
        return {"name": row["name"], "error": "no vLLM-style /metrics for this deployment"}
    try:
        status, text = await _get(app, row, "/metrics")
        if status != 200:
            return {"name": row["name"], "error": f"/metrics answered HTTP {status}"}
        figures: dict[str, Any] = {n: 0.0 for n in (*GAUGES.values(), *COUNTERS.values())}
        figures.update(parse_metrics(text))
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return {"name": row["name"], "error": "unreachable"}
    now = time.monotonic()
    last = previous.get(row["name"])
    previous[row["name"]] = (now, {k: figures.get(k, 0.0) for k in COUNTERS.values()})
    for key in COUNTERS.values():
        figures[f"{key}_per_s"] = None
    if last is not None and now > last[0]:
        elapsed = now - last[0]
        for key in COUNTERS.values():
            figures[f"{key}_per_s"] = max(0.0, figures.get(key, 0.0) - last[1].get(key, 0.0)) / elapsed
    figures["name"], figures["error"] = row["name"], None
    return figures
