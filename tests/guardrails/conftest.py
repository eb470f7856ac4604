"""Guardrail fixtures: a policy exercising every action, and generators of synthetic secrets."""

from __future__ import annotations

import random
import string
from collections.abc import Callable

import pytest

from proxy.guardrails import CompiledPolicy, compile_policy

RULES = [
    {"id": "pii.email", "scanner": "email", "input": "pseudonymize", "output": "mask"},
    {"id": "pii.phone", "scanner": "phone", "input": "pseudonymize", "output": "off"},
    {"id": "pii.card", "scanner": "card", "input": "pseudonymize", "output": "mask"},
    {"id": "pii.iban", "scanner": "iban", "input": "mask", "output": "mask"},
    {"id": "pii.ssn", "scanner": "ssn", "input": "mask", "output": "mask"},
    {"id": "pii.ip", "scanner": "ipv4", "input": "log", "output": "log"},
    {"id": "secret.private_key", "scanner": "private_key", "input": "block", "output": "block"},
    {"id": "secret.aws", "scanner": "aws_key", "input": "block", "output": "block"},
    {"id": "secret.github", "scanner": "github_token", "input": "block", "output": "block"},
    {"id": "secret.jwt", "scanner": "jwt", "input": "mask", "output": "mask"},
    {"id": "injection", "scanner": "injection", "input": "block"},
    {"id": "text.invisible", "scanner": "invisible", "input": "mask", "output": "mask"},
    {
        "id": "acme.codename",
        "scanner": "substring",
        "values": ["project bluebird"],
        "input": "block",
        "output": "block",
    },
    {
        "id": "acme.ticket",
        "scanner": "regex",
        "pattern": "TCK-[0-9]{6}",
        "input": "mask",
        "output": "mask",
        "label": "TICKET",
    },
]


@pytest.fixture(scope="session")
def policy_rules() -> list[dict]:
    return RULES


@pytest.fixture(scope="session")
def policy() -> CompiledPolicy:
    return compile_policy({"version": 1, "rules": RULES})


@pytest.fixture(scope="session")
def luhn() -> Callable[[str], str]:
    return luhn_complete


@pytest.fixture(scope="session")
def secret() -> Callable[..., str]:
    return synthetic


def luhn_complete(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return partial + str((10 - total % 10) % 10)


def synthetic(kind: str, seed: int = 0) -> str:
    """Key-shaped synthetic secrets (never real ones)."""
    rnd = random.Random(seed)
    alnum = string.ascii_letters + string.digits

    def pick(alphabet: str, n: int) -> str:
        return "".join(rnd.choice(alphabet) for _ in range(n))

    return {
        "aws": "AKIA" + pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 8) + pick("234567", 8),
        "github": "ghp_" + pick(alnum, 36),
        "gcp": "AIza" + pick(alnum, 35),
        "slack": f"xoxb-{pick(string.digits, 12)}-{pick(string.digits, 13)}-{pick(alnum, 24)}",
        "openai": "sk-proj-" + pick(alnum, 64),
        "anthropic": "sk-ant-api03-" + pick(alnum, 93),
        "stripe": "sk_live_" + pick(alnum, 24),
        "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiYWRtaW4iOnRydWV9." + pick(alnum + "_-", 43),
        "private_key": "-----BEGIN RSA PRIVATE KEY-----\n"
        + "\n".join(pick(alnum + "+/", 64) for _ in range(10))
        + "\n-----END RSA PRIVATE KEY-----",
    }[kind]
