"""Differential fuzz of the streaming output guard against the whole-text scan.

For any split of a text into deltas the streamed output equals `apply_full` (text, blocking rule,
findings per rule, replaced spans) and every release is a prefix of it (nothing is retracted). Texts are
random concatenations of real-looking entities, chained adversarial runs (the scan restart point
passes settled matches there: OutputGuard._restart), invisible characters, CJK text and entities cut
at their edges; policies overlap rules on purpose.

CI runs a fixed seed (~20 s). Longer exploration, outside CI:
    PYTHONPATH=. python tests/guardrails/test_stream_differential_fuzz.py --seconds 300
"""

from __future__ import annotations

import random
import string
import sys
import time
from collections.abc import Callable

import pytest

from proxy.guardrails import CompiledPolicy, Vault, compile_policy
from tests.guardrails.conftest import RULES, luhn_complete, synthetic
from tests.guardrails.streaming import divergence as streamed_divergence

B64 = string.ascii_letters + string.digits + "+/"
HEX = "0123456789abcdef"


def _pick(rnd: random.Random, alphabet: str, n: int) -> str:
    return "".join(rnd.choice(alphabet) for _ in range(n))


def _card(rnd: random.Random) -> str:
    head = rnd.choice(["4", "51", "6011"])
    digits = luhn_complete(head + _pick(rnd, string.digits, 15 - len(head)))
    sep = rnd.choice(["", " ", "-", "  "])
    return sep.join(digits[i : i + 4] for i in range(0, 16, 4))


ENTITIES: list[Callable[[random.Random], str]] = [
    _card,
    lambda r: "4111 1111 1111 1111",
    lambda r: "4111111111111111",
    lambda r: "\uff14\uff11\uff11\uff11 1111 1111 1111",  # fullwidth digits
    lambda r: r.choice(["ann@corp.io", "x.y+z@mail.example-corp.co.uk", "bob_1@h.io"]),
    lambda r: (
        r.choice(["\u5f20\u4e09", "\u6771\u4eac", "\u3002"])
        + "ann@corp.io"
        + r.choice(["\u7684", "", "\u3002"])
    ),
    lambda r: "@corp.io",  # the local part is whatever came before
    lambda r: "ann\uff20corp\uff0eio",  # fullwidth "@" and "."
    lambda r: r.choice(
        ["+1 (415) 555-0132", "415-555-0132", "+44 20 7946 0958", "(415)555-0132", "+49 30 123456"]
    ),
    lambda r: r.choice(["DE89 3704 0044 0532 0130 00", "DE89370400440532013000", "GB82WEST12345698765432"]),
    lambda r: r.choice(["536-22-1234", "SSN 536221234", "my SSN is 536 22 1234", "SSN: 536-22-1234"]),
    lambda r: synthetic("jwt", r.randint(0, 9)),
    lambda r: synthetic(r.choice(["aws", "github", "gcp", "slack", "openai", "stripe"]), r.randint(0, 9)),
    lambda r: (
        r.choice(["api_key = ", "password: ", "DB_PASS=", "AccountKey=", 'token: "'])
        + _pick(r, B64, r.randint(8, 40))
    ),
    lambda r: synthetic("private_key", r.randint(0, 9)),
    lambda r: "-----BEGIN CERTIFICATE-----\n" + _pick(r, B64, 64) + "\n-----END CERTIFICATE-----",
    lambda r: r.choice(["-----BEGIN ", "RSA PRIVATE KEY-----\n", "-----END RSA PRIVATE KEY-----"]),
    lambda r: r.choice(
        [
            "https://example.com/a?b=c",
            "http://h.io/<EMAIL_1>",
            "[x](<EMAIL_1>)",
            'href="<PHONE_1>"',
            "mailto:<EMAIL_1>",
            "https://u:p@h.io/" + _pick(r, B64, 40),
        ]
    ),
    lambda r: "data:image/png;base64," + _pick(r, B64, r.randint(20, 200)),
    lambda r: r.choice(["<EMAIL_1>", "<PHONE_1>", "<CARD_1>", "<EMAIL_2>", "<EMA", "IL_1>"]),
    lambda r: r.choice(["10.0.0.1", "fe80::1", "192.168.1.254", "2001:db8::ff00:42:8329"]),
    lambda r: r.choice(["TCK-123456", "project bluebird", "BLK42", "sha256-" + _pick(r, B64, 44)]),
    lambda r: _pick(r, B64, r.randint(20, 60)),
]


def _run(rnd: random.Random) -> str:
    """A chained adversarial run (candidate windows overlap all along it)."""
    kind = rnd.randrange(9)
    n = rnd.randint(8, 400)
    if kind == 0:
        return _pick(rnd, B64, n)
    if kind == 1:
        return _pick(rnd, HEX, n)
    unit = ["1-", "a/", "-a", "q-", "http://", "Ab3/", "x.y_z-w+q"][kind - 2]
    return unit * max(1, n // len(unit))


# invisible and format characters (dropped from the view), and ones NFKC expands or folds
INVISIBLE = [
    "\u200b",
    "\u202e",
    "\u200d",
    "\ufeff",
    "\u2066",
    "\u00ad",
    "\u200b\u200b\u200b",
    "\U000e0041",
    "\ufb01",
    "\u2460",
    "\u2474",
    "\u33cf",
    "\uff20",
    "\uff0e",
    "\uff11",
    "\u00bd",
    "\u2122",
]
FILLER = [
    " ",
    "\n",
    "\t",
    "  \n\n",
    "The answer is ",
    "yes. ",
    ", ",
    ": ",
    "= ",
    "'",
    '"',
    "(",
    ")",
    "\u4f60\u597d\u4e16\u754c",
    "\u6771\u4eac\u90fd",
    "\uff43\uff41\uff52\uff44",
    "\U0001f642",
    "\u00e9",
    "\u200b",
    "\u202e",
    "\u200d\u200d",
    "\ufeff",
    "\u2066",
    "lorem ipsum dolor ",
]


def make_text(rnd: random.Random) -> str:
    if rnd.random() < 0.3:  # a long chained run, entities and odd characters inside it
        text = "".join(_run(rnd) for _ in range(rnd.randint(1, 4)))
        for _ in range(rnd.randint(1, 4)):
            k = rnd.randint(0, len(text))
            insert = rnd.choice(ENTITIES)(rnd) if rnd.random() < 0.6 else rnd.choice(FILLER + INVISIBLE)
            text = text[:k] + insert + text[k:]
        return text
    parts: list[str] = []
    for _ in range(rnd.randint(2, 14)):
        roll = rnd.random()
        if roll < 0.4:
            part = rnd.choice(ENTITIES)(rnd)
            cut = rnd.random()
            if cut < 0.15:  # an entity cut at its start or end
                part = part[: rnd.randint(1, len(part))]
            elif cut < 0.25:
                part = part[rnd.randint(0, len(part) - 1) :]
        elif roll < 0.6:
            part = _run(rnd)
        else:
            part = rnd.choice(FILLER)
        if rnd.random() < 0.1:  # invisible or fullwidth characters sprinkled inside
            for _ in range(rnd.randint(1, 3)):
                k = rnd.randint(0, len(part))
                part = part[:k] + rnd.choice(INVISIBLE) + part[k:]
        if parts and rnd.random() < 0.25:  # inside the previous part (a run, an entity)
            k = rnd.randint(0, len(parts[-1]))
            parts[-1] = parts[-1][:k] + part + parts[-1][k:]
        else:
            parts.append(part)
    return "".join(parts)


def make_cuts(rnd: random.Random, n: int) -> list[int]:
    mode = rnd.randrange(4)
    if mode == 0:
        return list(range(1, n))  # one character a delta
    if mode == 1:
        size = rnd.randint(2, 9)
        return list(range(size, n, size))
    cuts, pos, top = [], 0, rnd.choice([5, 40])
    while True:
        pos += rnd.randint(1, top)
        if pos >= n:
            return cuts
        cuts.append(pos)


# --------------------------------------------------------------------------- policies

ENTROPY = {"id": "secret.high_entropy", "scanner": "high_entropy", "input": "log"}


def _default(**outputs: str) -> dict:
    from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY

    rules = [
        {**r, "output": outputs.get(r["id"], r.get("output", "off"))}
        for r in DEFAULT_GUARDRAIL_POLICY["rules"]
    ]
    return {**DEFAULT_GUARDRAIL_POLICY, "rules": rules}


def _regex(rid: str, pattern: str, output: str) -> dict:
    return {"id": rid, "scanner": "regex", "pattern": pattern, "input": "off", "output": output, "label": "R"}


# Operator rules that overlap each other and the built-ins (SSN/phone digits, card groups, e-mail
# domains, chained runs), one blocking.
OVERLAPPING = [
    _regex("op.qq", "q-q", "log"),
    _regex("op.qmask", "-q-", "mask"),
    _regex("op.digits", "[0-9]{3}-[0-9]{2}", "log"),
    _regex("op.groups", "[0-9]{4} [0-9]{4}", "mask"),
    _regex("op.domain", r"corp\.io", "log"),
    _regex("op.slashes", "a/a/a", "mask"),
    _regex("op.ones", "1-1-1-1-1-1-1-1-1-1-1", "log"),
    _regex("op.block", "BLK[0-9]{2}", "block"),
    _regex("op.b64", "[A-Za-z0-9+/]{24}", "log"),
    _regex("op.http", "http://[a-z]{1,8}", "mask"),
    _regex("op.num", "[0-9]{2,20}", "log"),  # grows, overlaps cards, phones, IBANs, SSNs
    _regex("op.long", "[0-9]{6,16}", "mask"),
    _regex("op.local", "[a-z0-9]{1,40}@", "log"),  # overlaps an e-mail's backward extension
    _regex("op.dash", "(?:[a-z0-9]-){3,30}", "mask"),
]


def build_policies() -> dict[str, CompiledPolicy]:
    email_input = {"id": "pii.email.in", "scanner": "email", "input": "pseudonymize", "output": "off"}
    return {
        "default": compile_policy(_default()),
        "default+entropy-mask": compile_policy(
            _default(**{"secret.high_entropy": "mask", "pii.email": "mask"})
        ),
        "default+urls": compile_policy({**_default(), "restore_in_urls": True}),
        "test+entropy-mask": compile_policy({"version": 1, "rules": [*RULES, {**ENTROPY, "output": "mask"}]}),
        "test+entropy-log": compile_policy({"version": 1, "rules": [*RULES, {**ENTROPY, "output": "log"}]}),
        "overlapping": compile_policy(
            {"version": 1, "rules": [*OVERLAPPING, email_input, {**ENTROPY, "output": "log"}]}
        ),
        "default+invisible-log": compile_policy(_default(**{"text.invisible": "log", "pii.email": "mask"})),
        "overlapping+default": compile_policy(
            {
                **_default(**{"pii.phone": "mask"}),
                "rules": [*OVERLAPPING, *_default(**{"pii.phone": "mask"})["rules"]],
            }
        ),
    }


def make_vault() -> Vault:
    vault = Vault()
    vault.placeholder("EMAIL", "ann@corp.io")
    vault.placeholder("PHONE", "+1 415 555 0132")
    vault.placeholder("CARD", "4111 1111 1111 1111")
    return vault


# --------------------------------------------------------------------------- the oracle


def divergence(policy: CompiledPolicy, with_vault: bool, text: str, cuts: list[int]) -> str | None:
    """The shared oracle (tests/guardrails/streaming.py), each guard with a fresh vault or none."""
    return streamed_divergence(policy, make_vault if with_vault else lambda: None, text, cuts)


def minimise(policy: CompiledPolicy, with_vault: bool, text: str, cuts: list[int]) -> tuple[str, list[int]]:
    """Shrink a diverging case: drop characters (keeping the cuts aligned), then cuts."""

    def bad(t: str, c: list[int]) -> bool:
        return divergence(policy, with_vault, t, c) is not None

    changed = True
    while changed:
        changed = False
        for size in (64, 16, 4, 1):
            i = 0
            while i < len(text):
                t = text[:i] + text[i + size :]
                c = sorted({x if x <= i else max(i, x - size) for x in cuts} - {0} - {len(t)})
                c = [x for x in c if 0 < x < len(t)]
                if len(t) < len(text) and bad(t, c):
                    text, cuts, changed = t, c, True
                else:
                    i += size
        i = 0
        while i < len(cuts):
            c = cuts[:i] + cuts[i + 1 :]
            if bad(text, c):
                cuts, changed = c, True
            else:
                i += 1
    return text, cuts


def explore(
    seed: int, count: int, policies: dict[str, CompiledPolicy]
) -> list[tuple[str, bool, str, list[int], str]]:
    """`count` random (text, split) cases per policy: the diverging ones."""
    rnd = random.Random(seed)
    found = []
    for _ in range(count):
        text = make_text(rnd)
        if not text:
            continue
        with_vault = rnd.random() < 0.6
        cuts = make_cuts(rnd, len(text))
        for name, policy in policies.items():
            why = divergence(policy, with_vault, text, cuts)
            if why is not None:
                found.append((name, with_vault, text, cuts, why))
    return found


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def policies() -> dict[str, CompiledPolicy]:
    return build_policies()


def test_streamed_equals_whole_fuzzed(policies: dict[str, CompiledPolicy]) -> None:
    found = explore(20261204, 24, policies)  # 24 texts x 8 policies, ~16 s
    assert not found, found[0]


# Hand-made shapes aimed at the restart point (settled matches straddling it: chained runs with a
# URL context, an e-mail's local part, a lead, a block, NFKC expansions and invisibles inside).
# The exploration (see the module docstring) found no divergence to add here yet.
ADVERSARIAL = [
    ("default", "see http://h.io/" + "a-" * 150 + "<EMAIL_1>" + "a-" * 100 + " <EMAIL_1>"),
    ("default+entropy-mask", "a-" * 100 + "b@corp.io" + "-a" * 100 + "@corp.io"),
    ("overlapping+default", "1-" * 60 + "536-22-1234" + "-1" * 60 + "4111-1111-1111-1111" + "-1" * 60),
    ("overlapping", ("xxx-") * 80 + "BLK42" + "q-" * 50),
    ("default+invisible-log", "\u200b".join(["1-"] * 150) + "ann@corp.io " + "\ufb01" * 20 + "a/" * 80),
    ("test+entropy-mask", "api_key = " + "1-" * 150 + " password: " + "a/" * 100 + " TCK-123456"),
]


@pytest.mark.parametrize(
    ("name", "text"), ADVERSARIAL, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ADVERSARIAL)]
)
def test_adversarial_shapes_stream_equal_whole(
    policies: dict[str, CompiledPolicy], name: str, text: str
) -> None:
    for size in (1, 7):
        assert divergence(policies[name], True, text, list(range(size, len(text), size))) is None


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--per-seed", type=int, default=20)
    args = parser.parse_args()
    built, seed, cases, stop = build_policies(), args.first_seed, 0, time.monotonic() + args.seconds
    while time.monotonic() < stop:
        for name, with_vault, text, cuts, why in explore(seed, args.per_seed, built):
            small, small_cuts = minimise(built[name], with_vault, text, cuts)
            print(f"seed {seed} policy {name} vault {with_vault}: {why}")
            print(f"  minimal: {small!r} cuts {small_cuts}", flush=True)
        cases += args.per_seed
        seed += 1
    total = cases * len(built)
    print(f"seeds {args.first_seed}..{seed - 1}: {cases} texts x {len(built)} policies = {total} cases")
    sys.exit(0)
