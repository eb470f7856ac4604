"""Checks `teecube serve` makes before it loads anything: the instance lock, the port, the TEE.

A second `teecube serve` on the same state directory or port must fail in a second with a
clear message and leave the running instance untouched (its engine socket, its database rows).
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from dataclasses import dataclass
from pathlib import Path


class PreflightError(Exception):
    """Why this instance cannot start; the message is the whole story for the operator."""


@dataclass(slots=True)
class InstanceLock:
    """An exclusive `flock` on STATE/run/serve.lock, held for the life of the process.

    The kernel drops it when the process dies, so a crash never leaves a stale lock.
    """

    path: Path
    fd: int

    @classmethod
    def acquire(cls, path: Path) -> InstanceLock:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise PreflightError(
                f"another teecube serve (pid {holder}) is running with state directory "
                f"{path.parent.parent}: stop it first, or give this one its own --state-dir and --port"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(path, fd)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing drops the flock
            self.fd = -1


def check_port_free(host: str, port: int) -> None:
    """Bind (and release) host:port the way the proxy will; refuse if something listens there."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PreflightError(f"cannot resolve --host {host!r}: {exc.strerror}") from None
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PreflightError(
                        f"port {port} on {host} is already in use (another teecube serve?): "
                        "stop it, or choose another --port"
                    ) from None
                raise PreflightError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def check_tee(tee: str, state_dir: str) -> str:
    """The evidence provider the proxy will use must exist here; returns its kind."""
    from attestation.providers.auto import select_provider
    from attestation.providers.base import NoTeeError

    try:
        return select_provider(tee, state_dir=state_dir).kind
    except (NoTeeError, ValueError, OSError) as exc:
        raise PreflightError(f"TEE check failed: {exc}") from None


def check_tls_cert(state_dir: str, chain_file: str) -> None:
    """`--tls-cert`: the chain must be for the TLS key this TEE generated (`--tls-csr`)."""
    from cryptography import x509

    from attestation.tls import key_path, load_or_create_key, spki_der_of

    try:
        key = load_or_create_key(key_path(state_dir), create=False)
        with open(chain_file, "rb") as f:
            leaf = x509.load_pem_x509_certificates(f.read())[0]
    except (OSError, ValueError) as exc:
        raise PreflightError(f"--tls-cert: {exc}") from None
    from cryptography.hazmat.primitives import serialization

    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if spki_der_of(leaf) != spki:
        raise PreflightError(f"--tls-cert {chain_file}: its key is not this TEE's TLS key "
                             "(sign the CSR `teecube serve --tls-csr` wrote)")


def write_tls_csr(state_dir: str, hostnames: list[str], out: str) -> Path:
    """CSR flow, step 1: the TLS key is generated here (in the TEE) and kept in the state directory."""
    from attestation.tls import csr_pem, key_path, load_or_create_key

    path = key_path(state_dir)
    key = load_or_create_key(path)
    Path(out).write_bytes(csr_pem(key, hostnames))
    return path
