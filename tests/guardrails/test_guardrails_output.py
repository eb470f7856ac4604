"""Output guard: hold-back window, split entities, placeholder restoration, stream == whole text."""

from __future__ import annotations

import importlib.util
import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.guardrails import OutputGuard, Vault, compile_policy, scan_request
from proxy.guardrails.builtins import BUILTINS
from proxy.guardrails.scan import find_hits
from tests.guardrails.streaming import stream_checked

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
    vault = Vault()
    vault.placeholder("EMAIL", "ann@corp.io")
    guard = OutputGuard(default_policy, vault)
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
    assert guard.feed((0, "reasoning"), "1111 1111 is it").text == "1111 1111 is it"
    assert guard.feed((0, "content"), "1111 1111 done").text == "[CARD] done"
    assert guard.finish((0, "content")).text == ""


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
    """No character of a finding leaves before the scan decides; what precedes the finding in its
    match (a secret's name and "=") may."""
    policy = compile_policy({"version": 1, "rules": EVERY_OUTPUT_SCANNER})
    vault = Vault()
    vault.placeholder("EMAIL", "ann@corp.io")
    text = "Note: " + sample
    whole = OutputGuard(policy, vault).apply_full(text).text
    assert whole != text
    free = next(i for i, (a, b) in enumerate(zip(text, whole, strict=False)) if a != b)
    for end in range(1, len(sample.rstrip())):
        released = OutputGuard(policy, vault).feed(0, text[: 6 + end]).text
        assert len(released) <= free, (sample[:end], released)


# --------------------------------------------------------------------------- release rule (issue #13)
# Release every character no rule can still turn into a finding that changes the text: log-only
# rules hold nothing back, and a secret's name and "=" leave before its value is decided.

CANARY_SECRET = "q8Zr2LmX9vT4kPw7Ns3Y"
DEFAULT_FRAGMENTS = [
    "The ", "answer ", "is ", "yes. ", "I ", "a ", "In ", "social ", "token ", "\n", ", ", ": ", "= ",
    "api_key = ", CANARY_SECRET, "password: ", "Hunter2!x ", "DB_PASS=", "s3cr3t-Pw", "postgres://app:",
    "Pa55word@db.internal/x ", "AccountKey=", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk", "SSN ",
    "my SSN is ", "'", '"',
    "536-22-1234", "536221234", "4111 1111 1111 1111", "4111111111111112", "DE89 3704 0044 0532 0130 00",
    "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z7Q", "10.0.0.1", "fe80::1", "\u200b", "\u202e", "<EMAIL_1>", "<EMA",
    "https://example.com/", "ann@corp.io", "ghp_", "sk-", "eyJ", "-----BEGIN ", "RSA PRIVATE KEY-----\n",
]


@pytest.fixture(scope="module")
def canary_secrets(secret) -> list[str]:
    return [secret(kind, 7) for kind in ("github", "jwt", "openai", "private_key", "aws")]


_stream_checked = stream_checked


def _vaults() -> list[Vault | None]:
    vault = Vault()
    vault.placeholder("EMAIL", "ann@corp.io")
    return [None, vault]


def test_default_policy_streams_equal_whole_at_every_split_offset(default_policy, canary_secrets) -> None:
    rnd = random.Random(13)
    for _ in range(12):
        pieces = [rnd.choice(DEFAULT_FRAGMENTS + canary_secrets) for _ in range(rnd.randint(3, 9))]
        text = "".join(pieces)
        for vault in _vaults():
            for cut in range(1, len(text)):  # two chunks, cut at every offset: entities across the cut
                _stream_checked(default_policy, vault, text, [cut])


def test_default_policy_streams_equal_whole_for_random_splits(default_policy, canary_secrets) -> None:
    rnd = random.Random(1313)
    for _ in range(150):
        text = "".join(rnd.choice(DEFAULT_FRAGMENTS + canary_secrets) for _ in range(rnd.randint(5, 40)))
        cuts = sorted(rnd.sample(range(1, len(text)), min(len(text) - 1, rnd.randint(1, 60))))
        _stream_checked(default_policy, rnd.choice(_vaults()), text, cuts)


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.sampled_from(DEFAULT_FRAGMENTS + FRAGMENTS), min_size=3, max_size=40),
    sizes=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=8),
    with_vault=st.booleans(),
)
def test_default_policy_streamed_equals_whole_for_any_chunking(
    default_policy, parts: list[str], sizes: list[int], with_vault: bool
) -> None:
    text = "".join(parts)
    cuts, pos, k = [], 0, 0
    while pos + sizes[k % len(sizes)] < len(text):
        pos += sizes[k % len(sizes)]
        cuts.append(pos)
        k += 1
    _stream_checked(default_policy, _vaults()[with_vault], text, cuts)


def test_log_only_findings_hold_nothing_back_and_are_still_counted(default_policy) -> None:
    token = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z7Q"  # high entropy, an IP: the default policy logs them
    text = f"Use {token} from 10.0.0.1"
    guard, out = OutputGuard(default_policy), ""
    for i in range(0, len(text) - 8, 3):  # the token streams at once (held before: up to 130 chars)
        out += guard.feed(0, text[i : i + 3]).text
        assert guard.pending(0) <= 2, text[: i + 3]  # only what could start a masked finding ("aB")
    out += guard.feed(0, text[len(out) + guard.pending(0) :]).text + guard.finish(0).text
    assert out == text
    whole = OutputGuard(default_policy).apply_full(text)
    assert guard.rule_ids == ["pii.ipv4", "secret.high_entropy"] == whole.rule_ids


def test_a_secrets_name_leaves_before_its_value_is_decided(default_policy) -> None:
    guard = OutputGuard(default_policy)
    assert guard.feed(0, "Set api_key").text == "Set api_key"  # prose or a name: nothing to mask yet
    assert guard.feed(0, " = ").text == " = "
    assert guard.feed(0, CANARY_SECRET[:8]).text == ""  # the value may be a secret: held
    assert guard.feed(0, CANARY_SECRET[8:] + " and go").text == "[SECRET] and go"
    assert guard.finish(0).text == ""
    assert guard.rule_ids == ["secret.api_key"]


def test_a_label_leaves_before_the_number(default_policy) -> None:
    guard = OutputGuard(default_policy)
    assert guard.feed(0, "Her social security number is ").text == "Her social security number is "
    assert guard.feed(0, "536 22").text == ""
    # settled only when no longer match can start at the label (60 characters after it)
    assert guard.feed(0, " 1234; ok").text == ""
    assert guard.finish(0).text == "[SSN]; ok"


def test_the_first_word_leaves_with_the_first_token(default_policy) -> None:
    firsts = ("Hello", "The", "Sure", "Absolutely", "Here", "Yes", "Thanks", "social", "token", "In", "It")
    for first in firsts:
        guard = OutputGuard(default_policy)
        assert guard.feed(0, first).text == first, first
    # Words that may begin an IBAN (IT60 X054 ..., it60 x054 ..., at61 1904 ...) leave too: an IBAN's
    # country code is kept in the clear ("IT[IBAN]"), so only what follows a whole code is held.
    for first in ("I", "it", "IT"):
        guard = OutputGuard(default_policy)
        assert guard.feed(0, first).text == first, first
    for first in ("A", "a"):  # may begin a provider key (AKIA..., AIza..., atlassian ATATT...): held
        guard = OutputGuard(default_policy)
        assert guard.feed(0, first).text == "" and guard.feed(0, " cat").text == first + " cat"
    guard, released = OutputGuard(default_policy), ""
    for token in ("I", "T", "60", " X", "054", " 28", "11 1010", " 0000", " 0123", " 456", " ok"):
        released += guard.feed(0, token).text
    assert released + guard.finish(0).text == "IT[IBAN] ok"
    whole = OutputGuard(default_policy).apply_full("IT60 X054 2811 1010 0000 0123 456 ok")
    assert whole.text == "IT[IBAN] ok"


def test_placeholders_are_held_only_when_the_vault_can_restore_them(default_policy) -> None:
    assert OutputGuard(default_policy).feed(0, "write <EMAIL_").text == "write <EMAIL_"
    vault = Vault()
    vault.placeholder("EMAIL", "ann@corp.io")
    guard = OutputGuard(default_policy, vault)
    assert guard.feed(0, "write <EMAIL_").text == "write "
    assert guard.feed(0, "1> now").text == "ann@corp.io now"


ENTITIES = ["4111 1111 1111 1111", "536-22-1234", f"api_key = {CANARY_SECRET}", "\u200b"]


@pytest.mark.parametrize("entity", ENTITIES)
def test_a_stream_cut_off_inside_a_finding_still_masks_it(default_policy, entity: str) -> None:
    """finish() (also what ResponseGuard.flush calls when a stream ends without finish_reason)
    scans what was held back."""
    guard = OutputGuard(default_policy)
    out = "".join(guard.feed(0, ch).text for ch in "see " + entity)
    out += guard.finish(0).text
    assert out == OutputGuard(default_policy).apply_full("see " + entity).text
    assert entity.strip("\u200b") == "" or entity[-4:] not in out


def _corpus_texts() -> list[str]:
    from pathlib import Path

    texts = []
    for path in sorted(Path(__file__).parents[1].joinpath("data", "guardrails").glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    return [t for t in texts if t.isascii()]


@pytest.mark.parametrize("scanner", [name for name, b in BUILTINS.items() if b.leads])
def test_leads_cover_every_finding_of_the_corpus(scanner: str) -> None:
    """`leads` must describe the scanner's pattern (a change to one needs the other): every finding
    on the corpora lies in the rest of a lead + rest split of its match."""
    builtin = BUILTINS[scanner]
    policy = compile_policy({"version": 1, "rules": [{"id": "x", "scanner": scanner, "output": "mask"}]})
    tail = f"(?:{builtin.tail})" if builtin.tail else ""
    found = 0
    for text in _corpus_texts():
        matches: list = []
        hits, _ = find_hits(policy.output, text, text, list(range(len(text))), matches=matches)
        for h in hits:
            a, b = next((m[2], m[3]) for m in matches if m[0] is h.rule and m[2] <= h.start and h.end <= m[3])
            found += 1
            assert any(
                re.fullmatch(lead, text[a:k]) and re.fullmatch(f"(?:{rest}){tail}", text[k:b])
                for lead, rest in builtin.leads
                for k in range(a, h.start + 1)
            ), (scanner, h.start - a)
    assert found


def test_a_log_only_finding_is_not_counted_while_an_earlier_one_may_still_cover_it() -> None:
    """An invisible character inside a token that becomes a (longer) high-entropy finding only
    later: over the whole text the entropy finding covers it, so it must not be counted early."""
    from proxy.guardrails.bench import bench_policy

    policy = bench_policy("log")  # every scanner, output "log"
    text = (
        "4111 1111 1111 1111s3cr3t-Pw\u200beyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiYWRtaW4iOnRydWV9."
        "1LI7S1L10e0tza93Ce6KRDiKpFfez3gb9pvMEc0goRq\n"
    )
    whole = OutputGuard(policy).apply_full(text)
    assert whole.text == text and whole.rule_ids == ["high_entropy"]
    _stream_checked(policy, None, text, [12, 48, 60, 63, 72, 73, 75, 94, 114, 117, 122])


def _session5_texts() -> list[str]:
    path = Path(__file__).parents[1] / "data" / "guardrails" / "corpus_session5_secrets.py"
    spec = importlib.util.spec_from_file_location("corpus_session5_secrets", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [text for _, _, texts in module.GROUPS for text in texts]


def test_session5_secret_classes_stream_equal_whole(default_policy) -> None:
    """Provider formats (the vendor rule holds back its superset closure), prose and positional
    passwords: streamed in two chunks cut at every offset, and in random small chunks."""
    rnd = random.Random(55)
    for text in _session5_texts():
        for cut in range(1, len(text), 3):
            _stream_checked(default_policy, None, text, [cut])
        cuts = sorted(rnd.sample(range(1, len(text)), min(len(text) - 1, 12)))
        _stream_checked(default_policy, None, f"note: {text} ok", cuts)


def _v6_entity_texts() -> list[str]:
    path = Path(__file__).parents[1] / "data" / "guardrails" / "corpus_session5_v6_entities.py"
    spec = importlib.util.spec_from_file_location("corpus_session5_v6_entities", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [text for _, _, texts in module.GROUPS for text in texts]


def test_session5_v6_entity_classes_stream_equal_whole(default_policy) -> None:
    """Spelled-out e-mails (bare "at"/"dot" words), trunk-8 phones, SSN labels, numbered IPs,
    pgpass/DSN/directive passwords and soft hyphens between letters: streamed cut at every offset
    and in random small chunks, with every scanner masking, equal the whole-text result."""
    from proxy.guardrails.bench import bench_policy

    rnd = random.Random(66)
    for policy in (default_policy, bench_policy("mask")):
        for text in _v6_entity_texts():
            for cut in range(1, len(text)):
                _stream_checked(policy, None, text, [cut])
            cuts = sorted(rnd.sample(range(1, len(text)), min(len(text) - 1, 12)))
            _stream_checked(policy, None, f"note: {text} ok", cuts)
            _stream_checked(policy, None, text, list(range(1, len(text))))  # one character at a time
