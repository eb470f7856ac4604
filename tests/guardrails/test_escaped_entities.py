"""Input findings written entirely in escapes: HTML references, percent-encoding, JSON/JS backslash escapes.

The input stage scans the text as a browser, URL or JSON parser reads it too (`input.escaped_hits`), and
acts on the escapes a finding came from; text whose escapes hold no finding is left exactly as written.
"""

from __future__ import annotations

import pytest

from proxy.guardrails.input import InputResult, scan_request
from proxy.guardrails.policy import CompiledPolicy, compile_policy

SCANNERS = ("card", "ssn", "email", "phone", "iban", "high_entropy", "api_key")


def _policy(action: str = "mask") -> CompiledPolicy:
    rules = [{"id": s, "scanner": s, "input": action} for s in SCANNERS]
    return compile_policy({"version": 1, "rules": rules})


def _scan(text: str, action: str = "mask") -> InputResult:
    return scan_request(_policy(action), {"model": "m", "prompt": text}, route="completions")


ENCODINGS = {
    "decimal": lambda s: "".join(f"&#{ord(c)};" for c in s),
    "hex": lambda s: "".join(f"&#x{ord(c):x};" for c in s),
    "percent": lambda s: "".join(f"%{ord(c):02X}" for c in s),
    "json": lambda s: "".join(f"\\u{ord(c):04x}" for c in s),
    "double": lambda s: "".join(f"&amp;#{ord(c)};" for c in s),
}
VALUES = [
    ("card", "4111 1111 1111 1111", "[CARD]"),
    ("ssn", "536-22-1234", "[SSN]"),
    ("email", "nadia.k@example.com", "[EMAIL]"),
    ("phone", "+1 212 555 0142", "[PHONE]"),
]


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize(("rule", "value", "mask"), VALUES)
def test_a_value_written_in_escapes_is_masked_whole(encoding: str, rule: str, value: str, mask: str) -> None:
    escaped = ENCODINGS[encoding](value)
    result = _scan(f"my data: {escaped} thanks")
    assert result.body["prompt"] == f"my data: {mask} thanks"
    assert rule in result.rule_ids


@pytest.mark.parametrize("text", [
    "card &#52;&#49;&#49;&#49; 1111 1111 1111 ok",  # only some digit groups escaped
    "card 4111%201111%201111%20&#49;111 ok",
    "ssn &#x35;&#x33;&#x36;-22-1234 ok",
])
def test_a_value_partly_in_escapes_is_masked(text: str) -> None:
    result = _scan(text)
    assert result.body["prompt"].startswith(text.split(" ", 1)[0] + " [")
    assert result.body["prompt"].endswith("] ok") and result.rule_ids


def test_iban_in_escapes_is_masked_as_in_plain_text() -> None:
    plain = _scan("pay DE89 3704 0044 0532 0130 00 now").body["prompt"]
    escaped = _scan("pay " + ENCODINGS["decimal"]("DE89 3704 0044 0532 0130 00") + " now").body["prompt"]
    assert "[IBAN]" in plain and escaped.endswith("[IBAN] now")
    assert "&#56;&#57;" not in escaped  # the check digits and account are gone


def test_block_and_pseudonymize_act_on_escaped_values() -> None:
    escaped = ENCODINGS["decimal"]("nadia.k@example.com")
    assert _scan(f"write to {escaped}", "block").blocked_rule == "email"
    card = ENCODINGS["percent"]("4111 1111 1111 1111")
    result = _scan(f"charge {card} today", "pseudonymize")
    placeholder = result.body["prompt"].removeprefix("charge ").removesuffix(" today")
    assert placeholder.startswith("<CARD_") and "%" not in result.body["prompt"]
    assert result.vault.restore(placeholder) == "4111 1111 1111 1111"  # what the escapes spell


@pytest.mark.parametrize("text", [
    "50% off &amp; more",
    "R&amp;D costs 100%",
    "see %7B%22a%22%3A1%7D in the log",
    "&#169; 2024 ACME, all rights reserved",
    "price 1111&#8211;2222 units",
    "path C:\\users\\x and \\n newline",
    "tel&#58; call the front desk",
    "%41%42%43 is ABC",
])
def test_escapes_that_hold_no_finding_are_left_as_written(text: str) -> None:
    result = _scan(text)
    assert result.body["prompt"] == text and result.rule_ids == []
