"""The console's parts without a browser: sessions, charts, metrics parsing, usage sums, demo usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domains import db
from domains.demo import DEMO_DOMAIN, seed_demo
from domains.models import Domain
from domains.operator_actions import UNSET, ActionInvalid, parse
from domains.operator_actions.inputs import DomainUpdate
from domains.tenants import create_domain
from proxy.console.charts import bar_chart
from proxy.console.health import parse_metrics
from proxy.console.queries import audit_page, usage_report
from proxy.console.sessions import SessionStore
from proxy.console.web import CSP
from tests.console import harness


def test_sessions_expire_and_drop() -> None:
    store = SessionStore(ttl=60)
    sid, session = store.create("operator")
    assert store.get(sid) is session and session.csrf_ok(session.csrf)
    assert not session.csrf_ok("") and not session.csrf_ok(None) and not session.csrf_ok(session.csrf + "x")
    session.expires = 0.0
    assert store.get(sid) is None and store.get(sid) is None
    sid, _ = store.create("tenant", domain_id=1, domain_name="a", key_id="k")
    store.drop(sid)
    assert store.get(sid) is None and store.get(None) is None and store.get("x" * 500) is None


def test_session_store_is_bounded() -> None:
    store = SessionStore(ttl=60, max_sessions=3)
    sids = [store.create("operator")[0] for _ in range(5)]
    assert sum(store.get(s) is not None for s in sids) == 3 and store.get(sids[-1]) is not None


def test_csp_allows_no_script_and_no_inline_style() -> None:
    assert "script-src" not in CSP and "unsafe-inline" not in CSP and "default-src 'none'" in CSP


def test_form_values_are_parsed_by_the_action_inputs() -> None:
    form = {"name": "x", "max_n": " 42 ", "requests_per_minute": ""}
    update = parse(DomainUpdate, form, "form")
    assert update.max_n == 42 and update.requests_per_minute is None  # empty limit = no limit
    assert update.max_messages is UNSET  # not in the form: unchanged
    for junk in ("4x", "1e5", "99999999999", "0"):
        with pytest.raises(ActionInvalid, match="max_n must be a positive integer"):
            parse(DomainUpdate, {"name": "x", "max_n": junk}, "form")


def test_bar_chart_scales_to_the_peak() -> None:
    chart = bar_chart("t", [("a", 0), ("b", 5), ("c", 10)], width=300, height=120)
    assert [b.height for b in chart.bars] == [0.0, 50.0, 100.0] and chart.peak == 10
    assert all(b.x + b.width <= 300 for b in chart.bars)
    assert all(b.height == 0 for b in bar_chart("e", [("a", 0)]).bars)


def test_parse_metrics_reads_the_engines_exposition() -> None:
    from engine.metrics import EngineMetrics
    from engine.outputs import EngineStats

    text = EngineMetrics(lambda: EngineStats(**harness.ENGINE_STATS), "m").render().decode()
    assert parse_metrics(text) == {"running": 3.0, "waiting": 1.0, "kv_cache_usage": 0.42,
                                   "prompt_tokens": 12000.0, "generation_tokens": 3400.0}


@pytest.mark.slow
def test_demo_gets_a_day_of_sample_usage_once(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    db.upgrade(url)
    factory = db.session_factory(url)
    with factory.begin() as s:
        seed_demo(s, "test:demo", harness.PEPPER)
    with factory.begin() as s:
        assert seed_demo(s, "test:demo", harness.PEPPER) == ([], None)  # idempotent, usage included
    with factory() as s:
        demo_id = s.query(Domain).filter_by(name=DEMO_DOMAIN).one().id
        report = usage_report(s, days=2, domain_id=demo_id)
        everything = usage_report(s, days=2)
        assert report.total.requests == everything.total.requests > 24
        assert report.total.limit_hits > 0 and report.total.guardrail_hits > 0
        assert sum(t.requests for t in report.by_day.values()) == report.total.requests
        assert list(report.by_model) == [("demo", "smollm2")]
        assert usage_report(s, days=1, domain_id=demo_id + 1).total.requests == 0
        future = datetime.now(UTC) + timedelta(days=5)
        assert usage_report(s, days=1, domain_id=demo_id, now=future).total.requests == 0
        first = audit_page(s, page=1)
        assert first.events and not first.has_next
        assert audit_page(s, page=1, action="domain.create").events[0].object_id == "demo"
        assert audit_page(s, page=2).events == []
    with factory.begin() as s:
        for i in range(30):
            create_domain(s, f"d{i}", "test:pages")
    with factory() as s:
        first, second = audit_page(s, page=1, actor="test:pages"), audit_page(s, page=2, actor="test:pages")
        assert first.has_next and not second.has_next and len(first.events) == 25 and len(second.events) == 5
        assert first.events[0].object_id == "d29" and second.events[-1].object_id == "d0"
    factory.kw["bind"].dispose()
