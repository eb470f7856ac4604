"""Per-domain prefix-cache isolation: the `cache_salt` the proxy puts on every forwarded request.

An engine's prefix cache answers a prompt it has seen faster (and reports cached tokens), so a
cache shared across domains lets one tenant confirm another tenant's prompt. vLLM and teecube's
engine mix `cache_salt` into the hash of the first KV block: requests share cached blocks only
when their salts are equal. The salt is HMAC(proxy secret, domain id): the same for every key of
one domain, different across domains, not guessable by a tenant, and a tenant's own
`cache_salt` is always replaced. A domain the operator marked `shared_prefix_cache` gets no salt
(its prompts share the cache with every other such domain: see docs/proxy.md for the risk).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

SALTED_KINDS = frozenset({"teecube", "openai"})  # upstreams that accept vLLM's `cache_salt`


def domain_salt(secret: bytes, domain_id: int) -> str:
    return hmac.new(secret, f"teecube-prefix-cache:{domain_id}".encode(), hashlib.sha256).hexdigest()


def apply_cache_salt(body: dict[str, Any], *, kind: str, secret: bytes, domain_id: int,
                     shared: bool, enabled: bool = True) -> dict[str, Any]:
    """The body to forward: the tenant's `cache_salt` dropped, the domain's set where it applies."""
    out = {k: v for k, v in body.items() if k != "cache_salt"}
    if enabled and kind in SALTED_KINDS and not shared:
        out["cache_salt"] = domain_salt(secret, domain_id)
    return out
