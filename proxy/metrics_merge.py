"""`/metrics` of a `--workers` proxy: every worker's metrics summed into one exposition.

Counters and histograms add up across workers (same name and labels: one series); `_created`
timestamps take the earliest. `teecube_proxy_workers_reporting` says how many workers answered
this scrape: a worker that was restarted starts its counters from zero, as any restarted
process does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families


def merge(texts: list[str]) -> list[Metric]:
    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
            series = values.setdefault(family.name, {})
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                if key not in series:
                    series[key] = sample.value
                elif sample.name.endswith("_created"):
                    series[key] = min(series[key], sample.value)
                else:
                    series[key] += sample.value
    for name, family in families.items():
        for (sample_name, labels), value in values[name].items():
            family.add_sample(sample_name, dict(labels), value)
    return list(families.values())


class _Collected:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class WorkerMetrics:
    """The operator listener's `render()` for a supervisor: asks each worker's Unix socket."""

    def __init__(self, sockets: list[str], timeout: float = 2.0) -> None:
        self.sockets = sockets
        self.timeout = timeout

    async def _fetch(self, path: str) -> str | None:
        try:
            connector = aiohttp.UnixConnector(path=path)
            async with (
                aiohttp.ClientSession(connector=connector) as session,
                session.get(
                    "http://worker/metrics", timeout=aiohttp.ClientTimeout(total=self.timeout)
                ) as resp,
            ):
                return await resp.text() if resp.status == 200 else None
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None  # restarting: it reports again on the next scrape

    async def render(self) -> bytes:
        texts = [t for t in await asyncio.gather(*(self._fetch(p) for p in self.sockets)) if t is not None]
        reporting = GaugeMetricFamily(
            "teecube_proxy_workers_reporting", "Proxy worker processes whose metrics this scrape sums"
        )
        reporting.add_metric([], len(texts))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collected([*merge(texts), reporting]))  # type: ignore[arg-type]
        return generate_latest(registry)
