"""What the engine itself saw of a `bench serve` run's timed requests: its own TTFT (from a request's
arrival at its HTTP server), time queued and time in prefill, from vLLM's request histograms on its
/metrics. A client's TTFT then splits into the engine's part and what came before the engine (the
network, the proxy): under a burst, direct and proxied runs differ in both."""

from __future__ import annotations

import aiohttp

from engine.bench.serve_client import Target
from engine.bench.serve_stats import histogram_sums, mean_ms

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
    try:
        return histogram_sums(text, lambda name, _: HISTOGRAMS.get(name))
    except ValueError:  # not Prometheus text
        return None


def engine_report(total: dict[str, list[float]]) -> dict[str, float] | None:
    """{"requests": n, "ttft": mean ms, "queue": ..., "prefill": ...} over the accumulated requests."""
    if total.get("ttft", [0.0, 0.0])[1] <= 0:
        return None
    return {"requests": int(total["ttft"][1]), **mean_ms(total)}
