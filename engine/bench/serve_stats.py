"""`teecube bench serve`'s figures, under the field names of vLLM's benchmark_serving result JSON
(request_throughput, output_throughput, mean_/median_/std_/pNN_{ttft,tpot,itl,e2el}_ms), plus one
nested object per metric ({"mean", "p50", ...}) for reading by eye."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from engine.bench.serve_client import Result

METRICS = ("ttft", "tpot", "itl", "e2el")


def histogram_sums(
    text: str, key: Callable[[str, dict[str, str]], str | tuple[str, str] | None]
) -> dict[Any, tuple[float, float]]:
    """{key: (seconds, observations)} from Prometheus text: each histogram's _sum and _count, added up
    over the series `key(family name, labels)` maps to one key (None: skipped). ValueError: not
    Prometheus text."""
    sums: dict[Any, list[float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for i, suffix in enumerate(("_sum", "_count")):
                if sample.name.endswith(suffix) and (k := key(family.name, sample.labels)) is not None:
                    sums.setdefault(k, [0.0, 0.0])[i] += sample.value
    return {k: (v[0], v[1]) for k, v in sums.items()}


def add_delta(total: dict[Any, list[float]], before: dict[Any, tuple[float, float]] | None,
              after: dict[Any, tuple[float, float]] | None) -> None:
    """Add what histogram_sums grew by between two reads to `total` (nothing if either read failed)."""
    if before is None or after is None:
        return
    for key, (seconds, count) in after.items():
        s0, c0 = before.get(key, (0.0, 0.0))
        acc = total.setdefault(key, [0.0, 0.0])
        acc[0] += seconds - s0
        acc[1] += count - c0


def mean_ms(total: dict[Any, list[float]]) -> dict[Any, float]:
    """Mean milliseconds per key over the observations accumulated in `total` (keys with none left out)."""
    return {key: round(seconds / count * 1000, 3) for key, (seconds, count) in total.items() if count > 0}


def parse_metrics(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = sorted(set(names) - set(METRICS))
    if unknown:
        raise SystemExit(f"--percentile-metrics: unknown {', '.join(unknown)} (known: {', '.join(METRICS)})")
    return names


def parse_percentiles(text: str) -> list[float]:
    try:
        values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise SystemExit(f"--metric-percentiles {text}: expected numbers, e.g. 50,90,99") from None
    if not values or any(not 0 < p <= 100 for p in values):
        raise SystemExit("--metric-percentiles: each in (0, 100]")
    return values


def _label(p: float) -> str:
    return f"p{int(p) if float(p).is_integer() else p}"


def metric_values(ok: list[Result]) -> dict[str, list[float]]:
    """Seconds per metric. TTFT only where a token arrived; TPOT per request with at least two tokens."""
    timed = [r for r in ok if r.ttft > 0.0]
    return {
        "ttft": [r.ttft for r in timed],
        "tpot": [(r.latency - r.ttft) / (r.output_tokens - 1) for r in timed if r.output_tokens > 1],
        "itl": [x for r in ok for x in r.itl],
        "e2el": [r.latency for r in ok],
    }


def summarize(
    results: list[Result], duration: float, metrics: list[str], percentiles: list[float]
) -> dict[str, Any]:
    ok = [r for r in results if r.ok]
    input_tokens = sum(r.prompt_tokens for r in ok)
    output_tokens = sum(r.output_tokens for r in ok)
    errors: dict[str, int] = {}
    for r in results:
        if not r.ok:
            errors[r.error or "no [DONE]"] = errors.get(r.error or "no [DONE]", 0) + 1
    out: dict[str, Any] = {
        "completed": len(ok),
        "failed": len(results) - len(ok),
        "errors": errors,
        "duration": round(duration, 3),
        "duration_s": round(duration, 3),
        "total_input_tokens": input_tokens,
        "total_output_tokens": output_tokens,
        "request_throughput": round(len(ok) / duration, 4) if duration else None,
        "output_throughput": round(output_tokens / duration, 3) if duration else None,
        "total_token_throughput": round((input_tokens + output_tokens) / duration, 3) if duration else None,
    }
    values = metric_values(ok)
    # Time to the second token: what a stream through an output guard that holds back the word being
    # written (the proxy's default policy) can at best show as its TTFT.
    second = [r.ttft + r.itl[0] for r in ok if r.ttft > 0.0 and r.itl]
    out["median_second_token_ms"] = round(float(np.median(second)) * 1000.0, 3) if second else None
    for name in metrics:
        a = np.asarray(values[name]) * 1000.0
        nested: dict[str, float | None] = {}
        for stat, fn in (("mean", np.mean), ("median", np.median), ("std", np.std)):
            v = round(float(fn(a)), 3) if a.size else None
            out[f"{stat}_{name}_ms"] = v
            if stat == "mean":
                nested["mean"] = v
        for p in percentiles:
            v = round(float(np.percentile(a, p)), 3) if a.size else None
            out[f"{_label(p)}_{name}_ms"] = v
            nested[_label(p)] = v
        out[f"{name}_ms"] = nested
    return out


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def compare(base: dict[str, Any], other: dict[str, Any]) -> dict[str, float | None]:
    """other / base for throughput and the latency medians and p99s that both reports carry."""
    keys = ["request_throughput", "output_throughput", "total_token_throughput"]
    keys += [k for k in base if k.endswith("_ms") and k.startswith(("median_", "p99_", "mean_"))]
    return {k: ratio(other.get(k), base.get(k)) for k in keys if k in other}
