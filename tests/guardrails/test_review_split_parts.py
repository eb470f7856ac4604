"""Review: an entity cut across the text parts of one message's content is found. Chat templates
join a message's parts directly ("card 4111 1111" + " 1111 1111" reaches the model as one card
number), so the input stage scans them joined that way too; each part keeps what is not the
entity. Separate messages, and the items of a completions `prompt` list (separate prompts), are
not joined directly."""

from __future__ import annotations

import json

import pytest

from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.guardrails import CompiledPolicy, compile_policy, scan_request
from tests.guardrails.conftest import synthetic

GITHUB = synthetic("github", 7)
DEFAULT = compile_policy(DEFAULT_GUARDRAIL_POLICY)


def _chat(*parts: str, role: str = "user") -> dict:
    content = [{"type": "text", "text": p} for p in parts]
    return {"model": "m", "messages": [{"role": "system", "content": "Be brief."},
                                       {"role": role, "content": content}]}


def _texts(result_body: dict) -> list[str]:
    return [p["text"] for p in result_body["messages"][1]["content"]]


@pytest.mark.parametrize(("parts", "rule"), [
    (["tok " + GITHUB[:20], GITHUB[20:] + " ok"], "secret.github"),
    (["tok ", GITHUB[:4], GITHUB[4:30], GITHUB[30:], " ok"], "secret.github"),  # four cuts
    (["see project blue", "bird plans"], "acme.codename"),
])
def test_a_split_blocking_value_blocks(policy: CompiledPolicy, parts: list[str], rule: str) -> None:
    for part in parts:
        assert scan_request(policy, _chat(part), route="chat").blocked_rule is None
    assert scan_request(policy, _chat(*parts), route="chat").blocked_rule == rule


@pytest.mark.parametrize(("parts", "secret", "kept", "rule"), [
    (["card 4111 1111", " 1111 1111 thanks"], "1111", ["card ", " thanks"], "pii.card"),
    (["card 4111 11", "11 1111 11", "11 thanks"], "1111", ["card ", "", " thanks"], "pii.card"),
    (["mail ann.lee@cor", "p-mail.io please"], "ann.lee", ["mail ", " please"], "pii.email"),
    (["my SSN is 512-48-", "3390, ok"], "3390", ["my SSN is ", ", ok"], "pii.ssn"),
    (["ticket TCK-12", "3456 open"], "3456", ["ticket ", " open"], "acme.ticket"),
])
def test_a_split_value_is_masked_in_every_part(policy: CompiledPolicy, parts: list[str], secret: str,
                                               kept: list[str], rule: str) -> None:
    body = _chat(*parts)
    result = scan_request(policy, body, route="chat")
    assert result.blocked_rule is None and result.rule_ids == [rule] and result.counts == {rule: 1}
    texts = _texts(result.body)
    assert not any(secret in t for t in texts)
    assert texts[0].startswith(kept[0]) and texts[1:] == kept[1:]  # the rest of each part stays
    assert texts[0] != kept[0]  # the placeholder/label sits where the value started
    assert all(isinstance(p["text"], str) and p["type"] == "text"
               for p in result.body["messages"][1]["content"])
    json.dumps(result.body)  # still a valid body
    assert body == _chat(*parts)  # not mutated


def test_a_split_card_is_pseudonymized_whole() -> None:
    result = scan_request(DEFAULT, _chat("pay with 4111 1111", " 1111 1111 today"), route="chat")
    assert _texts(result.body) == ["pay with <CARD_1>", " today"]
    assert result.vault.restore("<CARD_1>") == "4111 1111 1111 1111"


def test_parts_are_joined_as_sent_not_with_a_space(policy: CompiledPolicy) -> None:
    # "4111 1111 1111 111" + "1": the model reads the 16 digits of a card with no gap.
    result = scan_request(policy, _chat("card 4111 1111 1111 111", "1 thanks"), route="chat")
    assert _texts(result.body) == ["card <CARD_1>", " thanks"]


def test_a_value_whole_in_one_part_keeps_the_next_part(policy: CompiledPolicy) -> None:
    result = scan_request(policy, _chat("I am ann@corp.io", "thanks", "card 4111 1111 1111 1111", "ok"),
                          route="chat")
    assert _texts(result.body) == ["I am <EMAIL_1>", "thanks", "card <CARD_1>", "ok"]


def test_split_value_in_an_assistant_message_and_a_refusal_part(policy: CompiledPolicy) -> None:
    body = {"model": "m", "messages": [{"role": "assistant", "content": [
        {"type": "text", "text": "your token ghp_"}, {"type": "refusal", "refusal": GITHUB[4:]}]}]}
    assert scan_request(policy, body, route="chat").blocked_rule == "secret.github"


def test_unsplit_requests_are_unchanged(policy: CompiledPolicy) -> None:
    body = _chat("What is", " the capital", " of France?")
    result = scan_request(policy, body, route="chat")
    assert result.body is body and result.rule_ids == []
