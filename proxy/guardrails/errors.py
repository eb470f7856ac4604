"""Errors and the OpenAI error body for a blocked request. Bodies name rule ids, never text."""

from __future__ import annotations

from typing import Any


class PolicyConfigError(ValueError):
    """An operator's policy JSON is invalid; the message names the field (e.g. `rules[2].pattern`)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def blocked_error(rule_id: str) -> dict[str, Any]:
    """The 400 body for a request blocked by input guardrails (OpenAI ErrorObject shape)."""
    return {
        "error": {
            "message": f"The request was blocked by guardrail rule '{rule_id}'.",
            "type": "invalid_request_error",
            "param": None,
            "code": "content_policy_violation",
        }
    }
