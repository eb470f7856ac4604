"""Input rules for operator-supplied names, URLs and credential references."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from domains.errors import Invalid

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
# ASCII only, so look-alike characters cannot make two aliases that read the same.
ALIAS_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def name(value: str, what: str = "name") -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise Invalid(f"invalid {what} {value!r}: use 1-63 of a-z 0-9 . _ - starting with a-z or 0-9")
    return value


def alias(value: str) -> str:
    if not isinstance(value, str) or not ALIAS_RE.fullmatch(value):
        raise Invalid(f"invalid alias {value!r}: use 1-128 ASCII letters, digits and . _ : / -")
    return value


def aliases(values: list[str] | tuple[str, ...] | None) -> list[str] | None:
    if values is None:
        return None
    return sorted({alias(v) for v in values})


def upstream_url(url: str) -> str:
    """http(s)://host[:port][/path] without userinfo, or unix:/absolute/socket/path."""
    if not isinstance(url, str) or not url or len(url) > 2048 or any(c.isspace() for c in url):
        raise Invalid("invalid upstream URL: empty, too long or contains whitespace")
    if url.startswith("unix:"):
        path = url[len("unix:") :]
        if not path.startswith("/") or "\x00" in path:
            raise Invalid("invalid upstream URL: unix: needs an absolute socket path (unix:/run/x.sock)")
        return url
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise Invalid(f"invalid upstream URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise Invalid("invalid upstream URL: scheme must be http, https or unix")
    if "@" in parts.netloc:
        raise Invalid("invalid upstream URL: credentials in the URL are not allowed; use --credential-ref")
    if not parts.hostname:
        raise Invalid("invalid upstream URL: missing host")
    if parts.fragment:
        raise Invalid("invalid upstream URL: fragments are not allowed")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise Invalid(f"invalid upstream URL: {exc}") from None
    return url


def credential_ref(ref: str | None) -> str | None:
    """`env:NAME` or `file:/absolute/path`: where the credential lives, never the credential."""
    if ref is None:
        return None
    if isinstance(ref, str) and ref.startswith("env:") and ENV_NAME_RE.fullmatch(ref[4:]):
        return ref
    if isinstance(ref, str) and ref.startswith("file:/") and len(ref) <= 512 and "\x00" not in ref:
        return ref
    raise Invalid("invalid credential reference: use env:VAR_NAME or file:/absolute/path")


def positive(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Invalid(f"{what} must be a positive integer")
    return value


def flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{what} must be true or false")
    return value
