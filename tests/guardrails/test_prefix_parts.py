"""A big reversed prefix closure split by top-level alternatives (prefix.reversed_prefix_parts): the
longest anchored match over the parts is the whole closure's, on any text; the default policy's stream
finders use the parts for api_key and stream exactly as the whole-text scan."""

from __future__ import annotations

import random

import re2

from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.guardrails import compile_policy
from proxy.guardrails.builtins import BUILTINS
from proxy.guardrails.output import _ANCHOR_START, OutputGuard
from proxy.guardrails.policy import _LONGEST
from proxy.guardrails.prefix import reversed_prefix_parts, reversed_prefix_pattern

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
PIECES = ["api_key", " = ", "password: ", "token=", "sk_live_", "Bearer ", "x" * 20, "Пароль: ", "秘密キー：",
          "https://user:", "@host", "\n", "'", '"', "secret", "AKIA", "key-"]


def _longest(regex: re2._Regexp, text: str) -> int:
    piece = text[::-1].encode()[:700]
    return regex._regexp.Match(_ANCHOR_START, piece, 0, len(piece))[0][1]


def test_parts_match_the_whole_closure() -> None:
    b = BUILTINS["api_key"]
    whole = re2.compile(reversed_prefix_pattern(b.pattern, b.tail), _LONGEST)
    parts = [re2.compile(p, _LONGEST) for p in reversed_prefix_parts(b.pattern, b.tail, 7)]
    assert len(parts) == 4
    rnd = random.Random(7)
    for _ in range(300):
        size = rnd.randint(1, 60)
        text = "".join(rnd.choice(PIECES) if rnd.random() < 0.3 else rnd.choice(B64) for _ in range(size))
        assert max(_longest(p, text) for p in parts) == _longest(whole, text), text


def test_not_an_alternation_is_one_part() -> None:
    assert reversed_prefix_parts("abc[0-9]+", "", 3) == [reversed_prefix_pattern("abc[0-9]+")]


def test_default_policy_streams_api_key_parts_like_the_whole_scan() -> None:
    policy = compile_policy(DEFAULT_GUARDRAIL_POLICY)
    api = next(r for r in policy.output.view_rules if r.scanner == "api_key")
    assert len(api.prefix_parts) == 4
    rnd = random.Random(3)
    for _ in range(20):
        text = "".join(rnd.choice(PIECES) if rnd.random() < 0.2 else rnd.choice(B64) for _ in range(120))
        guard, step = OutputGuard(policy), rnd.randint(1, 6)
        streamed = "".join(guard.feed(0, text[i : i + step]).text for i in range(0, len(text), step))
        assert streamed + guard.finish(0).text == OutputGuard(policy).apply_full(text).text
