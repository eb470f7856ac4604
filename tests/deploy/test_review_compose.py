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


@pytest.mark.parametrize("name", ["appliance", "postgres", "redis"])
def test_every_service_is_confined(compose: dict[str, Any], name: str) -> None:
    """Non-root, no capabilities, no setuid gains, read-only root: not only for the appliance.
    PostgreSQL and Redis run as the image's own users (as in deploy/k8s), so their entrypoints
    never need root to chown and drop privileges."""
    service = compose["services"][name]
    user = str(service.get("user", "0")).split(":")[0]
    assert user not in ("", "0", "root"), f"{name} runs as root"
    assert service.get("cap_drop") == ["ALL"], name
    assert "no-new-privileges:true" in service.get("security_opt", []), name
    assert service.get("read_only") is True, name


def test_backing_services_run_as_the_users_of_their_k8s_twins(compose: dict[str, Any]) -> None:
    import yaml

    for name in ("postgres", "redis"):
        (doc,) = [d for d in yaml.safe_load_all((DEPLOY / "k8s" / f"{name}.yaml").read_text())
                  if d and d["kind"] in ("Deployment", "StatefulSet")]
        uid = doc["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
        assert str(compose["services"][name]["user"]).split(":")[0] == str(uid), name
        assert compose["services"][name]["image"] == doc["spec"]["template"]["spec"]["containers"][0]["image"]
