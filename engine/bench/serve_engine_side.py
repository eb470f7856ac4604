"""What the engine itself saw of a `bench serve` run's timed requests: its own TTFT (from a request's
arrival at its HTTP server), time queued and time in prefill, from vLLM's request histograms on its
/metrics. A client's TTFT then splits into the engine's part and what came before the engine (the
network, the proxy): under a burst, direct and proxied runs differ in both."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from engine.bench.serve_client import Target

HISTOGRAMS = {
    "vllm:time_to_first_token_seconds": "ttft",
    "vllm:request_queue_time_seconds": "queue",
    "vllm:request_prefill_time_seconds": "prefill",
}
Sums = dict[str, tuple[float, float]]  # {"ttft": (seconds, requests), ...}


async def engine_sums(engine: Target) -> Sums | None:
    """The engine's histogram sums and counts so far (all models); None if /metrics cannot be read."""
    try:
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(engine.base_url + "/metrics", ssl=engine.ssl) as resp:
                if resp.status != 200:
                    return None
                text = await resp.text()
    except (aiohttp.ClientError, TimeoutError, OSError):
        return None
    sums: dict[str, list[float]] = {}
    try:
        for family in text_string_to_metric_families(text):
            key = HISTOGRAMS.get(family.name) or HISTOGRAMS.get(family.name + "_seconds")
            if key is None:
                continue
            for sample in family.samples:
                for i, suffix in enumerate(("_sum", "_count")):
                    if sample.name.endswith(suffix):
                        sums.setdefault(key, [0.0, 0.0])[i] += sample.value
    except ValueError:  # not Prometheus text
        return None
    return {k: (v[0], v[1]) for k, v in sums.items()}


def add_delta(total: dict[str, list[float]], before: Sums | None, after: Sums | None) -> None:
    """Add what the engine observed between two reads to `total` (nothing if either read failed)."""
    if before is None or after is None:
        return
    for key, (seconds, count) in after.items():
        s0, c0 = before.get(key, (0.0, 0.0))
        acc = total.setdefault(key, [0.0, 0.0])
        acc[0] += seconds - s0
        acc[1] += count - c0


def means_ms(total: dict[str, list[float]]) -> dict[str, float] | None:
    """{"requests": n, "ttft": mean ms, "queue": ..., "prefill": ...} over the accumulated requests."""
    if not total or total.get("ttft", [0.0, 0.0])[1] <= 0:
        return None
    out: dict[str, float] = {"requests": int(total["ttft"][1])}
    for key in ("ttft", "queue", "prefill"):
        seconds, count = total.get(key, (0.0, 0.0))
        if count > 0:
            out[key] = round(seconds / count * 1000, 3)
    return out
