"""A card number whose groups are separated by a tab, a form-encoded "+", or a space escaped in a URL,
HTML or JSON (`%20`, `&#32;`, `&nbsp;`, `\\u0020`) is still a card: a pasted URL, form data, markup, a
JSON string. Found on input and output, whole and streamed in any chunking; the escapes near numbers
that are no card leave them alone."""

from __future__ import annotations

import pytest

from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.guardrails import OutputGuard, compile_policy, scan_request
from tests.guardrails.streaming import stream_checked

POLICY = compile_policy({"version": 1, "rules": [
    {"id": "pii.card", "scanner": "card", "input": "pseudonymize", "output": "mask"},
]})
VISA = ["4111", "1111", "1111", "1111"]

SEPARATED = [
    ("+", "https://shop.example/pay?card={}&cvc=1"),
    ("%20", "https://shop.example/pay?card={}&cvc=1"),
    ("&#32;", "<td>{}</td>"),
    ("&#x20;", "<td>{}</td>"),
    ("&nbsp;", "<td>{}</td>"),
    ("\\u0020", '{{"card": "{}"}}'),
    ("\t", "name\t{}\texp"),
]


@pytest.mark.parametrize(("sep", "frame"), SEPARATED, ids=[repr(s) for s, _ in SEPARATED])
def test_a_card_with_escaped_or_form_separators_is_found(sep: str, frame: str) -> None:
    number = sep.join(VISA)
    text = frame.format(number)
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    result = scan_request(POLICY, body, route="chat")
    assert result.rule_ids == ["pii.card"]
    sent = result.body["messages"][0]["content"]
    assert "1111" not in sent and "<CARD_1>" in sent
    assert result.vault.restore("<CARD_1>") == number  # the tenant gets back what it wrote
    out = OutputGuard(POLICY).apply_full(text)
    assert "1111" not in out.text and "[CARD]" in out.text
    stream_checked(POLICY, None, text, list(range(1, len(text))))


def test_the_default_policy_pseudonymizes_it() -> None:
    text = "pay?card=4111+1111+1111+1111 or 5555%204444%203333%201111"
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    result = scan_request(compile_policy(DEFAULT_GUARDRAIL_POLICY), body, route="chat")
    content = result.body["messages"][0]["content"]
    assert "1111" not in content and "4444" not in content and result.counts["pii.card"] == 2


@pytest.mark.parametrize("text", [
    "4111+1111+1111+1112",  # Luhn fails
    "q=1+2+3&page=4111",
    "100%20of 4111",
    "width: 4111&nbsp;px; 1111&nbsp;px",
    "4111%2B1111",
    "order 4111%201111%201111",  # 12 digits, no card word
])
def test_escapes_near_numbers_that_are_no_card(text: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    assert scan_request(POLICY, body, route="chat").rule_ids == []
    assert OutputGuard(POLICY).apply_full(text).text == text
