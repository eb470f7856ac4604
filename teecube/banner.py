"""What `teecube serve --demo` prints once it answers: commands that work as pasted into a fresh
shell (absolute paths, this venv's executables, no reliance on the current directory)."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path


def teecube_command() -> str:
    """This installation's `teecube`, by absolute path (a fresh shell has no venv on PATH)."""
    script = Path(sys.executable).with_name("teecube")
    if script.is_file():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m teecube.cli"


@dataclass(slots=True)
class DemoPaths:
    """Files a tenant of the demo needs, all absolute."""

    root: Path  # the simulated TEE's test root: trust it only for the demo
    policy: Path  # accepts this demo's measurement
    cert: Path  # where `teecube verify --save-cert` writes the attested certificate

    @classmethod
    def under(cls, state_dir: str | Path) -> DemoPaths:
        state = Path(state_dir).resolve()
        return cls(
            root=state / "attestation" / "simulated-root.pem",
            policy=state / "demo-policy.toml",
            cert=state / "demo-cert.pem",
        )


def banner(
    url: str, model: str, secret: str | None, paths: DemoPaths | None, spki_sha256_b64: str | None,
    startup_s: float,
) -> str:
    key = secret or "$KEY"
    q = shlex.quote
    what = "the demo" if secret else model
    lines = ["", f"teecube is serving {what} (start-up took {startup_s:.1f} s)",
             f"  endpoint: {url}/v1  (model: {model})"]
    if secret:
        lines.append(f"  API key (shown once): {secret}")
    body = f'{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello!"}}]}}'
    if paths is None:  # plain HTTP (--no-tls)
        lines += ["", "curl:",
                  f"  curl {url}/v1/chat/completions -H 'Authorization: Bearer {key}' "
                  f"-H 'Content-Type: application/json' -d {q(body)}", "", "Ctrl-C stops it."]
        return "\n".join(lines)
    tc = teecube_command()
    lines += [
        "",
        "1. Verify the appliance and save its attested certificate (simulated TEE: trust its test root;",
        f"   {paths.policy} accepts this demo's measurement):",
        f"  {tc} verify {url} --policy {q(str(paths.policy))} \\",
        f"      --trust-simulated-root {q(str(paths.root))} --save-cert {q(str(paths.cert))}",
        "",
        "2. Then any stock client works with verification on, trusting only that certificate:",
        f"  curl --cacert {q(str(paths.cert))} {url}/v1/chat/completions \\",
        f"      -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d {q(body)}",
    ]
    if spki_sha256_b64:
        lines.append(f"  (its key: sha256//{spki_sha256_b64})")
    lines += [
        "",
        "   Python (the openai SDK; `pip install openai` where you run it):",
        f"  SSL_CERT_FILE={q(str(paths.cert))} python3 -c \"from openai import OpenAI; "
        f"c = OpenAI(base_url='{url}/v1', api_key='{key}'); "
        f"print(c.chat.completions.create(model='{model}', "
        "messages=[{'role': 'user', 'content': 'Hello!'}]).choices[0].message.content)\"",
        "",
        "   Or verify and pin in one step (needs this venv, or `pip install teecube-client`):",
        f"  {q(str(Path(sys.executable)))} -c \"from attestation.client import connect; "
        f"conn = connect('{url}', policy='{paths.policy}', trusted_simulated_root='{paths.root}'); "
        "print(conn.appraisal.ok)\"",
        "",
        "Ctrl-C stops it.",
    ]
    return "\n".join(lines)
