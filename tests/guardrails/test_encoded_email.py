"""An e-mail address whose "@" or "." is written as an HTML character reference (`&#64;`, `&#x40;`,
`&commat;`) or percent-encoded (`%40`) is still an address, as a JSON-escaped one is
(test_review_json_escaped.py): a browser, a mail client or a model reads it as one. Found on input and
output, whole and streamed in every chunking; text with "&" or "%" and no address stays untouched."""

from __future__ import annotations

import pytest

from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.guardrails import OutputGuard, compile_policy, scan_request
from tests.guardrails.streaming import stream_checked

POLICY = compile_policy({"version": 1, "rules": [
    {"id": "pii.email", "scanner": "email", "input": "pseudonymize", "output": "mask"},
]})

ENCODED = [
    "john.doe&#64;example.com",
    "john.doe&#064;example.com",
    "john.doe&#x40;example.com",
    "john.doe&#X0040;example.com",
    "john.doe&commat;example.com",
    "john.doe&#64;example&#46;com",
    "john.doe&#x40;example&#x2E;com",
    "john.doe&commat;example&period;com",
    "john.doe%40example.com",
    "john.doe%40example%2Ecom",
    "JOHN.DOE%40EXAMPLE%2ecom",
    "john.doe&#64example.com",  # a browser reads a numeric reference without its ";" too
    "john.doe&#x40;example&#46com",
    "john.doe&#00000064;example.com",
]


@pytest.mark.parametrize("address", ENCODED)
@pytest.mark.parametrize("where", ["start", "middle", "end", "link"])
def test_an_encoded_at_is_an_address(address: str, where: str) -> None:
    text = {"start": f"{address} wrote", "middle": f"mail {address} today", "end": f"write to {address}",
            "link": f'<a href="mailto:{address}">me</a>'}[where]
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    result = scan_request(POLICY, body, route="chat")
    assert result.rule_ids == ["pii.email"]
    sent = result.body["messages"][0]["content"]
    assert "john" not in sent.lower() and "<EMAIL_1>" in sent
    assert result.vault.restore("<EMAIL_1>") == address  # the tenant gets back what it wrote
    out = OutputGuard(POLICY).apply_full(text)
    assert "john" not in out.text.lower() and "[EMAIL]" in out.text
    stream_checked(POLICY, None, text, list(range(1, len(text))))


def test_the_default_policy_pseudonymizes_it() -> None:
    text = "mail ann.lee&#64;corp.io or ann%40corp.io"
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    result = scan_request(compile_policy(DEFAULT_GUARDRAIL_POLICY), body, route="chat")
    assert "ann" not in result.body["messages"][0]["content"] and result.counts["pii.email"] == 2


@pytest.mark.parametrize("text", [
    "R&#38;D at AT&amp;T grew 40% to 100%40 units",
    "a 100%40 share",
    "the entity &#64; is an at sign",
    "&#64;handle on social media",
    "x&#64;y",
    "50%2Eth percentile",
    "encode '@' as %40 in a URL",
    "john.doe&#641example.com",  # U+0281, not an at sign
    "john.doe&#x40example.com",  # "&#x40e": U+040E
])
def test_ampersands_and_percents_that_are_no_address(text: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    assert scan_request(POLICY, body, route="chat").rule_ids == []
    assert OutputGuard(POLICY).apply_full(text).text == text
