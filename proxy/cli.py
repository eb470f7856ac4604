"""`teecube proxy`: the attested, domain-scoped gateway on its own (see `teecube serve`
to start the engine and the proxy together)."""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
import sys
from pathlib import Path

from domains.config import database_url, load_pepper
from proxy.config import ProxyConfig


def add_proxy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--database-url", help="default: $TEECUBE_DATABASE_URL or sqlite var/teecube.db")
    parser.add_argument("--redis-url", default=os.environ.get("TEECUBE_REDIS_URL"),
                        help="share rate limits across replicas (default: in-process)")
    parser.add_argument("--limiter-fail-open", action="store_true",
                        help="when Redis is down, fall back to per-replica limits instead of refusing (503)")
    parser.add_argument("--operator-token-file", help="file holding the admin API token "
                        "(or $TEECUBE_OPERATOR_TOKEN); the admin API is off without one")
    parser.add_argument("--metrics-token-file", help="file holding the bearer that Prometheus presents "
                        "on the /metrics listener (or $TEECUBE_METRICS_TOKEN_FILE); it authorizes "
                        "GET /metrics only, and once set the operator token no longer opens /metrics")
    parser.add_argument("--tee", default=os.environ.get("TEECUBE_TEE", "auto"),
                        choices=["auto", "sev-snp", "tdx", "simulated"])
    parser.add_argument("--no-tls", action="store_true", help="plain HTTP (tests and local debugging only)")
    parser.add_argument("--state-dir", default="var")
    parser.add_argument("--tls-cert", metavar="CHAIN", help="serve this CA-signed chain (PEM, leaf first) "
                        "for the TEE key of `teecube serve --tls-csr` instead of a self-signed certificate")
    parser.add_argument("--public-host", action="append", default=None,
                        help="hostname or IP clients use (in the TLS certificate); repeatable")
    parser.add_argument("--cache-ttl", type=float, default=1.0,
                        help="seconds a key/grant/domain lookup is cached: the revocation delay bound")
    parser.add_argument("--auth-failure-limit", type=int, default=30)
    parser.add_argument("--metrics-host", default="127.0.0.1",
                        help="operator listener for /metrics (a non-loopback host needs a metrics or "
                        "operator token)")
    parser.add_argument("--metrics-port", type=int, default=9464,
                        help="port of the operator /metrics listener; 0 turns it off")
    parser.add_argument("--header-timeout", type=float, default=10.0,
                        help="seconds a connection has to send its request headers")
    parser.add_argument("--body-timeout", type=float, default=30.0,
                        help="seconds a request body has to arrive")
    parser.add_argument("--max-connections-per-address", type=int, default=64)
    parser.add_argument("--guard-scan-workers", type=int, default=None, metavar="N",
                        help="processes that scan large inputs for the guardrails (default: a quarter "
                        "of the cores, at most 8, none below 8 cores; 0: scan on the event loop); "
                        "with --workers, shared out among the workers (at least one each)")
    parser.add_argument("--workers", type=_workers, default=None, metavar="N|auto",
                        help="proxy processes sharing the tenant port (default 1 for `teecube proxy`; "
                        "auto: half of the cores, 1 to 8). Limits stay global: through Redis "
                        "with --redis-url, else through this process (docs/proxy.md, Workers)")


def _workers(value: str) -> int:
    from proxy.supervisor import parse_workers

    try:
        return parse_workers(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


MIN_TOKEN_CHARS = 16


def _metrics_token_path(args: argparse.Namespace) -> str | None:
    return args.metrics_token_file or os.environ.get("TEECUBE_METRICS_TOKEN_FILE") or None


def metrics_token_from_args(args: argparse.Namespace) -> str | None:
    """The /metrics bearer from --metrics-token-file, else $TEECUBE_METRICS_TOKEN_FILE (the flag
    wins); None when neither names a file. A missing, unreadable or short file is a SystemExit
    that names the file, never its content."""
    path = _metrics_token_path(args)
    return None if path is None else read_token_file(path, "metrics token")


def read_token_file(path: str, what: str) -> str:
    """A bearer token from a file; a missing, unreadable or short file is a SystemExit that names the
    file, never its content."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SystemExit(f"teecube proxy: the {what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SystemExit(f"teecube proxy: the {what} file {path} cannot be read ({reason})") from None
    if len(token) < MIN_TOKEN_CHARS:
        raise SystemExit(f"teecube proxy: the {what} in {path} must be at least {MIN_TOKEN_CHARS} characters")
    if not (token.isascii() and token.isprintable()):  # what a bearer header can carry (proxy.auth)
        raise SystemExit(f"teecube proxy: the {what} in {path} must be printable ASCII on one line")
    return token


def operator_token_from_args(args: argparse.Namespace) -> str | None:
    """The admin bearer from --operator-token-file, else $TEECUBE_OPERATOR_TOKEN; None: no admin API."""
    if args.operator_token_file:
        return read_token_file(args.operator_token_file, "operator token")
    token = os.environ.get("TEECUBE_OPERATOR_TOKEN")
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise SystemExit("teecube proxy: the operator token must be at least 16 characters")
    return token


def config_from_args(args: argparse.Namespace) -> ProxyConfig:
    token = operator_token_from_args(args)
    metrics_token = metrics_token_from_args(args)
    if metrics_token is not None and token is not None and hmac.compare_digest(
            metrics_token.encode(), token.encode()):
        raise SystemExit(f"teecube proxy: the metrics token in {_metrics_token_path(args)} must differ "
                         "from the operator token (it is handed to the metrics scraper, which must not "
                         "hold the admin API)")
    hosts = args.public_host or ["localhost", "127.0.0.1"]
    return ProxyConfig(
        database_url=database_url(args.database_url),
        pepper=load_pepper(),
        host=args.host,
        port=args.port,
        operator_token=token,
        metrics_token=metrics_token,
        redis_url=args.redis_url,
        limiter_fail_open=args.limiter_fail_open,
        cache_ttl=args.cache_ttl,
        auth_failure_limit=args.auth_failure_limit,
        tls=not args.no_tls,
        tee=args.tee,
        tls_cert_chain=args.tls_cert,
        state_dir=args.state_dir,
        public_hosts=hosts,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port or None,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        max_connections_per_address=args.max_connections_per_address,
        guard_scan_workers=args.guard_scan_workers,
        workers=args.workers or 1,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="teecube proxy", description=__doc__)
    add_proxy_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from proxy.server import serve

    try:
        asyncio.run(serve(config_from_args(args)))
    except Exception as exc:  # a startup failure: one clear line, no traceback
        print(f"teecube proxy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
