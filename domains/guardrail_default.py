"""The guardrail policy every new domain starts with (version 1, active).

Content owned by proxy/guardrails (schema and rationale: proxy/guardrails/README.md); kept
here as a plain dict literal so that domains/ does not import proxy/.

- Secrets (private keys, cloud and SaaS keys) in prompts: blocked (400). In completions:
  private keys end the stream (content_filter); other keys are masked so the answer goes on.
- JWTs and `api_key = "..."`-shaped values: masked both ways. High-entropy tokens: logged.
- E-mail, phone, card, IBAN and SSN in prompts: pseudonymized (`<EMAIL_1>`...) and restored in
  the completion, so the model never sees them and the tenant gets them back.
- Cards, IBANs and SSNs the model writes itself: masked. IP addresses: logged only.
- Obvious prompt injection (score >= 1.0: e.g. "ignore all previous instructions"): blocked.
- Invisible and bidirectional control characters: removed both ways.
- Prompts over 400,000 characters: blocked (token limits come from the deployment).
"""

from __future__ import annotations

from typing import Any

DEFAULT_GUARDRAIL_POLICY: dict[str, Any] = {
    "version": 1,
    "description": "teecube default policy",
    "limits": {"max_input_chars": 400000, "max_input_tokens": None},
    "rules": [
        {"id": "secret.private_key", "scanner": "private_key", "input": "block", "output": "block"},
        {"id": "secret.aws_key", "scanner": "aws_key", "input": "block", "output": "mask"},
        {"id": "secret.gcp_key", "scanner": "gcp_key", "input": "block", "output": "mask"},
        {"id": "secret.azure_key", "scanner": "azure_key", "input": "block", "output": "mask"},
        {"id": "secret.github_token", "scanner": "github_token", "input": "block", "output": "mask"},
        {"id": "secret.slack_token", "scanner": "slack_token", "input": "block", "output": "mask"},
        {"id": "secret.openai_key", "scanner": "openai_key", "input": "block", "output": "mask"},
        {"id": "secret.anthropic_key", "scanner": "anthropic_key", "input": "block", "output": "mask"},
        {"id": "secret.stripe_key", "scanner": "stripe_key", "input": "block", "output": "mask"},
        {"id": "secret.vendor_token", "scanner": "vendor_token", "input": "block", "output": "mask"},
        {"id": "secret.jwt", "scanner": "jwt", "input": "mask", "output": "mask"},
        {"id": "secret.api_key", "scanner": "api_key", "input": "mask", "output": "mask"},
        {"id": "secret.high_entropy", "scanner": "high_entropy", "input": "log", "output": "log"},
        {"id": "pii.email", "scanner": "email", "input": "pseudonymize", "output": "off"},
        {"id": "pii.phone", "scanner": "phone", "input": "pseudonymize", "output": "off"},
        {"id": "pii.card", "scanner": "card", "input": "pseudonymize", "output": "mask"},
        {"id": "pii.iban", "scanner": "iban", "input": "pseudonymize", "output": "mask"},
        {"id": "pii.ssn", "scanner": "ssn", "input": "pseudonymize", "output": "mask"},
        {"id": "pii.ipv4", "scanner": "ipv4", "input": "log", "output": "log"},
        {"id": "pii.ipv6", "scanner": "ipv6", "input": "log", "output": "log"},
        {"id": "injection.heuristic", "scanner": "injection", "input": "block", "threshold": 1.0},
        {"id": "text.invisible", "scanner": "invisible", "input": "mask", "output": "mask"},
    ],
}
