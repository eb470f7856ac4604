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
from pathlib import Path

import aiohttp

from domains import db
from domains.config import DEFAULT_PEPPER_FILE, database_url, ensure_pepper_file, load_pepper
from domains.demo import DEMO_ALIAS, seed_demo
from proxy.cli import add_proxy_arguments, config_from_args

log = logging.getLogger("teecube.serve")
ENGINE_KEY_ENV = "TEECUBE_ENGINE_API_KEY"


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def start_engine(model: str, device: str, socket_path: Path, extra: list[str]) -> subprocess.Popen[bytes]:
    if socket_path.exists():
        socket_path.unlink()
    cmd = [sys.executable, "-m", "teecube.cli", "engine", "--model", model, "--device", device,
           "--uds", str(socket_path), *extra]
    return subprocess.Popen(cmd, env=os.environ.copy())


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


def _demo_operator_token(state: Path) -> Path:
    """The demo's operator token (console sign-in, admin API): made once, readable by its owner only."""
    path = state / "operator-token"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    return path


def _banner(url: str, secret: str | None, spki_sha256_b64: str | None, state_dir: str, tls: bool,
            operator_token_file: str | None = None) -> str:
    lines = ["", "teecube is serving the demo", f"  endpoint: {url}/v1  (model: {DEMO_ALIAS})",
             f"  console:  {url}/console/  (sign in with the API key, or the operator token)"]
    if operator_token_file:
        lines.append(f"  operator token: in {operator_token_file}")
    if secret:
        lines.append(f"  API key (shown once): {secret}")
    if tls:
        root = f"{state_dir}/attestation/simulated-root.pem"
        lines += [
            "",
            "Verify the appliance before sending a prompt (simulated TEE: trust its local test root):",
            f"  teecube verify {url} --trust-simulated-root {root}",
        ]
    lines += ["", "curl:"]
    pin = f" --insecure --pinnedpubkey 'sha256//{spki_sha256_b64}'" if spki_sha256_b64 else ""
    lines.append(
        f"  curl{pin} {url}/v1/chat/completions -H 'Authorization: Bearer {secret or '$KEY'}' "
        f"-H 'Content-Type: application/json' "
        f"-d '{{\"model\": \"{DEMO_ALIAS}\", "
        f"\"messages\": [{{\"role\": \"user\", \"content\": \"Hello!\"}}]}}'"
    )
    lines += ["", "Python (openai SDK, connection pinned to the attested key):"]
    if tls:
        lines += [
            "  from openai import OpenAI",
            "  from attestation.client import connect",
            f"  conn = connect('{url}', trusted_simulated_root='{state_dir}/attestation/simulated-root.pem')",
            f"  client = OpenAI(base_url='{url}/v1', api_key='{secret or '$KEY'}',",
            "                  http_client=conn.http_client())",
        ]
    else:
        lines += ["  from openai import OpenAI",
                  f"  client = OpenAI(base_url='{url}/v1', api_key='{secret or '$KEY'}')"]
    lines += [
        f"  print(client.chat.completions.create(model='{DEMO_ALIAS}', "
        "messages=[{'role': 'user', 'content': 'Hello!'}]).choices[0].message.content)",
        "",
        "Ctrl-C stops it.",
    ]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    state = _private_dir(Path(args.state_dir))
    run_dir = _private_dir(state / "run")
    socket_path = (run_dir / "engine.sock").resolve()
    if args.demo and not (os.environ.get("TEECUBE_PEPPER") or os.environ.get("TEECUBE_PEPPER_FILE")):
        ensure_pepper_file(DEFAULT_PEPPER_FILE if args.state_dir == "var" else state / "pepper")
        if args.state_dir != "var":
            os.environ["TEECUBE_PEPPER_FILE"] = str(state / "pepper")
    if args.demo and not (args.operator_token_file or os.environ.get("TEECUBE_OPERATOR_TOKEN")):
        args.operator_token_file = str(_demo_operator_token(state))
    pepper = load_pepper()
    url = database_url(args.database_url)
    engine_db = db.make_engine(url)
    db.upgrade(engine_db)

    os.environ[ENGINE_KEY_ENV] = secrets.token_urlsafe(32)
    extra = ["--served-model-name", args.served_model_name]  # the engine reads its key from the env
    if args.max_model_len:
        extra += ["--max-model-len", str(args.max_model_len)]
    engine_proc = start_engine(args.model, args.device, socket_path, extra)
    try:
        await wait_for_engine(engine_proc, socket_path)
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

        info: dict[str, str] = {}
        task = asyncio.create_task(serve(config, ready=ready, stop=stop, info=info))
        ready_wait = asyncio.create_task(ready.wait())
        await asyncio.wait({task, ready_wait}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # start-up failed: raise it
        scheme = "https" if config.tls else "http"
        host = config.public_hosts[0] if config.host in ("0.0.0.0", "::") else config.host  # noqa: S104
        spki = info.get("spki_der_b64")
        spki_b64 = None
        if spki:
            spki_b64 = base64.b64encode(hashlib.sha256(base64.b64decode(spki)).digest()).decode()
        print(_banner(f"{scheme}://{host}:{config.port}", secret, spki_b64, args.state_dir, config.tls,
                      args.operator_token_file), flush=True)
        await task
        return 0
    finally:
        if engine_proc.poll() is None:
            engine_proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                engine_proc.wait(timeout=30)
            if engine_proc.poll() is None:
                engine_proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="teecube serve", description=__doc__)
    parser.add_argument("--demo", action="store_true",
                        help="bundled model on CPU, simulated TEE, demo domain and a fresh key")
    parser.add_argument("--model", default=None, help="model path (HF dir or .gguf) or 'bundled'")
    parser.add_argument("--served-model-name", default="SmolLM2-135M-Instruct")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cpu for --demo, else auto)")
    parser.add_argument("--max-model-len", type=int, default=None)
    add_proxy_arguments(parser)
    args = parser.parse_args(argv)
    if args.demo:
        args.model = args.model or "bundled"
        args.device = args.device or "cpu"
        if args.tee == "auto":
            args.tee = "simulated"
    if not args.model:
        parser.error("--model is required (or use --demo)")
    args.device = args.device or "auto"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        print(f"teecube serve: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
