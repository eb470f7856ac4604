"""The guardrail policy every new domain starts with (version 1, active).

A placeholder: the guardrails package owns the content of this policy.
"""

from __future__ import annotations

from typing import Any

DEFAULT_GUARDRAIL_POLICY: dict[str, Any] = {"version": 1, "rules": []}
