"""The streaming invariant the output-guard tests share: a text fed at given cuts releases only
prefixes of the whole-text result and ends equal to it (text, blocking rule, rule ids, counts and the
spans it changed). `divergence` says what differs (the fuzzer minimises on it), `stream_checked`
asserts there is nothing."""

from __future__ import annotations

from collections.abc import Callable

from proxy.guardrails import CompiledPolicy, OutputGuard, Vault


def divergence(
    policy: CompiledPolicy, make_vault: Callable[[], Vault | None], text: str, cuts: list[int]
) -> str | None:
    """None when streaming `text` at `cuts` agrees with the whole-text scan, else what differs (for a
    test failure message: test texts only, never real completions). make_vault: each guard's vault."""
    whole_guard = OutputGuard(policy, make_vault())
    whole = whole_guard.apply_full(text)
    guard, out, blocked, pos = OutputGuard(policy, make_vault()), "", None, 0
    changed: list[tuple[int, int]] = []
    for cut in [*cuts, len(text)]:
        step = guard.feed(0, text[pos:cut])
        pos = cut
        out += step.text
        changed += step.changed
        if not whole.text.startswith(out):
            return f"release at {cut} is not a prefix: {out[-60:]!r}"
        if step.blocked_rule:
            blocked = step.blocked_rule
            break
    else:
        step = guard.finish(0)
        out += step.text
        blocked = step.blocked_rule
        changed += step.changed
    if (out, blocked) != (whole.text, whole.blocked_rule):
        return f"text/block differ: streamed {blocked!r} {out!r} whole {whole.blocked_rule!r} {whole.text!r}"
    if guard.rule_ids != whole.rule_ids:
        return f"rule ids differ: streamed {guard.rule_ids} whole {whole.rule_ids}"
    if guard.counts != whole_guard.counts:
        return f"counts differ: streamed {dict(guard.counts)} whole {dict(whole_guard.counts)}"
    if sorted(set(changed)) != sorted(set(whole.changed)):  # logprobs drop the tokens of these spans
        return f"changed spans differ: streamed {changed} whole {whole.changed}"
    return None


def stream_checked(policy: CompiledPolicy, vault: Vault | None, text: str, cuts: list[int]) -> None:
    """divergence with one vault shared by both guards."""
    problem = divergence(policy, lambda: vault, text, cuts)
    assert problem is None, problem
