"""The proxy's side of guardrails: the domain's active policy, compiled once per version,
applied to every text-carrying request and its output. No header or field can skip it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from proxy.directory import Directory
from proxy.errors import ApiError
from proxy.guardrails import OutputGuard, compile_policy, scan_request

log = logging.getLogger("teecube.proxy.guard")


@dataclass(slots=True)
class CheckedInput:
    body: dict[str, Any]
    output_guard: Any | None
    rule_ids: list[str] = field(default_factory=list)


class Guards:
    def __init__(self, directory: Directory, default_policy: dict[str, Any]) -> None:
        self._directory = directory
        self._compiled: dict[tuple[int, int], Any] = {}
        self._default = compile_policy(default_policy)

    async def _policy(self, domain_id: int) -> Any:
        active = await self._directory.guardrail_policy(domain_id)
        if active is None:
            return self._default
        version, config = active
        key = (domain_id, version)
        compiled = self._compiled.get(key)
        if compiled is None:
            try:
                compiled = compile_policy(config)
            except Exception as exc:
                # A broken stored policy fails closed with the built-in default, never open.
                log.error("guardrail policy domain=%s version=%s invalid: %s", domain_id, version,
                          type(exc).__name__)
                compiled = self._default
            if len(self._compiled) > 10_000:
                self._compiled.clear()
            self._compiled[key] = compiled
        return compiled

    async def check_input(
        self, domain_id: int, settings: Any, body: dict[str, Any], route: str
    ) -> CheckedInput:
        policy = await self._policy(domain_id)
        result = scan_request(policy, body, route=route)
        if result.blocked_rule:
            raise ApiError(
                400,
                f"The request was blocked by guardrail rule `{result.blocked_rule}`.",
                code="content_policy_violation",
                param=None,
            )
        return CheckedInput(
            body=result.body,
            output_guard=OutputGuard(policy, result.vault),
            rule_ids=list(result.rule_ids),
        )
