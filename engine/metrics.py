"""Prometheus metrics under vLLM's names, in a per-app CollectorRegistry.

Engine totals (tokens, successes, preemptions, prefix cache) and the queue gauges are read from
`engine.stats()` at scrape time; latency and size histograms are observed per request by the server
(what vLLM's Grafana dashboard queries: deploy/grafana/teecube.json; tests check the two agree).
GPU utilisation and memory come from NVML when an NVIDIA GPU is present (nothing otherwise).
"""

from __future__ import annotations

import itertools
import logging
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.outputs import EngineStats, RequestMetrics

log = logging.getLogger("engine.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LABELS = ("model_name", "engine")

# vLLM's buckets (vllm/v1/metrics/loggers.py)
TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
ITL_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
)
REQUEST_BUCKETS = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)


def one_two_five_buckets(limit: int) -> tuple[float, ...]:
    """1, 2, 5, 10, 20, 50, ... up to limit (vLLM's buckets for token counts)."""
    out: list[float] = []
    scale = 1
    while True:
        for m in (1, 2, 5):
            if m * scale > limit:
                return tuple(out)
            out.append(float(m * scale))
        scale *= 10


TOKEN_BUCKETS = one_two_five_buckets(1_000_000)
N_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0)


class _EngineCollector(Collector):
    """Gauges and counters from one `engine.stats()` call per scrape."""

    def __init__(self, stats: Callable[[], EngineStats], labels: tuple[str, str]) -> None:
        self._stats = stats
        self._labels = list(labels)

    def collect(self) -> Iterator[Metric]:
        s = self._stats()
        for name, doc, value in (
            ("vllm:num_requests_running", "Number of requests in model execution batches.", s.num_running),
            ("vllm:num_requests_waiting", "Number of requests waiting to be processed.", s.num_waiting),
            ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", s.kv_cache_usage),
            ("vllm:gpu_cache_usage_perc", "KV-cache usage (vLLM's older name).", s.kv_cache_usage),
        ):
            g = GaugeMetricFamily(name, doc, labels=LABELS)
            g.add_metric(self._labels, value)
            yield g
        for name, doc, value in (
            ("vllm:prompt_tokens", "Number of prefill tokens processed.", s.prompt_tokens),
            ("vllm:generation_tokens", "Number of generation tokens processed.", s.generation_tokens),
            ("vllm:num_preemptions", "Cumulative number of preemption from the engine.", s.num_preemptions),
            (
                "vllm:prefix_cache_queries",
                "Prefix cache queries, in terms of number of queried tokens.",
                s.prefix_cache_queries,
            ),
            (
                "vllm:prefix_cache_hits",
                "Prefix cache hits, in terms of number of cached tokens.",
                s.prefix_cache_hits,
            ),
        ):
            c = CounterMetricFamily(name, doc, labels=LABELS)
            c.add_metric(self._labels, value)
            yield c
        doc = "Count of successfully processed requests."
        c = CounterMetricFamily("vllm:request_success", doc, labels=(*LABELS, "finished_reason"))
        for reason in sorted({"stop", "length", "abort", *s.request_success}):
            c.add_metric([*self._labels, reason], s.request_success.get(reason, 0))
        yield c


class _GpuCollector(Collector):
    """NVML utilisation and memory per GPU; yields nothing when NVML or a GPU is absent."""

    def __init__(self) -> None:
        self._nvml: Any = None
        try:
            import pynvml

            pynvml.nvmlInit()
            if pynvml.nvmlDeviceGetCount() > 0:
                self._nvml = pynvml
        except Exception:  # no driver, no GPU: no GPU metrics
            self._nvml = None

    def collect(self) -> Iterator[Metric]:
        if self._nvml is None:
            return
        nv = self._nvml
        util = GaugeMetricFamily("teecube:gpu_utilization_perc", "GPU utilisation (0-1).", labels=["gpu"])
        used = GaugeMetricFamily("teecube:gpu_memory_used_bytes", "GPU memory in use.", labels=["gpu"])
        total = GaugeMetricFamily("teecube:gpu_memory_total_bytes", "GPU memory in total.", labels=["gpu"])
        try:
            for i in range(nv.nvmlDeviceGetCount()):
                h = nv.nvmlDeviceGetHandleByIndex(i)
                mem = nv.nvmlDeviceGetMemoryInfo(h)
                util.add_metric([str(i)], nv.nvmlDeviceGetUtilizationRates(h).gpu / 100.0)
                used.add_metric([str(i)], mem.used)
                total.add_metric([str(i)], mem.total)
        except Exception as exc:
            log.warning("NVML query failed: %s", type(exc).__name__)
            return
        yield from (util, used, total)


@dataclass(frozen=True, slots=True)
class RequestSizes:
    prompt_tokens: int
    generation_tokens: int
    max_tokens: int
    n: int


class EngineMetrics:
    """One registry per app: engine stats at scrape time plus per-request latency histograms."""

    def __init__(self, stats: Callable[[], EngineStats], model_name: str, engine_index: str = "0") -> None:
        self.registry = CollectorRegistry()
        labels = (model_name, engine_index)
        self.registry.register(_EngineCollector(stats, labels))
        self.registry.register(_GpuCollector())

        def histogram(name: str, doc: str, buckets: tuple[float, ...]) -> Any:
            h = Histogram(name, doc, LABELS, buckets=buckets, registry=self.registry)
            return h.labels(*labels)

        self.ttft = histogram(
            "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS
        )
        self.itl = histogram(
            "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL_BUCKETS
        )
        self.e2e = histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            REQUEST_BUCKETS,
        )
        self.queue = histogram(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            REQUEST_BUCKETS,
        )
        self.prefill = histogram(
            "vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase.", REQUEST_BUCKETS
        )
        self.decode = histogram(
            "vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase.", REQUEST_BUCKETS
        )
        self.inference = histogram(
            "vllm:request_inference_time_seconds",
            "Histogram of time spent in RUNNING phase.",
            REQUEST_BUCKETS,
        )
        doc = "Histogram of time per output token in seconds."
        self.tpot = [  # vLLM's current name and its older one (which its example dashboard queries)
            histogram("vllm:request_time_per_output_token_seconds", doc, ITL_BUCKETS),
            histogram("vllm:time_per_output_token_seconds", doc, ITL_BUCKETS),
        ]
        self.prompt_tokens = histogram(
            "vllm:request_prompt_tokens", "Number of prefill tokens processed.", TOKEN_BUCKETS
        )
        self.generation_tokens = histogram(
            "vllm:request_generation_tokens", "Number of generation tokens processed.", TOKEN_BUCKETS
        )
        self.max_generation_tokens = histogram(
            "vllm:request_max_num_generation_tokens",
            "Histogram of maximum number of requested generation tokens.",
            TOKEN_BUCKETS,
        )
        self.params_max_tokens = histogram(
            "vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", TOKEN_BUCKETS
        )
        self.params_n = histogram("vllm:request_params_n", "Histogram of the n request parameter.", N_BUCKETS)

    def observe_request(
        self,
        arrival: float,
        token_times: list[float],
        end: float,
        engine_metrics: RequestMetrics | None,
        sizes: RequestSizes | None = None,
    ) -> None:
        """arrival and end: server-side monotonic times; token_times: when each output token arrived;
        sizes: the request's token counts and parameters."""
        if token_times:
            self.ttft.observe(max(token_times[0] - arrival, 0.0))
            observe_many(self.itl, [max(cur - prev, 0.0) for prev, cur in itertools.pairwise(token_times)])
            if len(token_times) > 1:
                per_token = max(token_times[-1] - token_times[0], 0.0) / (len(token_times) - 1)
                for h in self.tpot:
                    h.observe(per_token)
        self.e2e.observe(max(end - arrival, 0.0))
        m = engine_metrics
        if m is not None and m.first_scheduled_time is not None:
            self.queue.observe(max(m.first_scheduled_time - m.arrival_time, 0.0))
            if m.first_token_time is not None:
                self.prefill.observe(max(m.first_token_time - m.first_scheduled_time, 0.0))
                last = m.last_token_time or m.first_token_time
                self.decode.observe(max(last - m.first_token_time, 0.0))
                self.inference.observe(max(last - m.first_scheduled_time, 0.0))
        if sizes is not None:
            self.prompt_tokens.observe(sizes.prompt_tokens)
            self.generation_tokens.observe(sizes.generation_tokens)
            self.max_generation_tokens.observe(sizes.max_tokens)
            self.params_max_tokens.observe(sizes.max_tokens)
            self.params_n.observe(sizes.n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def observe_many(hist: Any, values: list[float]) -> None:
    """`hist.observe(v)` for each value (a request's inter-token gaps, on the event loop): one
    increment per bucket hit instead of a bucket scan and two locked increments per value."""
    bounds, buckets, total = (getattr(hist, a, None) for a in ("_upper_bounds", "_buckets", "_sum"))
    if bounds is None or buckets is None or total is None or not values:
        for v in values:
            hist.observe(v)
        return
    for i, count in Counter(bisect_left(bounds, v) for v in values).items():
        buckets[i].inc(count)
    total.inc(sum(values))
