"""Guardrail policies: default v1, versions, activation, one active version enforced by the DB."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from domains import policies
from domains.errors import NotFound
from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from domains.models import GuardrailPolicy
from domains.tenants import create_domain

ACTOR = "cli:test"


def _policy(rule_id: str) -> dict[str, object]:
    """A config the proxy's guardrail compiler accepts (the only kind that is stored)."""
    return {"version": 1, "rules": [{"id": rule_id, "scanner": "email", "input": "mask", "output": "off"}]}


def test_versions_and_activation(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        create_domain(s, "acme", ACTOR)
    with factory() as s:
        first = policies.get_active_policy(s, "acme")
        assert (first.version, first.config, first.created_by) == (1, DEFAULT_GUARDRAIL_POLICY, ACTOR)
    with factory.begin() as s:
        v2 = policies.create_policy_version(s, "acme", _policy("pii.email"), ACTOR)
        assert (v2.version, v2.active) == (2, False)
        v3 = policies.create_policy_version(s, "acme", _policy("pii.card"), ACTOR, activate=True)
    with factory() as s:
        assert policies.get_active_policy(s, "acme").version == v3.version == 3
    with factory.begin() as s:
        policies.activate_policy_version(s, "acme", 2, ACTOR)
    with factory() as s:
        listed = policies.list_policy_versions(s, "acme")
        assert [(p.version, p.active) for p in listed] == [(1, False), (2, True), (3, False)]
        assert policies.get_active_policy(s, "acme").config == _policy("pii.email")
    with factory.begin() as s, pytest.raises(NotFound):
        policies.activate_policy_version(s, "acme", 9, ACTOR)
    for bad in ([1, 2], {"x": float("nan")}, {"x": object()}, {"rules": ["pii.email"]},
                {"version": 1, "rules": [{"id": "r", "scanner": "no-such-scanner"}]}):
        with factory.begin() as s, pytest.raises(ValueError):  # Invalid or PolicyConfigError
            policies.create_policy_version(s, "acme", bad, ACTOR)  # type: ignore[arg-type]
    with factory() as s:
        assert len(policies.list_policy_versions(s, "acme")) == 3  # none of them was stored


def test_database_refuses_a_second_active_version(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        create_domain(s, "acme", ACTOR)
        policies.create_policy_version(s, "acme", {"version": 1, "rules": []}, ACTOR)
    with factory.begin() as s, pytest.raises(IntegrityError):
        s.execute(update(GuardrailPolicy).where(GuardrailPolicy.version == 2).values(active=True))
    with factory.begin() as s:  # other domains are independent
        create_domain(s, "globex", ACTOR)
        assert policies.get_active_policy(s, "globex").version == 1
