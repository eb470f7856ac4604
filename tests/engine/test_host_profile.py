"""engine/bench/host_profile.py --workload: the whole offline workload through the real EngineCore with a
stand-in forward, step by step."""

from __future__ import annotations

import pytest

from engine.bench.host_profile import whole_workload


@pytest.mark.slow
def test_whole_workload_runs_every_step_and_names_the_slow_ones() -> None:
    r = whole_workload()
    # 148k prompt tokens at 16384 a step, then decode to the longest output (1024): ~1,030 steps
    assert 1000 <= r["steps"] <= 1100 and r["host_s"] > 0
    assert 0 < r["median_step_us"] <= r["p99_step_us"]
    assert r["count_over_3x_median"] == len(r["steps_over_3x_median"]) or len(r["steps_over_3x_median"]) == 20
    for step in r["steps_over_3x_median"]:
        assert step["us"] > 3 * r["median_step_us"] and "schedule" in step["phases_us"]
