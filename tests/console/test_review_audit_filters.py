"""Console review: an audit-log filter the database cannot compare (a NUL: PostgreSQL refuses it in
text) was a 500; now the audit page with the refusal, status 400 (SQLite compares it: no events)."""

from __future__ import annotations

from tests.console.review import flashes, secured


def test_audit_filters_the_database_cannot_compare(setup, http, operator) -> None:
    cookie, _ = operator
    r = http.get("/console/audit", params={"actor": "a\x00b", "page": "2"}, headers=cookie)
    assert r.status_code == (400 if setup.postgres else 200), r.text[:300]
    assert "<h1>Audit log</h1>" in r.text and 'id="audit"' in r.text
    secured(r)
    if setup.postgres:
        assert flashes(r.text) == ["A value is too long or malformed for its field."]
