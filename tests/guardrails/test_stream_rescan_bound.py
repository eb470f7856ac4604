"""Streaming output guard over chained candidate windows: `high_entropy` proposes a 130-character
window every 32 characters of `1-1-1-…`, two rules can match overlapping each other, and so on.

Whatever the chunking, the streamed result equals the whole-text scan (text, blocking rule,
counts per rule), and the work per delta stays bounded: the rescan no longer goes back to the start
of the run (output.py, OutputGuard._restart; README "Known limits")."""

from __future__ import annotations

import random
import string
from collections import Counter
from collections.abc import Callable

import pytest

from proxy.guardrails import CompiledPolicy, OutputGuard, Vault, compile_policy
from proxy.guardrails import output as output_module
from tests.guardrails.streaming import stream_checked

B64 = string.ascii_letters + string.digits + "+/"


def _b64(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice(B64) for _ in range(n))


# Runs whose candidate windows chain (a `\b` every character or two, all in the entropy class),
# and runs that only look like them.
UNITS = ["1-", "a/", "-a", "Ab3/", "x.y_z-w+q", "q-", "http://", "ab ", "z"]
INSERTS = [
    "ann@corp.io",
    "@corp.io",  # the local part is the run before it (backward extension)
    "4111 1111 1111 1111",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwiYWRtaW4iOnRydWV9.c2lnbmF0dXJlX3gc2lnbmF0dXJlX3g",
    "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z7Q",
    "AKIAQWERTYUIOP234567",  # blocked by the test policy
    "10.0.0.1",
    "<EMAIL_1>",
    "http://h.io/<EMAIL_1>",
    "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z7Q",
    "api_key = Zq8#vLx2!pRt9w",
    "\u200b\u200b",
    "TCK-123456",
    " ",
]


def _text(rnd: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rnd.randint(2, 5)):
        if rnd.random() < 0.3:
            parts.append(_b64(rnd, rnd.randint(40, 600)))
        else:
            unit = rnd.choice(UNITS)
            parts.append(unit * (rnd.randint(20, 700) // len(unit)))
        for _ in range(rnd.randint(0, 2)):  # at any offset, also inside a run
            k = rnd.randint(0, len(parts[-1]))
            parts[-1] = parts[-1][:k] + rnd.choice(INSERTS) + parts[-1][k:]
    return "".join(parts)


NAMES = ["default", "test+entropy-log", "test+entropy-mask", "overlapping-regex"]


@pytest.fixture(scope="module")
def policies(policy_rules: list[dict]) -> dict[str, CompiledPolicy]:
    from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY

    entropy = {"id": "secret.high_entropy", "scanner": "high_entropy", "input": "off"}
    rules = policy_rules  # conftest: a policy exercising every action
    return {
        "default": compile_policy(DEFAULT_GUARDRAIL_POLICY),
        "test+entropy-log": compile_policy({"version": 1, "rules": [*rules, {**entropy, "output": "log"}]}),
        "test+entropy-mask": compile_policy({"version": 1, "rules": [*rules, {**entropy, "output": "mask"}]}),
        # two rules whose matches overlap each other in `q-q-q-…`: heads alone chain
        "overlapping-regex": compile_policy(
            {
                "version": 1,
                "rules": [
                    {
                        "id": "t.log",
                        "scanner": "regex",
                        "pattern": "q-q",
                        "input": "off",
                        "output": "log",
                        "label": "A",
                    },
                    {
                        "id": "t.mask",
                        "scanner": "regex",
                        "pattern": "-q-",
                        "input": "off",
                        "output": "mask",
                        "label": "B",
                    },
                    {"id": "t.entropy", **{k: v for k, v in entropy.items() if k != "id"}, "output": "log"},
                ],
            }
        ),
    }


def _vault() -> Vault:
    vault = Vault()
    vault.placeholder("EMAIL", "ann@corp.io")
    return vault


_check = stream_checked


@pytest.mark.parametrize("name", NAMES)
def test_chained_windows_stream_equal_whole(policies: dict[str, CompiledPolicy], name: str) -> None:
    policy = policies[name]
    rnd = random.Random(f"rescan-{name}")
    for _ in range(5):
        text = _text(rnd)
        vault = _vault() if rnd.random() < 0.5 else None
        _check(policy, vault, text, list(range(4, len(text), 4)))  # 4-character deltas
        cuts, pos = [], 0
        while True:
            pos += rnd.randint(1, 40)
            if pos >= len(text):
                break
            cuts.append(pos)
        _check(policy, vault, text, cuts)


@pytest.mark.parametrize("unit", ["1-", "a/", "-a", "x/", "q-", "Ab3/"])
@pytest.mark.parametrize("with_vault", [False, True])
def test_pure_chains_at_every_small_split(
    policies: dict[str, CompiledPolicy], unit: str, with_vault: bool
) -> None:
    vault = _vault() if with_vault else None
    text = unit * (400 // len(unit)) + " ok"
    for name in ("default", "test+entropy-mask", "overlapping-regex"):
        for size in (1, 3, 4, 7, 33):
            _check(policies[name], vault, text, list(range(size, len(text), size)))


def test_entropy_picks_across_the_restart_point_are_kept(policies: dict[str, CompiledPolicy]) -> None:
    """A base64 run with `+`/`/`: overlapping findings every 32 characters, the non-overlapping
    picks (one per 160 characters) decided before the restart point, masked or counted alike."""
    rnd = random.Random(7)
    for name in ("default", "test+entropy-log", "test+entropy-mask"):
        for _ in range(3):
            text = "key: " + _b64(rnd, 2000) + " ann@corp.io " + _b64(rnd, 500) + " end"
            _check(policies[name], None, text, list(range(4, len(text), 4)))
            whole = OutputGuard(policies[name]).apply_full(text)
            assert "secret.high_entropy" in whole.rule_ids


# --------------------------------------------------------------------------- work per delta


def _scanned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Characters handed to the rule scanners, one entry per scan (find_hits wrapped)."""
    sizes: list[int] = []
    real: Callable = output_module.find_hits

    def counting(rules, raw, *args, **kwargs):  # type: ignore[no-untyped-def]
        sizes.append(len(raw))
        return real(rules, raw, *args, **kwargs)

    monkeypatch.setattr(output_module, "find_hits", counting)
    return sizes


@pytest.mark.parametrize(
    ("name", "unit", "size"),
    [
        ("default", "1-", 4096),
        ("default", "1-", 12288),
        ("default", "a/", 4096),
        ("default", "-a", 4096),
        ("default", None, 4096),
        ("default", "http://", 4096),
        ("test+entropy-mask", "1-", 4096),
        ("test+entropy-mask", "1-", 12288),
        ("test+entropy-mask", None, 4096),
        ("overlapping-regex", "q-", 4096),
    ],
)
def test_rescan_per_delta_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
    policies: dict[str, CompiledPolicy],
    name: str,
    unit: str | None,
    size: int,
) -> None:
    """4-character deltas: each scan covers a few candidate windows at most (before the fix: the
    whole run, ~514x the text in total for 4 KB of `1-1-1-…`), so the total is linear."""
    text = _b64(random.Random(1), size) if unit is None else (unit * size)[:size]
    whole = OutputGuard(policies[name], _vault()).apply_full(text).text
    sizes = _scanned(monkeypatch)
    guard = OutputGuard(policies[name], _vault())
    out = "".join(guard.feed(0, text[i : i + 4]).text for i in range(0, size, 4)) + guard.finish(0).text
    assert out == whole
    assert max(sizes) <= 600  # high_entropy's window is 130, url_context's 263
    assert sum(sizes) <= 100 * size  # 4 KB of `1-1-1-…` before the fix: 514 * size, growing with size


def test_counts_match_on_a_long_chained_stream(policies: dict[str, CompiledPolicy]) -> None:
    """Log-only findings inside a long run are each counted once, as over the whole text."""
    rnd = random.Random(3)
    text = " ".join(_b64(rnd, 200) for _ in range(20))
    guard = OutputGuard(policies["default"])
    for i in range(0, len(text), 4):
        guard.feed(0, text[i : i + 4])
    guard.finish(0)
    whole = OutputGuard(policies["default"])
    whole.apply_full(text)
    assert guard.counts == whole.counts
    assert guard.counts["secret.high_entropy"] >= 20
    assert guard.counts == Counter(whole.counts)


def test_a_placeholder_in_a_url_that_began_before_the_restart_stays(
    policies: dict[str, CompiledPolicy],
) -> None:
    """A URL (a context span: placeholders inside it are kept as written) that the scan restarts
    inside of, with a placeholder after that point: still kept, as over the whole text."""
    rnd = random.Random(11)
    for name in ("default", "test+entropy-mask"):
        for k in (7, 40):
            chained = "http://" * k + "h.io/<EMAIL_1>" + "http://" * 40 + " and <EMAIL_1>"
            entropic = (
                "see http://h.io/" + _b64(rnd, 100 + k) + "<EMAIL_1>" + _b64(rnd, 200) + " and <EMAIL_1>"
            )
            for text in (chained, entropic):
                whole = OutputGuard(policies[name], _vault()).apply_full(text).text
                assert "<EMAIL_1>" in whole and whole.endswith("ann@corp.io")
                for size in (1, 4, 9):
                    _check(policies[name], _vault(), text, list(range(size, len(text), size)))
