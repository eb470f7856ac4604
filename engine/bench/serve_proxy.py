"""`teecube bench serve --start-proxy`: `teecube proxy` (default guardrail policy, a throwaway SQLite
tenancy) in front of the engine under test, started with `teecube bench proxy`'s harness."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path

from engine.bench.serve_client import Target


def appliance_proxy_args(proxy_args: list[str], engine_args: list[str] | None) -> list[str]:
    """The started proxy's flags as the appliance (`teecube serve`) would run it: beside an engine this
    bench started on a GPU, `--workers auto` (one proxy process cannot keep up with a GPU engine's 256
    streams), unless --proxy-arg names --workers. engine_args: the started engine's flags (None: the
    engine was not started here)."""
    if engine_args is None or any(a == "--workers" or a.startswith("--workers=") for a in proxy_args):
        return list(proxy_args)
    from engine.cli import build_parser

    device = build_parser().parse_known_args(["--model", "bench", *engine_args])[0].device
    if device == "cpu" or (device == "auto" and not _cuda_available()):
        return list(proxy_args)
    return [*proxy_args, "--workers=auto"]


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@asynccontextmanager
async def started_proxy(
    engine_url: str, served: str, workdir: Path, timeout: float, connections: int | None = None,
    extra_args: list[str] | None = None,
) -> AsyncIterator[Target]:
    """A proxy on a free port whose one grant (alias `bench`) routes to engine_url's `served` model.
    connections: the bench's concurrency; the per-address connection cap is raised to fit it (every
    bench client comes from 127.0.0.1), since a refused connection measures the cap, not the proxy."""
    from proxy import bench as harness

    pepper = secrets.token_hex(32)
    port, metrics_port = harness._free_port(), harness._free_port()
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    key = harness._tenancy(db_url, engine_url, served, "teecube", pepper.encode())
    cmd = [sys.executable, "-m", "teecube.cli", "proxy", "--no-tls", "--tee", "simulated",
           "--database-url", db_url, "--port", str(port), "--state-dir", str(workdir),
           "--max-connections-per-address", str(max(64, (connections or 0) + 16)),
           "--metrics-port", str(metrics_port),
           *(extra_args or [])]  # fmt: skip
    env = os.environ | {"TEECUBE_PEPPER": pepper}
    env.pop("TEECUBE_REDIS_URL", None)
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        proc = stack.enter_context(harness._process(cmd, workdir / "proxy.log", env))
        await harness._wait_healthy(url, proc, workdir / "proxy.log", timeout)
        metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        yield Target("proxy", url, api_key=key, model=harness.ALIAS, metrics_url=metrics)


async def pre_forward(target: Target) -> dict[tuple[str, str], tuple[float, float]] | None:
    """{(histogram, phase): (seconds, requests)} the proxy's overhead and phase histograms hold so far:
    its time before forwarding (auth, body, limits, input guardrails, token-id decoding), summed over
    its workers."""
    if target.metrics_url is None:
        return None
    from proxy import bench as harness

    try:
        return await harness.histogram_sums(target.metrics_url)
    except (OSError, ValueError):
        return None
