"""Review of deploy/k8s beyond the schema: what the manifests promise must be what the pods do.

* A Prometheus scrape annotation must name a port where the pod really serves /metrics. The
  proxy's tenant port has no /metrics (docs/proxy.md: it names every domain, so it lives on the
  operator listener, loopback by default).
* Every pod in the namespace, not only teecube's, runs without a ServiceAccount token.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import make_mocked_request
from deploy_helpers import DEPLOY, REPO, parse_role

from proxy.operator_listener import is_loopback

K8S = DEPLOY / "k8s"
DOC = REPO / "docs" / "deploy.md"


def _docs() -> list[dict[str, Any]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        out += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return out


def _workloads() -> list[dict[str, Any]]:
    return [d for d in _docs() if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def _one(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in _docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _tenant_app_serves(path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the proxy's tenant listener (the app on --port) has a route for GET `path`."""
    from proxy.app import create_app
    from proxy.cli import config_from_args

    monkeypatch.setenv("TEECUBE_PEPPER", secrets.token_hex(32))
    monkeypatch.setenv("TEECUBE_OPERATOR_TOKEN", secrets.token_hex(16))
    args = parse_role(["proxy", "--no-tls", "--database-url", f"sqlite:///{tmp_path}/p.db",
                       "--guard-scan-workers", "0"])
    app = create_app(config_from_args(args))

    async def resolve() -> bool:
        match = await app.router.resolve(make_mocked_request("GET", path))
        return match.http_exception is None

    return asyncio.run(resolve())


def test_prometheus_annotations_name_a_port_that_serves_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not _tenant_app_serves("/metrics", tmp_path, monkeypatch)  # the premise: 404 there
    assert _tenant_app_serves("/health", tmp_path, monkeypatch)  # (and the check is live)
    proxy = _one("Deployment", "teecube-proxy")
    template = proxy["spec"]["template"]
    notes = template["metadata"].get("annotations", {})
    if notes.get("prometheus.io/scrape") != "true":
        return
    (c,) = template["spec"]["containers"]
    args = parse_role(c["args"])
    port = int(notes["prometheus.io/port"])
    assert port != args.port, "the tenant port has no /metrics: Prometheus would scrape a 404"
    assert port == args.metrics_port and not is_loopback(args.metrics_host)
    assert port in {p["containerPort"] for p in c["ports"]}


def test_docs_do_not_promise_a_scrapeable_tenant_port() -> None:
    text = " ".join(DOC.read_text().split())
    for claim in ("proxies' `/metrics` is annotated for scraping", "Prometheus annotations on `/metrics`"):
        found = claim in text
        assert not found, f"docs/deploy.md still says: {claim}"


def test_no_pod_mounts_a_service_account_token() -> None:
    """None of these pods talks to the Kubernetes API; a mounted token is only something to steal."""
    for w in _workloads():
        spec = w["spec"]["template"]["spec"]
        assert spec.get("automountServiceAccountToken") is False, w["metadata"]["name"]


def test_every_container_has_a_read_only_root() -> None:
    """PostgreSQL and Redis too: their writable paths are volumes (data, /var/run/postgresql, /tmp)."""
    for w in _workloads():
        for c in w["spec"]["template"]["spec"]["containers"]:
            where = (w["metadata"]["name"], c["name"])
            assert c["securityContext"].get("readOnlyRootFilesystem") is True, where
            if c["name"] == "postgres":
                mounts = {m["mountPath"] for m in c["volumeMounts"]}
                assert {"/var/run/postgresql", "/tmp", "/var/lib/postgresql/data"} <= mounts


FILE_SECRETS = {"TEECUBE_PEPPER": "TEECUBE_PEPPER_FILE", "TEECUBE_OPERATOR_TOKEN": "--operator-token-file"}


def _secret_keys(name: str) -> set[str]:
    return set(_one("Secret", name)["stringData"])


def test_pepper_and_operator_token_are_files_not_environment() -> None:
    """As on the CVM (systemd credentials): the pepper and the operator token are mounted from the
    Secret as files, not put in the environment, which every child process (guardrail scan
    workers, `kubectl exec` shells) inherits and which crash dumps and /proc/PID/environ show."""
    for w in _workloads():
        for c in w["spec"]["template"]["spec"]["containers"]:
            for source in c.get("envFrom", []):
                if "secretRef" in source:
                    leaked = _secret_keys(source["secretRef"]["name"]) & set(FILE_SECRETS)
                    assert not leaked, (w["metadata"]["name"], leaked)
            names = {v["name"] for v in c.get("env", [])}
            assert not names & set(FILE_SECRETS), (w["metadata"]["name"], names & set(FILE_SECRETS))

    proxy = _one("Deployment", "teecube-proxy")
    pod = proxy["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    env = {v["name"]: v for v in c["env"]}
    args = parse_role(c["args"])
    wanted = {"TEECUBE_PEPPER": env["TEECUBE_PEPPER_FILE"]["value"],
              "TEECUBE_OPERATOR_TOKEN": args.operator_token_file}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for key, path in wanted.items():
        assert path, key
        (mount,) = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
        assert mount.get("readOnly") is True
        secret = volumes[mount["name"]]["secret"]
        assert secret["secretName"] == "teecube-secrets" and key in _secret_keys("teecube-secrets")
        rel = path[len(mount["mountPath"].rstrip("/")) + 1:]
        assert {"key": key, "path": rel} in [{"key": i["key"], "path": i["path"]} for i in secret["items"]]
        # Owned by root, group fsGroup: the non-root proxy reads it through the group bit only.
        mode = secret.get("defaultMode", 0o644)
        assert mode & 0o040 and not mode & 0o007, oct(mode)
        assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    # What stays in the environment: the database URL and the engine bearer (credential_ref env:).
    for key in ("TEECUBE_DATABASE_URL", "TEECUBE_ENGINE_API_KEY"):
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "teecube-secrets", "key": key}
