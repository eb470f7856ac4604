"""Output guard: hold-back window, split entities, placeholder restoration, stream == whole text."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.guardrails import OutputGuard, Vault, compile_policy, scan_request

CARD = "4111 1111 1111 1111"


def stream(guard: OutputGuard, chunks: list[str], index: int = 0) -> tuple[str, str | None]:
    out = []
    for chunk in chunks:
        delta = guard.feed(index, chunk)
        out.append(delta.text)
        if delta.blocked_rule:
            return "".join(out), delta.blocked_rule
    final = guard.finish(index)
    out.append(final.text)
    return "".join(out), final.blocked_rule


def test_card_split_across_three_chunks_is_masked(policy) -> None:
    chunks = ["Your card is 4111 11", "11 1111 ", "1111, thanks."]
    guard = OutputGuard(policy)
    text, blocked = stream(guard, chunks)
    assert text == "Your card is [CARD], thanks."
    assert blocked is None and guard.rule_ids == ["pii.card"]


def test_text_older_than_the_window_streams_before_the_end(policy) -> None:
    guard = OutputGuard(policy)
    released = "".join(guard.feed(0, "word ").text for _ in range(400))
    assert len(released) >= 2000 - guard.max_holdback - 5
    assert released == ("word " * 400)[: len(released)]


def test_block_ends_the_stream_without_the_secret(policy, secret) -> None:
    key = secret("aws", 3)
    guard = OutputGuard(policy)
    chunks = ["Sure. Here are the credentials you asked for: ", key[:9], key[9:], " and more text " * 30]
    text, blocked = stream(guard, chunks)
    assert blocked == "secret.aws"
    assert key not in text and key[:4] not in text
    assert text == "Sure. Here are the credentials you asked for: "
    assert guard.feed(0, "more").blocked_rule == "secret.aws" and guard.finish(0).text == ""
    assert guard.apply_full("".join(chunks)).blocked_rule == "secret.aws"


def test_private_key_block_in_stream(policy, secret) -> None:
    text = "Here is one:\n" + secret("private_key") + "\nUse it wisely." + " ok" * 200
    chunks = [text[i : i + 7] for i in range(0, len(text), 7)]
    out, blocked = stream(OutputGuard(policy), chunks)
    assert blocked == "secret.private_key" and out == "Here is one:\n"


def test_placeholder_split_across_chunks_is_restored(policy) -> None:
    result = scan_request(
        policy, {"messages": [{"role": "user", "content": "I am ann@corp.io"}]}, route="chat"
    )
    assert result.body["messages"][0]["content"] == "I am <EMAIL_1>"
    guard = OutputGuard(policy, result.vault)
    text, _ = stream(guard, ["Hello <EM", "AIL", "_1>", "! I will write to <EMAIL_1", "> and bob@corp.io."])
    assert text == "Hello ann@corp.io! I will write to ann@corp.io and [EMAIL]."
    assert OutputGuard(policy, result.vault).apply_full("＜EMAIL_1＞").text == "ann@corp.io"  # fullwidth


def test_unknown_placeholders_and_other_vaults_are_not_restored(policy) -> None:
    first = scan_request(policy, {"messages": [{"role": "user", "content": "me: ann@corp.io"}]}, route="chat")
    second = scan_request(
        policy, {"messages": [{"role": "user", "content": "me: eve@corp.io"}]}, route="chat"
    )
    assert first.vault is not second.vault
    assert second.body["messages"][0]["content"] == "me: <EMAIL_1>"
    assert OutputGuard(policy, second.vault).apply_full("<EMAIL_1> <EMAIL_2>").text == "eve@corp.io <EMAIL_2>"
    assert OutputGuard(policy, first.vault).apply_full("<EMAIL_1>").text == "ann@corp.io"
    assert OutputGuard(policy).apply_full("<EMAIL_1>").text == "<EMAIL_1>"


def test_choices_have_their_own_windows(policy) -> None:
    guard = OutputGuard(policy)
    a = [guard.feed(0, "card 4111 1111 "), guard.feed(1, "card 5555 5555 "), guard.feed(0, "1111 1111 ok")]
    b = [guard.feed(1, "5555 4444 ok"), guard.finish(1), guard.finish(0)]
    zero = a[0].text + a[2].text + b[2].text
    one = a[1].text + b[0].text + b[1].text
    assert zero == "card [CARD] ok" and one == "card [CARD] ok"


def test_apply_full_equals_one_chunk_stream(policy) -> None:
    text = "mail x@y.io, card 4111111111111111, ticket TCK-000042, bidi \u202e!"
    delta = OutputGuard(policy).apply_full(text)
    streamed = stream(OutputGuard(policy), [text])
    assert (delta.text, delta.blocked_rule) == streamed
    masked, blocked = delta  # unpacks as (text, blocked_rule)
    assert masked == "mail [EMAIL], card [CARD], ticket [TICKET], bidi !" and blocked is None
    assert delta.rule_ids == ["acme.ticket", "pii.card", "pii.email", "text.invisible"]


FRAGMENTS = [
    "Hello ",
    "world. ",
    "\n",
    "ann@corp.io",
    "<EMAIL_1>",
    "<EMA",
    "IL_1>",
    "4111 1111 1111 1111",
    "4111111111111112",
    "DE89 3704 0044 0532 0130 00",
    "512-48-3390",
    "TCK-123456",
    "\u200b",
    "\u202e",
    "ｃａｒｄ",
    "５５５５",
    "AKIA",
    "ABCDEFGH23456723",
    "10.0.0.1",
    " ",
    "-",
    "eyJhbGciOiJIUzI1NiJ9",
    ".",
    "project ",
    "bluebird",
    "x" * 40,
    "🙂",
    "é",
    "sk-",
    "-----BEGIN ",
    "RSA PRIVATE KEY-----\n",
    "q",
    "q",
    "@mail.engineering.department.example-corp.co.uk",
    "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
    # complete findings longer than the window: held back while their literal prefix is pending
    "eyJhbGciOiJIUzI1NiJ9.eyJ" + "dGVzdHBheWxvYWQ" * 25 + "." + "c2lnbmF0dXJlX3g" * 2,
    "-----BEGIN EC PRIVATE KEY-----\n" + "QUJDRA" * 50 + "\n-----END EC PRIVATE KEY-----",
]


FILLER = ["lorem ipsum dolor sit amet " * 4, "y" * 70, "\n\n" + "z " * 40, "x.y_z-w+q" * 5]


def check_chunking(policy, text: str, sizes: list[int]) -> None:
    vault = Vault()
    vault.placeholder("EMAIL", "ann@corp.io")
    whole = OutputGuard(policy, vault).apply_full(text)
    chunks, pos, k = [], 0, 0
    while pos < len(text):
        step = sizes[k % len(sizes)]
        chunks.append(text[pos : pos + step])
        pos, k = pos + step, k + 1
    guard = OutputGuard(policy, vault)
    assert stream(guard, chunks) == (whole.text, whole.blocked_rule)
    assert guard.rule_ids == whole.rule_ids


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.sampled_from(FRAGMENTS + FILLER), min_size=10, max_size=80),
    sizes=st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20),
)
def test_streamed_equals_whole_for_any_chunking(policy, parts: list[str], sizes: list[int]) -> None:
    check_chunking(policy, "".join(parts), sizes)


@pytest.mark.parametrize("without", [(), ("pii.email",)])
def test_streamed_equals_whole_seeded(policy_rules: list[dict], without: tuple[str, ...]) -> None:
    # Without the e-mail rule there is no backward extension margin: the window alone must hold.
    policy = compile_policy({"version": 1, "rules": [r for r in policy_rules if r["id"] not in without]})
    pieces = FRAGMENTS + FILLER
    for seed in range(150):
        rnd = random.Random(seed)
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(5, 80)))
        check_chunking(policy, text, [rnd.randint(1, 50) for _ in range(7)])


def test_prefixes_that_are_not_candidates_do_not_stall_the_stream(policy) -> None:
    guard = OutputGuard(policy)
    text = (
        "JWTs start with eyJ because of base64; PEM files with -----BEGIN CERTIFICATE-----. " + "word " * 200
    )
    released = "".join(guard.feed(0, text[i : i + 4]).text for i in range(0, len(text), 4))
    assert len(released) >= len(text) - guard.max_holdback
    assert released + guard.finish(0).text == text


# --------------------------------------------------------------------------- release rule

PROSE_WORDS = [
    "The",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dogs.",
    "In",
    "about",
    "people",
    "said",
    "hello!",
    "Contact",
    "the",
    "office",
    "(room",
    "twelve).",
    "Yes:",
    "no;",
    "e.g.",
    "well-known",
    "it's",
    "fine",
    "\n",
    "-",
    "a",
    "be",
    "cafe",
    "x",
]


def _trailing_token(text: str) -> int:
    """Length of the last word of `text` with the spaces after it."""
    return len(re.search(r"\S*\s*\Z", text).group())


@pytest.fixture(scope="module")
def default_policy():
    from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY

    return compile_policy(DEFAULT_GUARDRAIL_POLICY)


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(st.sampled_from(PROSE_WORDS), min_size=5, max_size=60),
    sizes=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=10),
)
def test_prose_is_released_within_its_last_word(default_policy, words: list[str], sizes: list[int]) -> None:
    """Plain prose never waits for a window: only the word being written (a possible start of a
    finding) is held, and what is released is always a prefix of the whole-text result."""
    text = " ".join(words)
    whole = OutputGuard(default_policy).apply_full(text).text
    assert whole == text
    guard, released, pos, k = OutputGuard(default_policy), "", 0, 0
    while pos < len(text):
        chunk = text[pos : pos + sizes[k % len(sizes)]]
        pos, k = pos + len(chunk), k + 1
        released += guard.feed(0, chunk).text
        assert whole.startswith(released)
        assert guard.pending(0) <= _trailing_token(text[:pos]) + 1, (text[:pos], guard.pending(0))
    assert released + guard.finish(0).text == whole


@settings(max_examples=50, deadline=None)
@given(
    words=st.lists(
        st.sampled_from([*PROSE_WORDS, "2024,", "3", "12).", "10.0", "+44", "555-0100"]),
        min_size=5,
        max_size=60,
    )
)
def test_numbers_in_prose_wait_only_while_they_could_be_an_entity(default_policy, words: list[str]) -> None:
    text = " ".join(words)
    guard, released = OutputGuard(default_policy), ""
    for i in range(0, len(text), 3):
        released += guard.feed(0, text[i : i + 3]).text
        assert guard.pending(0) <= 40  # the longest phone/card/IBAN candidate, never a fixed window
    assert released + guard.finish(0).text == OutputGuard(default_policy).apply_full(text).text


@pytest.mark.parametrize(
    "chunks",
    [
        ["Your card is 4111 11", "11 1111 ", "1111, thanks."],
        ["Your card is 4", "111-1111", "-1111-1111 ok"],
        ["Your card is ", "4", "1", "1", "1", "1111111111", "11", " ok"],
    ],
)
def test_a_card_split_across_chunks_waits_for_the_scan(default_policy, chunks: list[str]) -> None:
    guard, released = OutputGuard(default_policy), ""
    for chunk in chunks[:-1]:
        released += guard.feed(0, chunk).text
        assert released == "Your card is "  # the prose went at once; no digit before the scan decides
    released += guard.feed(0, chunks[-1]).text + guard.finish(0).text
    assert released.startswith("Your card is [CARD]") and "1111" not in released


def test_candidates_that_fail_are_released_as_soon_as_they_fail(default_policy) -> None:
    guard = OutputGuard(default_policy)
    assert guard.feed(0, "call <EMA").text == "call "  # could become a placeholder
    assert guard.feed(0, "IL is not one> ok ").text == "<EMAIL is not one> ok "
    assert guard.feed(0, "-----BEG").text == ""  # could become a private key
    assert guard.feed(0, "INNING of the end").text.startswith("-----BEGINNING of the")


def test_a_long_finding_is_held_until_it_ends(default_policy, secret) -> None:
    key = secret("private_key")
    text = "Here:\n" + key + "\nbye"
    guard, released = OutputGuard(default_policy), ""
    for i in range(0, len(text), 5):
        step = guard.feed(0, text[i : i + 5])
        released += step.text
        if step.blocked_rule:
            break
    assert released == "Here:\n" and step.blocked_rule == "secret.private_key"


def test_streams_of_one_choice_are_independent(default_policy) -> None:
    """Keys are any hashable: content, reasoning and each tool call's arguments stream apart."""
    guard = OutputGuard(default_policy)
    assert guard.feed((0, "content"), "card 4111 1111 ").text == "card "
    assert guard.feed((0, "reasoning"), "1111 1111 is it").text == "1111 1111 is "
    assert guard.feed((0, "content"), "1111 1111 done").text == "[CARD] "
    assert guard.finish((0, "content")).text == "done"


SAMPLES = [  # one match per kind of pattern: every prefix of it must be held, never released
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "ann.lee@corp-mail.io ",
    "+44 20 7946 0958 ",
    "536-22-1234 ",
    "<EMAIL_1>",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n",
    "api_key = q8Zr2LmX9vT4kPw7Ns3Y ",
]


EVERY_OUTPUT_SCANNER = [
    {"id": n, "scanner": n, "input": "off", "output": "mask"}
    for n in ("email", "phone", "card", "iban", "ssn", "jwt", "private_key", "api_key")
]


@pytest.mark.parametrize("sample", SAMPLES, ids=[s[:12] for s in SAMPLES])
def test_every_prefix_of_a_finding_is_held(sample: str) -> None:
    policy = compile_policy({"version": 1, "rules": EVERY_OUTPUT_SCANNER})
    for end in range(1, len(sample.rstrip())):
        released = OutputGuard(policy).feed(0, "Note: " + sample[:end]).text
        assert len(released) <= len("Note: "), (sample[:end], released)
