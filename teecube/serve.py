"""`teecube serve`: the appliance. Starts the engine on a private Unix socket and the
attested proxy in front of it; the engine is reachable only through the proxy.

`--demo` runs everything on loopback with the bundled SmolLM2 model on the CPU, the
default SQLite database, simulated attestation, a demo domain, deployment and
grant, and prints one fresh API key with ready-to-paste examples.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from domains import db
from domains.config import DEFAULT_PEPPER_FILE, database_url, ensure_pepper_file, load_pepper
from domains.demo import DEMO_ALIAS, seed_demo
from proxy.cli import add_proxy_arguments, config_from_args, metrics_token_from_args, operator_token_from_args
from teecube.banner import DemoPaths, banner
from teecube.engine_flags import EngineFlagError, engine_flags
from teecube.preflight import (
    InstanceLock,
    PreflightError,
    check_port_free,
    check_tee,
    check_tls_cert,
    write_tls_csr,
)

log = logging.getLogger("teecube.serve")
ENGINE_KEY_ENV = "TEECUBE_ENGINE_API_KEY"
# The proxy's secrets and stores: the engine (which runs model code on tenants' text) gets none of them.
PROXY_ONLY_ENV = (
    "TEECUBE_PEPPER", "TEECUBE_PEPPER_FILE", "TEECUBE_OPERATOR_TOKEN", "TEECUBE_METRICS_TOKEN_FILE",
    "TEECUBE_DATABASE_URL", "TEECUBE_REDIS_URL",
)


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def start_engine(model: str, device: str, socket_path: Path, extra: list[str]) -> subprocess.Popen[bytes]:
    """Start the engine on `socket_path` (call it holding the instance lock: it replaces the socket)."""
    if socket_path.exists():
        socket_path.unlink()
    cmd = [sys.executable, "-m", "teecube.cli", "engine", "--model", model, "--device", device,
           "--uds", str(socket_path), *extra]
    return subprocess.Popen(cmd, env=engine_environment(os.environ))


def engine_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The engine's environment: serve's, less the proxy's secrets and store addresses (PROXY_ONLY_ENV)."""
    return {k: v for k, v in environ.items() if k not in PROXY_ONLY_ENV}


async def wait_for_engine(proc: subprocess.Popen[bytes], socket_path: Path, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the engine exited during start-up (exit code {proc.returncode})")
        if socket_path.exists():
            try:
                connector = aiohttp.UnixConnector(path=str(socket_path))
                async with aiohttp.ClientSession(connector=connector) as session, session.get(
                    "http://localhost/health", timeout=aiohttp.ClientTimeout(total=2)
                ) as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
        await asyncio.sleep(0.3)
    raise RuntimeError("the engine did not become healthy in time")


def _write_demo_policy(url: str, paths: DemoPaths) -> None:
    """A policy that accepts this demo's measurement, for the printed `teecube verify --policy`."""
    from attestation import binding
    from attestation.client import fetch
    from attestation.policy import dump, policy_from_evidence

    bundle, _ = fetch(url, secrets.token_bytes(binding.NONCE_SIZE))
    dump(policy_from_evidence(bundle.cpu, bundle.gpus), str(paths.policy))


def _demo_operator_token(state: Path) -> Path:
    """The demo's operator token (console sign-in, admin API): made once, readable by its owner only."""
    path = state / "operator-token"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    return path


def _step(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace, engine_extra: list[str], started: float) -> int:
    state = _private_dir(Path(args.state_dir))
    run_dir = _private_dir(state / "run")
    socket_path = (run_dir / "engine.sock").resolve()
    # Before anything is loaded or touched (the engine socket, the database): one instance per
    # state directory, a free port, a TEE that is there. A second serve never disturbs the first.
    _step("checking the instance lock, the port and the TEE")
    lock = InstanceLock.acquire(run_dir / "serve.lock")
    try:
        check_port_free(args.host, args.port)
        if not args.no_tls:
            check_tee(args.tee, args.state_dir)
        if args.tls_cert:
            check_tls_cert(args.state_dir, args.tls_cert)
        return await _run_locked(args, engine_extra, started, state, socket_path)
    finally:
        lock.release()


async def _run_locked(
    args: argparse.Namespace, engine_extra: list[str], started: float, state: Path, socket_path: Path
) -> int:
    if args.demo and not (os.environ.get("TEECUBE_PEPPER") or os.environ.get("TEECUBE_PEPPER_FILE")):
        ensure_pepper_file(DEFAULT_PEPPER_FILE if args.state_dir == "var" else state / "pepper")
        if args.state_dir != "var":
            os.environ["TEECUBE_PEPPER_FILE"] = str(state / "pepper")
    if args.demo and not (args.operator_token_file or os.environ.get("TEECUBE_OPERATOR_TOKEN")):
        args.operator_token_file = str(_demo_operator_token(state))
    operator_token_from_args(args)  # a bad --operator-token-file stops us before the engine loads
    pepper = load_pepper()
    url = database_url(args.database_url)
    _step("database: migrations")
    engine_db = db.make_engine(url)
    db.upgrade(engine_db)

    os.environ[ENGINE_KEY_ENV] = secrets.token_urlsafe(32)
    # the engine reads its key from the env; its flags are serve's unknown flags (checked already)
    extra = ["--served-model-name", args.served_model_name, *engine_extra]
    _step(f"engine: loading {args.model} on {args.device}")
    engine_started = time.monotonic()
    engine_proc = start_engine(args.model, args.device, socket_path, extra)
    try:
        await wait_for_engine(engine_proc, socket_path)
        _step(f"engine: ready in {time.monotonic() - engine_started:.1f} s")
        secret = None
        if args.demo:
            with db.session_factory(engine_db).begin() as session:
                _, secret = seed_demo(
                    session, "cli:serve-demo", pepper, engine_url=f"unix:{socket_path}",
                    served_model_name=args.served_model_name, credential_ref=f"env:{ENGINE_KEY_ENV}",
                    fresh_key=True,
                )
        engine_db.dispose()
        config = config_from_args(args)
        ready = asyncio.Event()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        from proxy.server import serve

        _step("proxy: TLS key and attestation in the TEE, then listen")
        info: dict[str, str] = {}
        task = asyncio.create_task(serve(config, ready=ready, stop=stop, info=info))
        ready_wait = asyncio.create_task(ready.wait())
        await asyncio.wait({task, ready_wait}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # start-up failed: raise it
        scheme = "https" if config.tls else "http"
        host = config.public_hosts[0] if config.host in ("0.0.0.0", "::") else config.host  # noqa: S104
        base = f"{scheme}://{host}:{config.port}"
        spki = info.get("spki_der_b64")
        spki_b64 = None
        if spki:
            spki_b64 = base64.b64encode(hashlib.sha256(base64.b64decode(spki)).digest()).decode()
        paths = None
        if config.tls:
            paths = DemoPaths.under(args.state_dir)
            await asyncio.to_thread(_write_demo_policy, base, paths)
        model = DEMO_ALIAS if args.demo else args.served_model_name
        print(banner(base, model, secret, paths, spki_b64, time.monotonic() - started,
                     operator_token_file=args.operator_token_file), flush=True)
        await task
        return 0
    finally:
        if engine_proc.poll() is None:
            engine_proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                engine_proc.wait(timeout=30)
            if engine_proc.poll() is None:
                engine_proc.kill()


def _tls_csr(args: argparse.Namespace) -> int:
    try:
        _private_dir(Path(args.state_dir))
        check_tee(args.tee, args.state_dir)
        key = write_tls_csr(args.state_dir, args.public_host or ["localhost", "127.0.0.1"], args.tls_csr)
    except (PreflightError, OSError, ValueError) as exc:
        print(f"teecube serve: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.tls_csr}: a CSR for the TLS key generated in this TEE ({key}).\n"
          f"Have your CA sign it, then start with --tls-cert CHAIN.pem (leaf first).", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(
        prog="teecube serve", description=__doc__, allow_abbrev=False,
        epilog="Any other flag goes to the engine (see `teecube engine --help`): --max-num-seqs, "
        "-tp, --gpu-memory-utilization, --max-model-len, --max-num-batched-tokens, ...",
    )
    parser.add_argument("--demo", action="store_true",
                        help="bundled model on CPU, simulated TEE, demo domain and a fresh key")
    parser.add_argument("--model", default=None, help="model path (HF dir or .gguf) or 'bundled'")
    parser.add_argument("--served-model-name", default="SmolLM2-135M-Instruct")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cpu for --demo, else auto)")
    parser.add_argument("--tls-csr", metavar="OUT", help="generate the TLS key in this TEE (kept in the "
                        "state directory), write a CSR for it to OUT and exit; then serve with --tls-cert")
    add_proxy_arguments(parser)
    args, engine_extra = parser.parse_known_args(argv)
    if args.demo:
        args.model = args.model or "bundled"
        args.device = args.device or "cpu"
        if args.tee == "auto":
            args.tee = "simulated"
    if args.tls_csr:
        return _tls_csr(args)
    if not args.model:
        parser.error("--model is required (or use --demo)")
    args.device = args.device or "auto"
    if args.workers is None and args.device != "cpu":  # a GPU engine outruns one proxy process
        from proxy.supervisor import auto_workers

        args.workers = auto_workers()
    try:
        engine_extra = engine_flags(engine_extra)
    except EngineFlagError as exc:
        parser.error(str(exc))
    metrics_token_from_args(args)  # a bad --metrics-token-file stops us before the engine loads
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return asyncio.run(run(args, engine_extra, started))
    except KeyboardInterrupt:
        return 0
    except PreflightError as exc:
        print(f"teecube serve: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"teecube serve: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
