"""The streaming invariant the output-guard tests share: a text fed at given cuts releases only
prefixes of the whole-text result and ends equal to it (text, blocking rule, rule ids and counts)."""

from __future__ import annotations

from proxy.guardrails import CompiledPolicy, OutputGuard, Vault


def stream_checked(policy: CompiledPolicy, vault: Vault | None, text: str, cuts: list[int]) -> None:
    whole_guard = OutputGuard(policy, vault)
    whole = whole_guard.apply_full(text)
    guard, out, blocked, pos = OutputGuard(policy, vault), "", None, 0
    for cut in [*cuts, len(text)]:
        step = guard.feed(0, text[pos:cut])
        pos = cut
        out += step.text
        assert whole.text.startswith(out)
        if step.blocked_rule:
            blocked = step.blocked_rule
            break
    else:
        step = guard.finish(0)
        out += step.text
        blocked = step.blocked_rule
    assert (out, blocked) == (whole.text, whole.blocked_rule)
    assert guard.rule_ids == whole.rule_ids
    assert guard.counts == whole_guard.counts
