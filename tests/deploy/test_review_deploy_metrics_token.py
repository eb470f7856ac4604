"""deploy/k8s and compose: Prometheus gets the metrics token, never the operator token.

The proxies read the metrics token (`--metrics-token-file`) from the same read-only secret volume
as the operator token; the Secret template holds a placeholder the proxy refuses (too short), and
the docs tell operators to hand Prometheus the metrics token."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from deploy_helpers import DEPLOY, REPO, parse_role

from proxy.cli import config_from_args

K8S = DEPLOY / "k8s"


def _docs() -> list[dict]:
    out: list[dict] = []
    for path in sorted(K8S.glob("*.yaml")):
        out += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return out


def _one(kind: str, name: str) -> dict:
    (doc,) = [d for d in _docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_the_proxy_reads_the_metrics_token_from_the_read_only_secret_volume() -> None:
    pod = _one("Deployment", "teecube-proxy")["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    args = parse_role(c["args"])
    path = args.metrics_token_file
    assert path and path != args.operator_token_file
    (mount,) = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert mount.get("readOnly") is True
    secret = {v["name"]: v for v in pod["volumes"]}[mount["name"]]["secret"]
    assert secret["secretName"] == "teecube-secrets"
    rel = path[len(mount["mountPath"].rstrip("/")) + 1:]
    assert {"key": "TEECUBE_METRICS_TOKEN", "path": rel} in secret["items"]
    mode = secret.get("defaultMode", 0o644)
    assert mode & 0o040 and not mode & 0o007, oct(mode)
    # not environment as well (child processes and `kubectl exec` shells inherit that)
    names = {v["name"] for v in c.get("env", [])}
    assert not names & {"TEECUBE_METRICS_TOKEN", "TEECUBE_METRICS_TOKEN_FILE"}
    assert all("secretRef" not in s for s in c.get("envFrom", []))


def test_the_secret_template_placeholder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _one("Secret", "teecube-secrets")["stringData"]
    assert {"TEECUBE_METRICS_TOKEN", "TEECUBE_OPERATOR_TOKEN"} <= set(data)
    token = tmp_path / "metrics-token"
    token.write_text(data["TEECUBE_METRICS_TOKEN"])
    monkeypatch.delenv("TEECUBE_OPERATOR_TOKEN", raising=False)
    monkeypatch.setenv("TEECUBE_PEPPER", "p" * 64)
    with pytest.raises(SystemExit, match="at least 16 characters"):
        config_from_args(parse_role(["proxy", "--metrics-token-file", str(token)]))


def test_the_docs_give_prometheus_the_metrics_token() -> None:
    text = " ".join((REPO / "docs" / "deploy.md").read_text().split())
    assert "--metrics-token-file" in text and "TEECUBE_METRICS_TOKEN" in text
    assert "needs the operator token as the scraper's bearer" not in text
    proxy_doc = " ".join((REPO / "docs" / "proxy.md").read_text().split())
    assert "--metrics-token-file" in proxy_doc
