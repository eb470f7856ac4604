"""deploy/grafana/teecube.json queries only metrics the engine or the proxy export, and covers the panels
of vLLM's own dashboard (latency, throughput, scheduler, cache, prompt/generation length, finish reason,
queue, prefill/decode, max generation tokens)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.registry import CollectorRegistry

from engine.metrics import EngineMetrics, RequestSizes
from engine.outputs import EngineStats, RequestMetrics
from proxy.metrics import ProxyMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "teecube.json"
METRIC = re.compile(r"\b(vllm:[a-z0-9_:]+|teecube[:_][a-z0-9_:]+)")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
# what vLLM's example dashboard (examples/online_serving/prometheus_grafana/grafana.json) queries
VLLM_DASHBOARD = {
    "vllm:e2e_request_latency_seconds_bucket",
    "vllm:prompt_tokens_total",
    "vllm:generation_tokens_total",
    "vllm:time_per_output_token_seconds_bucket",
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:time_to_first_token_seconds_bucket",
    "vllm:gpu_cache_usage_perc",
    "vllm:request_prompt_tokens_bucket",
    "vllm:request_generation_tokens_bucket",
    "vllm:request_success_total",
    "vllm:request_queue_time_seconds_sum",
    "vllm:request_prefill_time_seconds_sum",
    "vllm:request_decode_time_seconds_sum",
    "vllm:request_max_num_generation_tokens_sum",
}


def stats() -> EngineStats:
    return EngineStats(1, 0, 0.5, 10, 5, 100, 50, 0, 10, 5, {"stop": 1})


def exported(registry: CollectorRegistry) -> set[str]:
    names = set()
    for family in registry.collect():
        names.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
    return names


def engine_series() -> set[str]:
    metrics = EngineMetrics(stats, "m")
    metrics.observe_request(0.0, [0.1, 0.2, 0.3], 0.4, RequestMetrics(0.0, 0.05, 0.1, 0.3, 0.3),
                            RequestSizes(12, 3, 16, 1))  # fmt: skip
    text = metrics.render().decode()
    assert 'vllm:request_prompt_tokens_bucket{engine="0",le="20.0",model_name="m"} 1.0' in text
    assert 'vllm:request_prefill_time_seconds_sum{engine="0",model_name="m"} 0.05' in text
    return exported(metrics.registry)


def queried() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [
        v["query"]["query"] for v in dashboard["templating"]["list"] if isinstance(v.get("query"), dict)
    ]
    return {m for e in exprs for m in METRIC.findall(e)}


def test_every_queried_metric_is_exported() -> None:
    available = (
        engine_series()
        | exported(ProxyMetrics().registry)
        | {"teecube:gpu_utilization_perc", "teecube:gpu_memory_used_bytes", "teecube:gpu_memory_total_bytes"}
    )  # NVML gauges: exported where a GPU is present
    missing = sorted(queried() - available)
    assert not missing, f"the dashboard queries metrics nobody exports: {missing}"
    assert any(m.startswith("teecube_proxy") for m in queried()) and any(
        m.startswith("vllm:") for m in queried()
    )


def test_the_engine_fills_what_vllms_dashboard_queries() -> None:
    assert sorted(VLLM_DASHBOARD - engine_series()) == []
