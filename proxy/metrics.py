"""Prometheus metrics for the proxy. Labels are bounded: domain, alias (operator-set names,
only after resolution), status class, limit kind. No secrets, no text, no raw model names."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class ProxyMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "teecube_proxy_requests", "Tenant requests by outcome",
            ["domain", "alias", "status_class"], registry=self.registry,
        )
        self.latency = Histogram(
            "teecube_proxy_request_latency_seconds", "End-to-end latency seen by the proxy",
            ["route"], registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.overhead = Histogram(
            "teecube_proxy_overhead_seconds", "Time spent in the proxy before forwarding",
            ["route"], registry=self.registry,
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
        )
        # where the time before forwarding goes: admission (auth, body, checks), limits (reserve),
        # input_guardrails (token-id decoding and the input scan)
        self.phase = Histogram(
            "teecube_proxy_phase_seconds", "Time before forwarding, by phase",
            ["route", "phase"], registry=self.registry,
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1),
        )
        self.tokens = Counter(
            "teecube_proxy_tokens", "Tokens by kind", ["domain", "alias", "kind"], registry=self.registry
        )
        self.limit_hits = Counter(
            "teecube_proxy_limit_hits", "Requests refused by a rate or token limit",
            ["domain", "kind"], registry=self.registry,
        )
        self.upstream_errors = Counter(
            "teecube_proxy_upstream_errors", "Upstream failures", ["alias", "kind"], registry=self.registry
        )
        self.guardrail_hits = Counter(
            "teecube_proxy_guardrail_hits", "Guardrail rules that fired", ["domain", "stage"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "teecube_proxy_auth_failures", "Rejected credentials", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
