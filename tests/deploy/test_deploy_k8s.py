"""deploy/k8s: every manifest passes the Kubernetes OpenAPI schema (kubernetes-validate, offline,
strict: unknown fields are errors), and the pieces fit together: selectors, ports, references to
ConfigMaps/Secrets/PVCs, probes, the real CLI's flags, and the NetworkPolicy that lets only the
proxies reach the engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from deploy_helpers import DEPLOY, parse_role

K8S = DEPLOY / "k8s"
VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]  # oldest supported, newest bundled
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
TEECUBE_IMAGES = ("teecube:",)


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


ALL = [(p, d) for p in MANIFESTS for d in _docs(p)]


def _kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in ALL if d["kind"] == kind]


def _one(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in _kind(kind) if d["metadata"]["name"] == name]
    return doc


def _workloads() -> list[dict[str, Any]]:
    return [d for _, d in ALL if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return _pod(workload)["spec"]["containers"]


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("path", "doc"), ALL, ids=[f"{p.name}:{d['kind']}/{d['metadata']['name']}"
                                                     for p, d in ALL])
def test_schema(path: Path, doc: dict[str, Any], version: str) -> None:
    # returns the schema version it checked against; a schema violation raises ValidationError
    checked = kubernetes_validate.validate(doc, version, strict=True)
    assert checked == kubernetes_validate.utils.major_minor(version)


def test_the_schema_check_is_live() -> None:
    """A typo and a wrong type are rejected: the validator really reads the bundled schemas."""
    proxy = _one("Deployment", "teecube-proxy")
    typo = yaml.safe_load(yaml.safe_dump(proxy))
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, VERSIONS[0], strict=True)
    wrong = yaml.safe_load(yaml.safe_dump(proxy))
    wrong["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, VERSIONS[0], strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert all((K8S / r).exists() for r in listed)
    assert listed == {p.name for p in MANIFESTS} - {"secret.example.yaml"}
    assert "/k8s/secret.yaml" in (DEPLOY / ".gitignore").read_text().split()


def test_one_namespace() -> None:
    (ns,) = _kind("Namespace")
    for _, doc in ALL:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == ns["metadata"]["name"], doc["metadata"]["name"]


def test_selectors_match_their_pods_and_services_reach_named_ports() -> None:
    pods = [_pod(w) for w in _workloads()]
    for w in _workloads():
        if w["kind"] != "Job":
            assert _matches(w["spec"]["selector"]["matchLabels"], _pod(w)["metadata"]["labels"])
    for svc in _kind("Service"):
        targets = [p for p in pods if _matches(svc["spec"]["selector"], p["metadata"]["labels"])]
        assert len(targets) == 1, svc["metadata"]["name"]
        names = {port["name"] for c in targets[0]["spec"]["containers"] for port in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in names, (svc["metadata"]["name"], port)


def test_references_to_configmaps_secrets_and_claims_resolve() -> None:
    configmaps = {d["metadata"]["name"]: d["data"] for d in _kind("ConfigMap")}
    secrets = {d["metadata"]["name"]: d["stringData"] for d in _kind("Secret")}
    claims = {d["metadata"]["name"] for d in _kind("PersistentVolumeClaim")}
    for w in _workloads():
        for c in _containers(w):
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
            for var in c.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]], ref
        for volume in _pod(w)["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims


def test_teecube_containers_are_hardened() -> None:
    for w in _workloads():
        pod = _pod(w)["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
            if c["image"].startswith(TEECUBE_IMAGES):
                assert sc["readOnlyRootFilesystem"] is True, w["metadata"]["name"]
                assert pod["automountServiceAccountToken"] is False
                mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
                assert "/tmp" in mounts


def _env(workload: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
    """(names of env sources, plain env values) of the first container."""
    c = _containers(workload)[0]
    sources = {s.get("configMapRef", s.get("secretRef", {})).get("name") for s in c.get("envFrom", [])}
    return sources, {v["name"]: v.get("value", "<ref>") for v in c.get("env", [])}


def test_proxy_deployment() -> None:
    proxy = _one("Deployment", "teecube-proxy")
    (c,) = _containers(proxy)
    args = parse_role(c["args"])
    assert args.host == "0.0.0.0" and args.port == 8443 and not args.no_tls
    sources, env = _env(proxy)
    # The pepper and operator token are files from the secret (test_review_k8s.py).
    assert sources == {"teecube-config"}
    assert {"TEECUBE_PEPPER_FILE", "TEECUBE_DATABASE_URL", "TEECUBE_ENGINE_API_KEY"} <= set(env)
    assert args.operator_token_file
    assert env["TEECUBE_MIGRATE"] == "0"  # the Job migrates
    secrets = _one("Secret", "teecube-secrets")["stringData"]
    for name in ("TEECUBE_PEPPER", "TEECUBE_OPERATOR_TOKEN", "TEECUBE_DATABASE_URL",
                 "TEECUBE_ENGINE_API_KEY"):
        assert name in secrets
    for probe in ("readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert (get["path"], get["scheme"], get["port"]) == ("/health", "HTTPS", "https")
    (port,) = c["ports"]
    assert port["containerPort"] == args.port
    # No scrape annotation on the tenant port: it has no /metrics (test_review_k8s.py).
    notes = _pod(proxy)["metadata"].get("annotations", {})
    assert notes.get("prometheus.io/port") != str(args.port)
    # Horizontal scaling, and clients stay on the replica whose TLS key they attested.
    hpa = _one("HorizontalPodAutoscaler", "teecube-proxy")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "teecube-proxy" and hpa["minReplicas"] >= 2
    assert _one("Service", "teecube-proxy")["spec"]["sessionAffinity"] == "ClientIP"
    # The Redis URL carries Redis's password: from the secret, never the ConfigMap.
    assert "TEECUBE_REDIS_URL" not in _one("ConfigMap", "teecube-config")["data"]
    (redis_var,) = [v for v in c["env"] if v["name"] == "TEECUBE_REDIS_URL"]
    assert redis_var["valueFrom"]["secretKeyRef"] == {"name": "teecube-secrets", "key": "TEECUBE_REDIS_URL"}
    redis_url = urlsplit(secrets["TEECUBE_REDIS_URL"])
    assert (redis_url.hostname, redis_url.port) == ("teecube-redis", 6379)
    assert redis_url.password == _one("Secret", "teecube-redis")["stringData"]["REDIS_PASSWORD"]


def test_engine_deployment() -> None:
    engine = _one("Deployment", "teecube-engine")
    (c,) = _containers(engine)
    args = parse_role(c["args"])
    assert args.host == "0.0.0.0" and args.device == "cuda" and args.model.startswith("/models/")
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    sources, env = _env(engine)
    assert sources == set(), "the engine gets no database URL, pepper or operator token"
    assert set(env) == {"TEECUBE_ENGINE_API_KEY", "HF_HUB_OFFLINE"}
    (port,) = c["ports"]
    assert port["containerPort"] == args.port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    anti = _pod(engine)["spec"]["affinity"]["podAntiAffinity"]
    anti = anti["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"  # one engine per GPU node


def test_migration_job() -> None:
    job = _one("Job", "teecube-migrate")
    (c,) = _containers(job)
    assert c["args"] == ["migrate"]  # entrypoint.sh: wait for the database, `teecube db upgrade`
    parse_role(c["args"])
    _, env = _env(job)
    assert "TEECUBE_DATABASE_URL" in env


def _allowed_sources(target_labels: dict[str, str], port: int) -> list[str]:
    """Names of the workloads whose pods the NetworkPolicies let reach `target_labels` on `port`.

    Only policies in this directory; ingress peers by podSelector within the namespace, or any
    source when a rule has no `from`. A target no policy selects would be open to everyone.
    """
    policies = [p for p in _kind("NetworkPolicy")
                if _matches(p["spec"]["podSelector"]["matchLabels"], target_labels)]
    assert policies, f"no NetworkPolicy selects {target_labels}"
    allowed = set()
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            if not any(p.get("port") == port for p in rule.get("ports", [{"port": port}])):
                continue
            for w in _workloads():
                labels = _pod(w)["metadata"]["labels"]
                peers = rule.get("from")
                if peers is None or any(_matches(p["podSelector"]["matchLabels"], labels) for p in peers):
                    allowed.add(w["metadata"]["name"])
            if rule.get("from") is None:
                allowed.add("*anyone*")
    return sorted(allowed)


def test_only_the_proxy_reaches_the_engine_and_the_engine_reaches_nothing() -> None:
    engine = _one("Deployment", "teecube-engine")
    labels = _pod(engine)["metadata"]["labels"]
    assert _allowed_sources(labels, 8000) == ["teecube-proxy"]
    (policy,) = [p for p in _kind("NetworkPolicy")
                 if _matches(p["spec"]["podSelector"]["matchLabels"], labels)]
    assert "Egress" in policy["spec"]["policyTypes"] and policy["spec"]["egress"] == []


def test_database_and_redis_accept_only_their_clients() -> None:
    postgres = _pod(_one("StatefulSet", "teecube-postgres"))["metadata"]["labels"]
    assert _allowed_sources(postgres, 5432) == ["teecube-migrate", "teecube-proxy"]
    redis = _pod(_one("Deployment", "teecube-redis"))["metadata"]["labels"]
    assert _allowed_sources(redis, 6379) == ["teecube-proxy"]
    proxy = _pod(_one("Deployment", "teecube-proxy"))["metadata"]["labels"]
    assert "*anyone*" in _allowed_sources(proxy, 8443)  # tenants
