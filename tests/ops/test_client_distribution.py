"""teecube-client: the attestation verifier and the pinned client install and import alone,
without torch, the engine, the proxy or the domains (attestation/ must never import them)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BLOCKED = ("engine", "proxy", "domains", "teecube", "torch", "aiohttp", "sqlalchemy", "transformers")


def test_attestation_imports_with_the_appliance_blocked() -> None:
    code = textwrap.dedent(f"""
        import importlib, sys
        BLOCKED = {BLOCKED!r}

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked: {{name}}")
                return None

        sys.meta_path.insert(0, Block())
        for mod in ("attestation.client", "attestation.cli", "attestation.policy", "attestation.snp",
                    "attestation.tdx", "attestation.nvgpu", "attestation.tls"):
            importlib.import_module(mod)
        from attestation.cli import verify_main
        try:
            verify_main(["--help"])
        except SystemExit as e:
            assert e.code == 0
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set(BLOCKED))
        print("LOADED", loaded)
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "--save-cert" in p.stdout
    assert p.stdout.strip().endswith("LOADED []")


@pytest.mark.slow
def test_client_wheel_holds_attestation_only_and_no_torch(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(REPO / "client")], check=True, timeout=300,
                   capture_output=True)
    (wheel,) = tmp_path.glob("teecube_client-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith("/METADATA"))).decode()
        entry = z.read(next(n for n in names if n.endswith("/entry_points.txt"))).decode()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"attestation", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}
    assert "attestation/client.py" in names and "attestation/roots/amd_milan_vcek.pem" in names
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert not any(dep in line for line in requires for dep in ("torch", "aiohttp", "sqlalchemy"))
    assert "teecube-verify = attestation.cli:verify_entry" in entry
