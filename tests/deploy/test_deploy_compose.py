"""docker-compose.yml (and the GPU override), checked as `docker compose config` would, plus
what this project needs of it: the services, ports, volumes, health checks, the secrets from
deploy/compose.env, and commands the real CLI accepts."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from deploy_helpers import DEPLOY, REPO, parse_role
from dockerfile_parse import parse as parse_dockerfile
from sqlalchemy.engine import make_url

from domains.config import load_pepper
from domains.errors import Invalid
from proxy.cli import config_from_args

COMPOSE = REPO / "docker-compose.yml"
GPU_OVERRIDE = DEPLOY / "compose.gpu.yml"
ENV_EXAMPLE = DEPLOY / "compose.env.example"


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Compose's merge for what the override uses: mappings merge, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"{path}: not NAME=value: {line!r}"
            out[name.strip()] = value
    return out


@pytest.fixture(scope="module", params=["base", "gpu"])
def compose(request: pytest.FixtureRequest) -> dict[str, Any]:
    base = _load(COMPOSE)
    return base if request.param == "base" else _merge(base, _load(GPU_OVERRIDE))


def _env_files(service: dict[str, Any]) -> list[str]:
    files = service.get("env_file", [])
    return [f if isinstance(f, str) else f["path"] for f in ([files] if isinstance(files, str) else files)]


def test_services_ports_and_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"appliance", "postgres", "redis"}
    app = services["appliance"]
    assert app["ports"] == ["8443:8443"]
    for dep in ("postgres", "redis"):
        assert app["depends_on"][dep]["condition"] == "service_healthy"
        assert "healthcheck" in services[dep], f"{dep} needs a health check for service_healthy"
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
    # PostgreSQL and Redis are published nowhere; only the appliance is.
    assert "ports" not in services["postgres"] and "ports" not in services["redis"]


def test_volumes_networks_and_env_files_are_declared_or_exist(compose: dict[str, Any]) -> None:
    declared_volumes = set(compose.get("volumes") or {})
    declared_networks = set(compose.get("networks") or {})
    ignored = (DEPLOY / ".gitignore").read_text().split()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if source.startswith((".", "/")):
                assert (REPO / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
        for network in service.get("networks", []):
            assert network in declared_networks, f"{name}: network {network} is not declared"
        for env_file in _env_files(service):
            # The filled-in file is the operator's (git-ignored); its template must exist.
            path = REPO / env_file
            assert path.exists() or Path(f"{path}.example").exists(), f"{name}: no {env_file}(.example)"
            assert f"/{path.relative_to(DEPLOY)}" in ignored, f"{env_file} must be git-ignored"
    assert compose["networks"]["back"].get("internal") is True


def test_interpolated_variables_have_defaults() -> None:
    # `docker compose config` fails on ${VAR} without a value; $$ is a literal dollar.
    for path in (COMPOSE, GPU_OVERRIDE):
        text = path.read_text().replace("$$", "")
        bare = [m for m in re.findall(r"\$\{([^}]+)\}", text) if not re.search(r":?-", m)]
        assert not bare, f"{path.name}: ${{{bare}}} without a default"


def test_appliance_image_health_check_and_hardening(compose: dict[str, Any]) -> None:
    app = compose["services"]["appliance"]
    dockerfile = REPO / app["build"]["context"] / app["build"]["dockerfile"]
    assert dockerfile.exists()
    copies = [i.args for i in parse_dockerfile(dockerfile) if i.keyword == "COPY"]
    assert app["healthcheck"]["test"] == ["CMD", "python", "/opt/teecube/healthcheck.py"]
    assert any(c.endswith("deploy/docker/healthcheck.py /opt/teecube/healthcheck.py") for c in copies)
    assert app["read_only"] is True and "/tmp" in app["tmpfs"]
    assert app["user"].split(":")[0] not in ("0", "root")
    assert app["cap_drop"] == ["ALL"]
    mounts = dict(v.split(":", 1) for v in app["volumes"])
    assert mounts["data"] == "/var/lib/teecube"
    assert mounts["models"] == "/models:ro"


def test_appliance_command_is_the_real_serve(compose: dict[str, Any]) -> None:
    app = compose["services"]["appliance"]
    args = parse_role(app["command"])
    assert args.host == "0.0.0.0" and args.port == 8443
    assert args.state_dir == "/var/lib/teecube"  # the data volume
    assert app["environment"]["TEECUBE_PORT"] == str(args.port)  # what the health check probes
    # The Redis URL carries its password, so it comes from compose.env, not the compose file.
    assert "TEECUBE_REDIS_URL" not in app["environment"]
    if args.device == "cuda":
        (device,) = app["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
        assert args.model.startswith("/models/")


def test_env_example_feeds_the_app_and_postgres_consistently() -> None:
    # The appliance's file and PostgreSQL's own (which must not get the pepper: test_review_compose.py).
    env = {**_env_file(ENV_EXAMPLE), **_env_file(DEPLOY / "postgres.env.example")}
    for name in ("TEECUBE_PEPPER", "TEECUBE_OPERATOR_TOKEN", "TEECUBE_DATABASE_URL",
                 "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
        assert name in env, name
    url = make_url(env["TEECUBE_DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg" and url.host == "postgres"  # the service name
    assert (url.username, url.password, url.database) == (
        env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"])
    services = _load(COMPOSE)["services"]
    assert "deploy/compose.env" in _env_files(services["appliance"])
    # Redis gets its own file (its password) only; the appliance's URL carries the same password.
    assert _env_files(services["redis"]) == ["deploy/redis.env"]
    redis_env = _env_file(DEPLOY / "redis.env.example")
    assert set(redis_env) == {"REDIS_PASSWORD"}
    redis_url = urlsplit(_env_file(ENV_EXAMPLE)["TEECUBE_REDIS_URL"])
    assert (redis_url.scheme, redis_url.hostname, redis_url.port) == ("redis", "redis", 6379)
    assert redis_url.password == redis_env["REDIS_PASSWORD"]


def test_env_example_placeholders_fail_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting with the untouched template is refused, never served with a guessable pepper."""
    env = _env_file(ENV_EXAMPLE)
    with pytest.raises(Invalid, match="too short"):
        load_pepper(env={"TEECUBE_PEPPER": env["TEECUBE_PEPPER"]})
    monkeypatch.setenv("TEECUBE_OPERATOR_TOKEN", env["TEECUBE_OPERATOR_TOKEN"])
    with pytest.raises(SystemExit, match="at least 16 characters"):
        config_from_args(parse_role(["proxy"]))
