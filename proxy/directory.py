"""What the proxy knows about tenants, read from `domains/` and cached briefly.

Every entry lives at most `ttl` seconds (default 1 s), so a revoked key, a disabled
domain or a withdrawn grant stops working within that bound on every replica, each
reading the shared database. Database reads run in a worker thread, never on the
event loop; concurrent misses for one entry share one read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from domains.keys import ResolvedKey, hash_secret, resolve_key
from domains.policies import get_active_policy
from domains.views import (
    DomainSettings,
    IssuerConfig,
    ModelGrant,
    domain_settings,
    domain_view,
    guard_deployment,
    issuer_configs,
)

T = TypeVar("T")
MAX_ENTRIES = 100_000


class Directory:
    def __init__(
        self,
        factory: sessionmaker[Session],
        pepper: bytes,
        *,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._factory = factory
        self._pepper = pepper
        self.ttl = ttl
        self.clock = clock  # seconds, monotonic; tests inject one to pass the TTL without sleeping
        self._cache: dict[tuple[str, Any], tuple[float, Any]] = {}
        self._inflight: dict[tuple[str, Any], asyncio.Future[Any]] = {}

    async def _cached(self, key: tuple[str, Any], load: Callable[[Session], T]) -> T:
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await asyncio.to_thread(self._read, load)
            if len(self._cache) >= MAX_ENTRIES:
                self._cache.clear()
            self._cache[key] = (self.clock(), value)
            future.set_result(value)
            return value
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._inflight.pop(key, None)

    def _read(self, load: Callable[[Session], T]) -> T:
        with self._factory() as session:
            return load(session)

    async def resolve_key(self, presented: str) -> ResolvedKey | None:
        # Cached under the keyed digest, so the table never holds the secret itself.
        digest = hash_secret(presented, self._pepper)
        return await self._cached(("key", digest), lambda s: resolve_key(s, presented, self._pepper))

    async def view(self, domain_id: int) -> dict[str, ModelGrant]:
        return await self._cached(("view", domain_id), lambda s: domain_view(s, domain_id))

    async def settings(self, domain_id: int) -> DomainSettings | None:
        return await self._cached(("settings", domain_id), lambda s: domain_settings(s, domain_id))

    async def guardrail_policy(self, domain_id: int) -> tuple[int, dict[str, Any]] | None:
        def load(s: Session) -> tuple[int, dict[str, Any]] | None:
            try:
                policy = get_active_policy(s, domain_id)
            except Exception:  # no active policy: the caller applies the built-in default
                return None
            return policy.version, policy.config

        return await self._cached(("policy", domain_id), load)

    async def issuers(self) -> list[IssuerConfig]:
        return await self._cached(("issuers", None), issuer_configs)

    async def guard_deployment(self, name: str) -> tuple[str, str | None, str, str] | None:
        """A guardrail model's deployment (url, credential_ref, served name, status), cached."""
        return await self._cached(("guard_deployment", name), lambda s: guard_deployment(s, name))

    def invalidate(self) -> None:
        """Forget everything (after an admin change made through this process)."""
        self._cache.clear()
