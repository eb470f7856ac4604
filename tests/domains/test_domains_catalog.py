"""Domains, deployments, grants and the routing view the proxy reads; every change is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domains import validate
from domains.deployments import add_deployment, list_deployments, set_deployment_status
from domains.errors import Conflict, Invalid, NotFound
from domains.grants import grant_model, list_grants, revoke_model
from domains.models import AuditEvent
from domains.tenants import create_domain, disable_domain, get_domain, list_domains
from domains.views import ModelGrant, domain_settings, domain_view

ACTOR = "admin-api:tok_1"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8001",
        "https://vllm.internal:8443/v1",
        "unix:/run/teecube/engine.sock",
        "http://[::1]:80/",
    ],
)
def test_upstream_urls_accepted(url: str) -> None:
    assert validate.upstream_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x/",
        "http://user:pw@host/",
        "http://@host/",
        "file:///etc/passwd",
        "unix:relative.sock",
        "http:///x",
        "http://h:99999/",
        "http://h/#frag",
        "http://h /",
        "",
        "javascript:alert(1)",
        "//host/x",
    ],
)
def test_upstream_urls_refused(url: str) -> None:
    with pytest.raises(Invalid):
        validate.upstream_url(url)


@pytest.mark.parametrize("ref", ["env:VLLM_API_KEY", "env:_x1", "file:/run/secrets/vllm"])
def test_credential_refs_accepted(ref: str) -> None:
    assert validate.credential_ref(ref) == ref


@pytest.mark.parametrize(
    "ref", ["sk-live-abcdef", "env:", "env:1BAD", "env:A-B", "file:relative", "vault:x", ""]
)
def test_credential_refs_refused(ref: str) -> None:
    with pytest.raises(Invalid):
        validate.credential_ref(ref)


def test_domain_lifecycle_and_audit(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        d = create_domain(s, "acme", ACTOR, requests_per_minute=60, max_tokens_cap=512)
        assert (d.max_body_bytes, d.max_messages, d.max_n, d.guardrail_fail_mode) == (
            1 << 20,
            256,
            8,
            "closed",
        )
        assert d.created_at.tzinfo is not None
    with factory.begin() as s, pytest.raises(Conflict):
        create_domain(s, "acme", ACTOR)
    for bad in ("Acme", "", "a b", "x" * 64, "-x"):
        with factory.begin() as s, pytest.raises(Invalid):
            create_domain(s, bad, ACTOR)
    with factory.begin() as s, pytest.raises(Invalid):
        create_domain(s, "other", ACTOR, guardrail_fail_mode="maybe")
    with factory.begin() as s:
        disable_domain(s, "acme", ACTOR)
        disable_domain(s, "acme", ACTOR)  # no change, no second event
    with factory() as s:
        assert [(d.name, d.status) for d in list_domains(s)] == [("acme", "disabled")]
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [e.action for e in events] == ["domain.create", "domain.disable"]
        assert events[1].before["status"] == "active" and events[1].after["status"] == "disabled"
        assert all(e.actor == ACTOR for e in events)
        with pytest.raises(NotFound):
            get_domain(s, "missing")


def test_grants_build_the_routing_view(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        create_domain(s, "acme", ACTOR)
        create_domain(s, "globex", ACTOR)
        add_deployment(
            s,
            "llama",
            "openai",
            "http://10.0.0.5:8000/v1",
            "meta/llama",
            ACTOR,
            credential_ref="env:VLLM_KEY",
            context_length=8192,
        )
        add_deployment(s, "tiny", "teecube", "unix:/run/engine.sock", "smollm2", ACTOR)
        grant_model(s, "acme", "chat", "llama", ACTOR, tokens_per_minute=1000, max_prompt_tokens=4000)
        grant_model(s, "acme", "small", "tiny", ACTOR, enabled=False)
        grant_model(s, "globex", "chat", "tiny", ACTOR)
        acme, globex = get_domain(s, "acme").id, get_domain(s, "globex").id
    with factory.begin() as s, pytest.raises(NotFound):
        grant_model(s, "acme", "x", "no-such-deployment", ACTOR)
    with factory.begin() as s, pytest.raises(Conflict):
        add_deployment(s, "tiny", "ollama", "http://h:11434", "m", ACTOR)
    with factory.begin() as s, pytest.raises(Invalid):
        add_deployment(s, "bad", "anthropic", "http://h", "m", ACTOR)

    with factory() as s:
        view = domain_view(s, acme)
        assert set(view) == {"chat", "small"}
        assert view["chat"] == ModelGrant(
            alias="chat",
            deployment_id=view["chat"].deployment_id,
            deployment_name="llama",
            kind="openai",
            url="http://10.0.0.5:8000/v1",
            served_model_name="meta/llama",
            credential_ref="env:VLLM_KEY",
            context_length=8192,
            enabled=True,
            rpm=None,
            tpm=1000,
            max_tokens_cap=None,
            max_prompt_tokens=4000,
        )
        assert view["small"].enabled is False
        assert domain_view(s, globex)["chat"].deployment_name == "tiny"
        settings = domain_settings(s, acme)
        assert settings is not None and settings.active and settings.max_n == 8
        assert domain_settings(s, 10_000) is None

    with factory.begin() as s:
        grant_model(s, "acme", "small", "tiny", ACTOR, enabled=True, requests_per_minute=5)  # replaces
        set_deployment_status(s, "llama", "disabled", ACTOR)
        revoke_model(s, "globex", "chat", ACTOR)
    with factory.begin() as s, pytest.raises(NotFound):
        revoke_model(s, "globex", "chat", ACTOR)
    with factory() as s:
        view = domain_view(s, acme)
        assert view["small"].enabled and view["small"].rpm == 5
        assert view["chat"].enabled is False  # its deployment is disabled
        assert domain_view(s, globex) == {}
        assert len(list_grants(s, "acme")) == 2 and len(list_deployments(s)) == 2
        grant_events = s.scalars(select(AuditEvent).where(AuditEvent.object_type == "domain_model")).all()
        replaced = [e for e in grant_events if e.object_id == "acme/small"][-1]
        assert replaced.before["enabled"] is False and replaced.after["enabled"] is True
        assert grant_events[-1].action == "grant.revoke" and grant_events[-1].after is None


def test_seed_demo_is_idempotent_and_follows_the_engine(
    factory: sessionmaker[Session], pepper: bytes
) -> None:
    from domains.demo import DEMO_ALIAS, DEMO_DOMAIN, seed_demo
    from domains.keys import list_keys, resolve_key

    with factory.begin() as s:
        done, secret = seed_demo(s, "cli:serve-demo", pepper)
    assert len(done) == 4 and secret is not None
    with factory.begin() as s:
        assert seed_demo(s, "cli:serve-demo", pepper) == ([], None)
    with factory.begin() as s:
        done, fresh = seed_demo(
            s,
            "cli:serve-demo",
            pepper,
            engine_url="unix:/run/tc/engine.sock",
            credential_ref="env:TEECUBE_ENGINE_API_KEY",
            fresh_key=True,
        )
    assert fresh is not None and fresh != secret and any("pointed" in d for d in done)
    with factory() as s:
        resolved = resolve_key(s, fresh, pepper)
        assert resolved is not None and resolved.domain_name == DEMO_DOMAIN
        grant = domain_view(s, resolved.domain_id)[DEMO_ALIAS]
        assert (grant.url, grant.credential_ref, grant.enabled) == (
            "unix:/run/tc/engine.sock",
            "env:TEECUBE_ENGINE_API_KEY",
            True,
        )
        assert len(list_keys(s, DEMO_DOMAIN)) == 2
