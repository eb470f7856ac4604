"""Compiled policies by (domain, version): stored versions never change, so no invalidation."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from proxy.guardrails.policy import CompiledPolicy, compile_policy


class PolicyCache:
    """Compiled policies by (domain, version). Versions are immutable once stored, so no invalidation."""

    def __init__(self, maxsize: int = 512) -> None:
        self._items: OrderedDict[tuple[Any, int], CompiledPolicy] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def get(self, domain: Any, version: int, config: dict) -> CompiledPolicy:
        key = (domain, version)
        with self._lock:
            policy = self._items.get(key)
            if policy is not None:
                self._items.move_to_end(key)
                return policy
        policy = compile_policy(config)
        with self._lock:
            self._items[key] = policy
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)
        return policy

    def __len__(self) -> int:
        return len(self._items)


POLICY_CACHE = PolicyCache()


def cached_policy(domain: Any, version: int, config: dict) -> CompiledPolicy:
    """compile_policy through the process-wide cache, keyed by (domain, version)."""
    return POLICY_CACHE.get(domain, version, config)
