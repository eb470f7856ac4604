"""Per-request pseudonym vault: `<EMAIL_1>` <-> the original value. Never shared between requests."""

from __future__ import annotations


class Vault:
    """Created by scan_request for one request and handed to that request's OutputGuard only."""

    __slots__ = ("_by_placeholder", "_by_value", "_counters", "_taken")

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._taken: set[str] = set()

    def reserve(self, placeholder: str) -> None:
        """A placeholder-shaped string the tenant wrote itself: never issue (or restore) it."""
        self._taken.add(placeholder)

    def placeholder(self, label: str, value: str) -> str:
        """The placeholder for `value` (the same value always gets the same placeholder)."""
        key = (label, value)
        found = self._by_value.get(key)
        if found is not None:
            return found
        n = self._counters.get(label, 0) + 1
        while f"<{label}_{n}>" in self._taken:
            n += 1
        self._counters[label] = n
        placeholder = f"<{label}_{n}>"
        self._by_value[key] = placeholder
        self._by_placeholder[placeholder] = value
        return placeholder

    def restore(self, placeholder: str) -> str | None:
        return self._by_placeholder.get(placeholder)

    def __len__(self) -> int:
        return len(self._by_placeholder)

    def __repr__(self) -> str:  # never print values
        return f"Vault({len(self)} entries)"
