"""Review of docker-compose.yml (+ deploy/compose.gpu.yml): least privilege for the services
that are not teecube.

PostgreSQL holds the API-key hashes; the pepper is what keeps a copy of them from being
brute-forced offline (docs/deploy.md, "Backups": "Keep them apart"). So the database container
must never be handed the pepper or the operator token, which is what a shared env_file did
(`docker inspect`, `docker compose exec postgres env`, any process in that container).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import DEPLOY, REPO
from test_deploy_compose import COMPOSE, GPU_OVERRIDE, _env_file, _env_files, _load, _merge

APP_SECRETS = ("TEECUBE_PEPPER", "TEECUBE_OPERATOR_TOKEN", "TEECUBE_ENGINE_API_KEY")


@pytest.fixture(scope="module", params=["base", "gpu"])
def compose(request: pytest.FixtureRequest) -> dict[str, Any]:
    base = _load(COMPOSE)
    return base if request.param == "base" else _merge(base, _load(GPU_OVERRIDE))


def _template(env_file: str) -> Path:
    """The committed template of an operator's env file (deploy/x.env -> deploy/x.env.example)."""
    path = REPO / env_file
    example = Path(f"{path}.example")
    assert example.exists(), f"no template {example.relative_to(REPO)} for {env_file}"
    return example


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """Every variable the service's container gets: its env files (templates) and `environment`."""
    env: dict[str, str] = {}
    for f in _env_files(service):
        env.update(_env_file(_template(f)))
    extra = service.get("environment", {})
    if isinstance(extra, list):
        extra = dict(item.partition("=")[::2] for item in extra)
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_backing_services_get_no_teecube_secret(compose: dict[str, Any], name: str) -> None:
    env = _environment(compose["services"][name])
    leaked = sorted(k for k in env if k in APP_SECRETS or k.startswith("TEECUBE_"))
    assert not leaked, f"{name} is given {leaked}"


def test_the_appliance_still_gets_its_secrets_and_postgres_its_own(compose: dict[str, Any]) -> None:
    app = _environment(compose["services"]["appliance"])
    assert {"TEECUBE_PEPPER", "TEECUBE_OPERATOR_TOKEN", "TEECUBE_DATABASE_URL"} <= set(app)
    pg = _environment(compose["services"]["postgres"])
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} <= set(pg)
    ignored = (DEPLOY / ".gitignore").read_text().split()
    for service in compose["services"].values():
        for f in _env_files(service):
            assert f"/{(REPO / f).relative_to(DEPLOY)}" in ignored, f"{f} must be git-ignored"
