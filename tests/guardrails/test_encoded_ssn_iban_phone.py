"""An SSN, an IBAN or a phone number whose separators (or a phone's "+") are escaped in a URL, HTML or
JSON (`%2D`, `&#45;`, `&#x2d;`, `&hyphen;`, `\\u002d`, `%20`, `&#32;`, `&nbsp;`, `\\u0020`, `&#46;`,
`%2B`, `&#43;`, `\\u002b`) is still one: a pasted query string, markup, a JSON string. Found on input
and output, whole and streamed in any chunking, and given back to the tenant as written; the same
escapes around numbers that are none of them leave them alone."""

from __future__ import annotations

import pytest

from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.guardrails import OutputGuard, compile_policy, scan_request
from tests.guardrails.streaming import stream_checked

POLICY = compile_policy({"version": 1, "rules": [
    {"id": "pii.ssn", "scanner": "ssn", "input": "pseudonymize", "output": "mask"},
    {"id": "pii.iban", "scanner": "iban", "input": "pseudonymize", "output": "mask"},
    {"id": "pii.phone", "scanner": "phone", "input": "pseudonymize", "output": "mask"},
]})
SSN = ("536", "22", "1234")
IBAN = ("DE89", "3704", "0044", "0532", "0130", "00")

SSN_CASES = [  # (separator, frame): a dashed SSN needs no label; spaces and dots need one
    ("%2D", "https://hr.example/form?ssn={}&ok=1"),
    ("%2d", "https://hr.example/form?ssn={}&ok=1"),
    ("&#45;", "<td>{}</td>"),
    ("&#x2D;", "<td>{}</td>"),
    ("&#x002d;", "<td>{}</td>"),
    ("&hyphen;", "<td>{}</td>"),
    ("&minus;", "<td>{}</td>"),
    ("\\u002d", '{{"id": "{}"}}'),
    ("\\\\u002D", '{{"args": "{{\\"id\\": \\"{}\\"}}"}}'),  # escaped twice: JSON in a JSON string
    ("%20", "SSN: {}"),
    ("&#32;", "<b>SSN</b> {}"),
    ("&nbsp;", "social security number&nbsp;{}"),
    ("\\u0020", '{{"ssn": "{}"}}'),
    ("&#46;", "SSN {}"),
    ("%2E", "ssn={}"),
]
IBAN_CASES = [
    ("%20", "https://pay.example/?iban={}&amount=10"),
    ("&nbsp;", "<td>{}</td>"),
    ("&#32;", "<td>{}</td>"),
    ("\\u0020", '{{"iban": "{}"}}'),
    ("%2D", "iban={}"),
]
PHONE_CASES = [  # (number as written, frame)
    ("%2B4915112345678", "https://crm.example/call?phone={}&ok=1"),
    ("%2b49%20151%2012345678", "tel={}"),
    ("+44&nbsp;20&nbsp;7946&nbsp;0958", "<td>{}</td>"),
    ("&#43;44&#32;20&#32;7946&#32;0958", "<td>{}</td>"),
    ("&plus;33&#x20;6&#x20;12&#x20;34&#x20;56&#x20;78", "<td>{}</td>"),
    ("\\u002b1 415 555 0100", '{{"tel": "{}"}}'),
    ("(212)&#32;555&#45;0142", "<p>{}</p>"),
    ("212%2D555%2D0142", "?fax={}"),
    ("212&#46;555&#46;0142", "call {}"),
]


def _guarded(text: str, placeholder: str) -> tuple[list[str], str, str | None, str]:
    """(rules fired on input, the text sent on, what `placeholder` restores to, the masked output);
    a stream of the text, cut anywhere, must agree with the whole text (stream_checked asserts it)."""
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    result = scan_request(POLICY, body, route="chat")
    stream_checked(POLICY, None, text, list(range(1, len(text))))
    sent = result.body["messages"][0]["content"]
    return result.rule_ids, sent, result.vault.restore(placeholder), OutputGuard(POLICY).apply_full(text).text


@pytest.mark.parametrize(("sep", "frame"), SSN_CASES, ids=[repr(s) for s, _ in SSN_CASES])
def test_an_ssn_with_escaped_separators_is_found(sep: str, frame: str) -> None:
    number = sep.join(SSN)
    rules, sent, restored, masked = _guarded(frame.format(number), "<SSN_1>")
    assert rules == ["pii.ssn"] and "<SSN_1>" in sent and "1234" not in sent
    assert restored is not None and number.endswith(restored)  # the tenant gets back what it wrote
    assert "[SSN]" in masked and "1234" not in masked


@pytest.mark.parametrize(("sep", "frame"), IBAN_CASES, ids=[repr(s) for s, _ in IBAN_CASES])
def test_an_iban_with_escaped_separators_is_found(sep: str, frame: str) -> None:
    number = sep.join(IBAN)
    rules, sent, restored, masked = _guarded(frame.format(number), "<IBAN_1>")
    assert rules == ["pii.iban"] and "<IBAN_1>" in sent and "0532" not in sent
    assert restored is not None and number.endswith(restored)
    assert "[IBAN]" in masked and "0532" not in masked


@pytest.mark.parametrize(("number", "frame"), PHONE_CASES, ids=[n for n, _ in PHONE_CASES])
def test_a_phone_number_with_an_escaped_plus_or_separators_is_found(number: str, frame: str) -> None:
    last = "".join(ch for ch in number if ch.isdigit())[-4:]
    rules, sent, restored, masked = _guarded(frame.format(number), "<PHONE_1>")
    assert rules == ["pii.phone"] and "<PHONE_1>" in sent and last not in sent
    assert restored is not None and number.endswith(restored)
    assert "[PHONE]" in masked and last not in masked


def test_the_default_policy_pseudonymizes_both() -> None:
    text = "ssn=536%2D22%2D1234&iban=GB82%20WEST%201234%205698%207654%2032"
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    result = scan_request(compile_policy(DEFAULT_GUARDRAIL_POLICY), body, route="chat")
    content = result.body["messages"][0]["content"]
    assert "1234" not in content and "7654" not in content
    assert result.counts["pii.ssn"] == 1 and result.counts["pii.iban"] == 1


@pytest.mark.parametrize("text", [
    "R&#45;D 12&#45;34",
    "code 536&#45;22&#45;1234x",  # a longer token
    "Lot 536&#45;22&#45;1234",  # a lot number
    "536%2D00%2D1234",  # group 00: no SSN
    "page 536%2022%201234",  # spaces without an SSN label
    "DE89%203704%200044%200532%200130%2001",  # mod 97 fails
    "width: 536&nbsp;px",
    "100%2B200 items",  # a sum in a query string
    "width 212&#45;555 px",
    "q=1%2B1&n=42",
])
def test_escapes_near_numbers_that_are_neither(text: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    assert scan_request(POLICY, body, route="chat").rule_ids == []
    assert OutputGuard(POLICY).apply_full(text).text == text
