"""`teecube bench holdback`: how much streamed text the output guard holds back, no engine needed.

Ordinary assistant prose is cut into BPE-like tokens (a leading space and a word piece of at
most 7 letters, a number of at most 3 digits, one punctuation character) and fed to an
`OutputGuard` with the default policy, one token per `feed`, as a proxy relays a stream. Per
token arrival it records the characters held back (`pending`) and the CPU time of the call; per
answer, the tokens (and characters) received before the first character is released: what
the guard adds to a streamed TTFT, in tokens. Prints one JSON object.

    teecube bench holdback                     # default policy, empty vault (no pseudonymized input)
    teecube bench holdback --vault             # a request whose prompt had a placeholder
    teecube bench holdback --repeat 20 --json-out holdback.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from typing import Any

from proxy.guardrails import OutputGuard, Vault, compile_policy

# Assistant answers of the kind a chat model writes: no findings in them.
PROSE = (
    "Sure! Here is a short overview of how photosynthesis works. Plants capture light with "
    "chlorophyll, split water into oxygen and hydrogen, and use the energy to turn carbon dioxide "
    "into sugars. The oxygen is released into the air, which is why forests matter so much.",
    "I'd be happy to help. To make a simple tomato sauce, warm two tablespoons of olive oil, add "
    "a chopped onion and cook it for about 8 minutes. Then add 3 cloves of garlic, a can of "
    "tomatoes and a pinch of salt, and let it simmer for 20 to 25 minutes.",
    "The quick answer is yes, but there are a few caveats. First, the function runs in linear "
    "time only when the input is sorted. Second, it allocates a new list on every call, so for "
    "large inputs you may want to reuse a buffer instead.",
    "A haiku about autumn leaves:\n\nCrimson leaves drifting\nwhispers on the cooling wind\nthe "
    "year lets go slow",
    "There are three main reasons the Roman Empire declined: economic trouble and overreliance on "
    "slave labor, military overspending with constant wars, and political instability, with "
    "more than twenty emperors in the third century alone.",
    "In summary:\n- Revenue grew 12% year over year.\n- Costs were flat.\n- The team plans to "
    "hire two engineers in the next quarter and to review the budget in March.",
    "It depends on what you mean by fast. For most people a pace of five minutes per kilometre is "
    "a good goal; elite runners go well under three. Start slowly, rest often, and build up.",
    "Absolutely. The main difference between a list and a tuple in Python is that a list can be "
    "changed after it is created, while a tuple cannot. Tuples are also hashable, so they can be "
    "used as dictionary keys.",
    "As an AI model I don't have personal opinions, but I can describe the arguments on each side. "
    "Supporters point to lower costs and faster delivery; critics worry about jobs and safety.",
    "Hello! How can I assist you today? If you have a question about travel, cooking, science or "
    "programming, feel free to ask and I will do my best to answer it clearly.",
)

_TOKEN = re.compile(r" ?[A-Za-z]{1,7}| ?[0-9]{1,3}| ?[^\sA-Za-z0-9]|\s")


def tokens(text: str) -> list[str]:
    """BPE-like pieces: what a model's stream delivers one chunk at a time."""
    out = _TOKEN.findall(text)
    assert "".join(out) == text
    return out


def _policy() -> Any:
    from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY

    return compile_policy(DEFAULT_GUARDRAIL_POLICY)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]


def run(repeat: int = 5, vault: bool = False) -> dict[str, Any]:
    policy = _policy()
    held: list[int] = []
    cpu_us: list[float] = []
    first_tokens: list[int] = []
    first_chars: list[int] = []
    released_at_once = 0
    arrivals = 0
    mismatches = 0
    for _ in range(repeat):
        for text in PROSE:
            v = Vault()
            if vault:
                v.placeholder("EMAIL", "ann@example.com")
            guard = OutputGuard(policy, v)
            out, first, received = [], None, 0
            for k, tok in enumerate(tokens(text)):
                t0 = time.thread_time_ns()
                step = guard.feed(0, tok)
                cpu_us.append((time.thread_time_ns() - t0) / 1000)
                received += len(tok)
                out.append(step.text)
                held.append(guard.pending(0))
                arrivals += 1
                released_at_once += guard.pending(0) == 0
                if first is None and step.text:
                    first = k
                    first_chars.append(received)
            out.append(guard.finish(0).text)
            if first is None:
                first_chars.append(received)
                first = len(tokens(text))
            first_tokens.append(first)
            mismatches += "".join(out) != text
    return {
        "bench": "holdback",
        "policy": "default",
        "vault": "one placeholder" if vault else "empty",
        "answers": len(PROSE) * repeat,
        "token_arrivals": arrivals,
        "held_chars_at_arrival": {
            "mean": round(statistics.fmean(held), 3),
            "p50": _pct(held, 0.5),
            "p90": _pct(held, 0.9),
            "p99": _pct(held, 0.99),
            "max": max(held),
        },
        "arrivals_with_nothing_held": round(released_at_once / arrivals, 4),
        # 0: the first token's text leaves with the first token; 1: with the second, ...
        "tokens_before_first_release": {
            "mean": round(statistics.fmean(first_tokens), 3),
            "p50": _pct(first_tokens, 0.5),
            "max": max(first_tokens),
        },
        "chars_received_at_first_release": {
            "mean": round(statistics.fmean(first_chars), 3),
            "p50": _pct(first_chars, 0.5),
        },
        "feed_cpu_us": {"p50": round(_pct(cpu_us, 0.5), 2), "p99": round(_pct(cpu_us, 0.99), 2)},
        "streamed_differs_from_input": mismatches,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="teecube bench holdback", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5, help="passes over the prose set (CPU figures)")
    p.add_argument("--vault", action="store_true", help="the prompt had a pseudonymized value")
    p.add_argument("--json-out", help="also write the JSON here")
    args = p.parse_args(argv)
    result = run(args.repeat, args.vault)
    text = json.dumps(result)
    print(text)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0
