"""Configuration read from the environment: database URL and the key-hashing pepper.

The pepper keys HMAC-SHA256 over API-key secrets. It is never written to the database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from domains.errors import Invalid

VAR_DIR = Path("var")
DEFAULT_PEPPER_FILE = VAR_DIR / "pepper"
MIN_PEPPER_BYTES = 32


def default_database_url(var_dir: Path = VAR_DIR) -> str:
    """A SQLite file under ./var/ (the directory is created)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(var_dir / 'teecube.db').resolve()}"


def database_url(explicit: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    return explicit or env.get("TEECUBE_DATABASE_URL") or default_database_url()


def _check(pepper: bytes, source: str) -> bytes:
    if len(pepper) < MIN_PEPPER_BYTES:
        raise Invalid(f"pepper from {source} is too short: need at least {MIN_PEPPER_BYTES} bytes")
    return pepper


def load_pepper(path: Path | str | None = None, env: Mapping[str, str] = os.environ) -> bytes:
    """The pepper from TEECUBE_PEPPER, else the file TEECUBE_PEPPER_FILE / `path` / var/pepper.

    Refuses an empty or short pepper; never generates one (see ensure_pepper_file).
    """
    value = env.get("TEECUBE_PEPPER")
    if value is not None:
        return _check(value.strip().encode(), "TEECUBE_PEPPER")
    file = Path(env.get("TEECUBE_PEPPER_FILE") or path or DEFAULT_PEPPER_FILE)
    if not file.is_file():
        raise Invalid(
            f"no pepper: set TEECUBE_PEPPER or TEECUBE_PEPPER_FILE (no file at {file}); "
            "`teecube serve --demo` generates one for the demo"
        )
    return _check(file.read_bytes().strip(), str(file))


def ensure_pepper_file(path: Path | str = DEFAULT_PEPPER_FILE) -> tuple[bytes, bool]:
    """Read the pepper file, generating it (mode 0600) if absent. Returns (pepper, created)."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _check(file.read_bytes().strip(), str(file)), False
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return _check(file.read_bytes().strip(), str(file)), True
