"""Review: entities written with Unicode dashes or combining marks are still found (input, output,
streamed), and the entity view stays per-character (streams agree with whole texts)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.guardrails import OutputGuard, compile_policy, scan_request
from proxy.guardrails.normalize import normalize
from tests.guardrails.streaming import stream_checked

# Every rule that the default policy only logs or leaves off on output masks here, so output is checked too.
POLICY = compile_policy({
    **DEFAULT_GUARDRAIL_POLICY,
    "rules": [
        {**r, "output": "mask"} if r.get("output") in ("off", "log") else r
        for r in DEFAULT_GUARDRAIL_POLICY["rules"]
    ],
})

DASHES = ["\u2010", "\u2011", "\u2012", "\u2013", "\u2212", "\ufe63", "\uff0d"]

CASES = [  # (text with "-" where a dash goes, rule id, the finding's text without the dash)
    ("SSN 512-48-3390 on file", "pii.ssn", "512-48-3390"),
    ("IBAN DE89-3704-0044-0532-0130-00 please", "pii.iban", "89-3704-0044-0532-0130-00"),
    ("call +44-20-7946-0958 today", "pii.phone", "+44-20-7946-0958"),
    ("call 415-555-0132 today", "pii.phone", "415-555-0132"),
    ("card 4111-1111-1111-1111 ok", "pii.card", "4111-1111-1111-1111"),
    ("mail jean-luc.picard@example.com now", "pii.email", "jean-luc.picard@example.com"),
]


def _input(text: str) -> tuple[str | None, list[str], str]:
    r = scan_request(POLICY, {"model": "m", "messages": [{"role": "user", "content": text}]}, route="chat")
    return r.blocked_rule, r.rule_ids, r.body["messages"][0]["content"]


@pytest.mark.parametrize("dash", DASHES, ids=[f"U+{ord(d):04X}" for d in DASHES])
@pytest.mark.parametrize(("template", "rule", "finding"), CASES, ids=[c[1] + ":" + c[0][:8] for c in CASES])
def test_dash_variants_are_found(template: str, rule: str, finding: str, dash: str) -> None:
    text = template.replace("-", dash)
    secret = finding.replace("-", dash)
    _, rule_ids, body = _input(text)
    assert rule in rule_ids, (text, rule_ids)
    assert secret not in body
    out = OutputGuard(POLICY).apply_full(text)
    assert secret not in out.text, out.text
    stream_checked(POLICY, None, text, list(range(1, len(text))))  # one character per delta


MARKED = [  # a combining mark after a character of the entity
    ("card 4\u0301111 1111 1111 1111 ok", "pii.card", "4\u0301111 1111 1111 1111"),
    ("SSN 5\u030312-48-3390.", "pii.ssn", "5\u030312-48-3390"),
    ("IBAN DE89 3704 0044 0532 0\u0308130 00", "pii.iban", "89 3704 0044 0532 0\u0308130 00"),
    ("call +44 20 7946 09\u20dd58", "pii.phone", "+44 20 7946 09\u20dd58"),
    ("mail jo\u0301hn.doe@exa\u0300mple.com", "pii.email", "jo\u0301hn.doe@exa\u0300mple.com"),
]


@pytest.mark.parametrize(("text", "rule", "secret"), MARKED, ids=[m[1] for m in MARKED])
def test_combining_marks_inside_an_entity_do_not_hide_it(text: str, rule: str, secret: str) -> None:
    _, rule_ids, body = _input(text)
    assert rule in rule_ids and secret not in body, (rule_ids, body)
    assert secret not in OutputGuard(POLICY).apply_full(text).text
    stream_checked(POLICY, None, text, list(range(1, len(text))))


def test_prose_dashes_and_accents_are_left_alone() -> None:
    text = "Caf\u00e9 opens 9\u201317 \u2014 see the r\u00e9sum\u00e9 \u2013 pages 10\u201320."
    assert _input(text) == (None, [], text)
    assert OutputGuard(POLICY).apply_full(text).text == text


def test_em_dash_does_not_join_a_word_to_an_email() -> None:
    _, _, body = _input("contact me\u2014john@example.com")
    assert body == "contact me\u2014<EMAIL_1>"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text())
def test_entity_view_is_compositional(a: str, b: str) -> None:
    view, index = normalize(a + b, fold=True)
    left, right = normalize(a, fold=True), normalize(b, len(a), fold=True)
    assert (view, index) == (left[0] + right[0], left[1] + right[1])
    assert len(view) == len(index)


def test_plain_view_keeps_dashes_and_marks() -> None:
    # The injection scanner and the probe read the plain view: unchanged.
    assert normalize("a\u2013b e\u0301")[0] == "a\u2013b e\u0301"
    assert normalize("a\u2013b e\u0301", fold=True)[0] == "a-b e"
