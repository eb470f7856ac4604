"""The proxy's one configuration object, from flags and environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ProxyConfig:
    # Secrets are fields with repr=False: a logged or traced config shows none of them.
    database_url: str = field(repr=False)  # may carry the database password
    pepper: bytes = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 8443
    # The admin API's bearer; the admin API is off without it.
    operator_token: str | None = field(default=None, repr=False)
    # Bearer for GET /metrics on the metrics listener only; when set, the operator token no
    # longer opens /metrics (proxy.operator_listener).
    metrics_token: str | None = field(default=None, repr=False)
    # Shared limits across replicas (in-process when None); the URL may carry Redis's password.
    redis_url: str | None = field(default=None, repr=False)
    redis_prefix: str = "teecube:rl:"  # key prefix of the shared limiter's buckets
    limiter_fail_open: bool = False  # Redis down: refuse (503) unless this is set
    cache_ttl: float = 1.0  # bound on revocation delay (keys, grants, domains), per replica
    auth_failure_limit: int = 30  # failures per client address per minute before refusing
    default_max_body_bytes: int = 1024 * 1024
    upstream_connect_timeout: float = 5.0
    upstream_read_timeout: float = 600.0
    tls: bool = False  # serve HTTPS with the TEE-generated key (attestation binds it)
    tee: str = "simulated"
    tls_cert_chain: str | None = None  # operator's CA-issued chain for the TEE key (CSR flow)
    state_dir: str = "var"
    public_hosts: list[str] = field(default_factory=lambda: ["localhost", "127.0.0.1"])
    # Per-domain prefix-cache salt on forwarded requests (off only where the engine predates it).
    prefix_cache_isolation: bool = True
    # Operator listener for /metrics (never on the tenant port); None: no metrics listener.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 9464
    # Connection hardening on the tenant port.
    header_timeout: float = 10.0  # a connection must finish its request headers within this
    body_timeout: float = 30.0  # a request body must arrive within this once its headers are in
    max_connections_per_address: int = 64
    attestation_per_minute: int = 60  # /attestation requests per client address
    # Processes scanning large inputs (re2 holds the GIL: one loop scans one request at a time);
    # None: proxy.guardrails.scan_pool.default_workers(), 0: scan inline.
    guard_scan_workers: int | None = None
    # Worker processes sharing the tenant socket (proxy.supervisor); 1: this process serves alone.
    workers: int = 1
    # Set by the supervisor in each worker's copy: its index, and the shared limiter's socket
    # (None with Redis, which every worker reaches itself).
    worker_index: int | None = None
    limiter_socket: str | None = None
    console_socket: str | None = None  # worker 0 serves the console there; the others forward to it
    # A file the supervisor creates once every worker has started: until then /health answers 503, so a
    # probe answered by the first worker up does not send traffic to the others' backlogs.
    ready_marker: str | None = None
