"""Attestation (the verdict `teecube verify` gives for this proxy) and the engine panel."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from attestation import client
from attestation.claims import VerificationError
from domains import deployments
from domains.cli_format import as_dict
from proxy.console.health import engine_figures
from proxy.console.sessions import ConsoleSession
from proxy.console.web import CONSOLE, act, page, render
from proxy.state import CONFIG


def _self_url(request: web.Request) -> str:
    config = request.app[CONFIG]
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = sockname[1] if sockname else config.port
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host  # noqa: S104
    return f"https://{host}:{port}"


def _appraise(url: str, root: Path | None) -> dict[str, Any]:
    try:
        appraisal = client.verify_server(url, None, root, timeout=10.0)
    except (VerificationError, OSError, ValueError) as exc:
        return {"ok": False, "error": str(exc)}
    bundle = appraisal.bundle
    assert bundle is not None
    data = bundle.to_json()
    return {
        "ok": appraisal.ok,
        "verdicts": [v.to_dict() for v in appraisal.verdicts],
        "notes": appraisal.notes,
        "platform": bundle.cpu.kind,
        "simulated": bundle.simulated,
        "tls_spki_sha256": data["tls"]["spki_sha256"],
        "gpu": bundle.gpu.kind if bundle.gpu is not None else None,
        "gpus": len(bundle.gpus),  # every GPU's evidence
        "gpu_count": bundle.gpu_count,  # the GPUs the server counts (None: an older server)
        "gpu_reason": bundle.gpu_reason,
        "nonce": data["nonce"],
    }


@page("GET", "/attestation", "any")
async def attestation_page(request: web.Request, session: ConsoleSession) -> web.Response:
    config = request.app[CONFIG]
    if not config.tls:
        return render(request, "attestation.jinja", session, result=None, command=None)
    url = _self_url(request)
    root = Path(config.state_dir) / "attestation" / "simulated-root.pem"
    trusted = root if config.tee == "simulated" and root.exists() else None
    result, age = await request.app[CONSOLE].verdicts.get(
        (url, trusted), lambda: asyncio.to_thread(_appraise, url, trusted)
    )
    command = f"teecube verify {url}" + (f" --trust-simulated-root {trusted}" if trusted else "")
    return render(request, "attestation.jinja", session, result=result, command=command, age=round(age))


@page("GET", "/engine", "operator")
async def engine_page(request: web.Request, session: ConsoleSession) -> web.Response:
    rows = await act(request, lambda s: [as_dict(d) for d in deployments.list_deployments(s)], changes=False)
    samples = request.app[CONSOLE].engine_samples
    engines = [r for r in rows if r["kind"] in ("teecube", "openai")]
    figures = await asyncio.gather(*(engine_figures(request.app, r, samples) for r in engines))
    return render(request, "engine.jinja", session, engines=figures)
