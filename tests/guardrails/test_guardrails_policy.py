"""Policy schema: clear errors naming the field, re2-only operator patterns, cache by (domain, version)."""

from __future__ import annotations

import pytest

from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.guardrails import PolicyCache, PolicyConfigError, compile_policy
from proxy.guardrails import policy as policy_module
from proxy.guardrails.scan import transform


def rule(**fields: object) -> dict:
    return {"version": 1, "rules": [{"id": "r", "scanner": "regex", "input": "mask", **fields}]}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ([], ""),
        ({"rules": []}, "version"),
        ({"version": 2, "rules": []}, "version"),
        ({"version": 1, "rules": [], "extra": 1}, "extra"),
        ({"version": 1, "rules": {}}, "rules"),
        ({"version": 1, "rules": [{"id": "Bad Id!", "scanner": "email"}]}, "rules[0].id"),
        ({"version": 1, "rules": [{"id": "a", "scanner": "emial"}]}, "rules[0].scanner"),
        ({"version": 1, "rules": [{"id": "a", "scanner": "email", "input": "drop"}]}, "rules[0].input"),
        (
            {"version": 1, "rules": [{"id": "a", "scanner": "email", "output": "pseudonymize"}]},
            "rules[0].output",
        ),
        (
            {"version": 1, "rules": [{"id": "a", "scanner": "email"}, {"id": "a", "scanner": "card"}]},
            "rules[1].id",
        ),
        ({"version": 1, "rules": [{"id": "a", "scanner": "email", "pattern": "x"}]}, "rules[0].pattern"),
        (
            {"version": 1, "rules": [{"id": "a", "scanner": "injection", "output": "block"}]},
            "rules[0].output",
        ),
        (
            {"version": 1, "rules": [{"id": "a", "scanner": "injection", "threshold": 0}]},
            "rules[0].threshold",
        ),
        ({"version": 1, "rules": [{"id": "a", "scanner": "topic", "keywords": []}]}, "rules[0].keywords"),
        (
            {"version": 1, "rules": [{"id": "a", "scanner": "substring", "values": ["ok", ""]}]},
            "rules[0].values[1]",
        ),
        ({"version": 1, "rules": [{"id": "a", "scanner": "email", "label": "lower"}]}, "rules[0].label"),
        ({"version": 1, "rules": [], "limits": {"max_input_chars": -1}}, "limits.max_input_chars"),
        (
            {
                "version": 1,
                "rules": [],
                "classifier": {
                    "url": "http://g/v1/chat/completions",
                    "model": "g",
                    "timeout_ms": 500,
                    "fail_mode": "maybe",
                },
            },
            "classifier.fail_mode",
        ),
        (
            {
                "version": 1,
                "rules": [],
                "classifier": {"url": "http://g/v1", "deployment": "guard", "model": "g", "timeout_ms": 5},
            },
            "classifier.deployment",
        ),
        ({"version": 1, "rules": [], "classifier": {"timeout_ms": 5}}, "classifier.deployment"),
        (
            {"version": 1, "rules": [], "classifier": {"url": "http://g/v1", "timeout_ms": 5}},
            "classifier.model",
        ),
        (
            {
                "version": 1,
                "rules": [],
                "classifier": {
                    "deployment": "g",
                    "timeout_ms": 5,
                    "preamble": [{"role": "tool", "content": "x"}],
                },
            },
            "classifier.preamble[0].role",
        ),
        (
            {
                "version": 1,
                "rules": [],
                "classifier": {
                    "url": "file:///etc/passwd",
                    "model": "g",
                    "timeout_ms": 5,
                    "fail_mode": "open",
                },
            },
            "classifier.url",
        ),
        (rule(), "rules[0].pattern"),
        (rule(pattern="(a)\\1"), "rules[0].pattern"),  # backreference: not re2
        (rule(pattern="foo(?=bar)"), "rules[0].pattern"),  # lookahead: not re2
        (rule(pattern="(a+)+$"), "rules[0].pattern"),  # unbounded
        (rule(pattern="[a-z]*"), "rules[0].pattern"),  # unbounded, and matches empty
        (rule(pattern="x?"), "rules[0].pattern"),  # matches empty
        (rule(pattern="a{1,600}"), "rules[0].pattern"),  # longer than the hold-back allows
    ],
)
def test_errors_name_the_field(config: object, field: str) -> None:
    with pytest.raises(PolicyConfigError) as info:
        compile_policy(config)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_operator_pattern_runs_linearly_on_adversarial_input() -> None:
    # (a|aa){1,30}c backtracks exponentially in a backtracking engine; re2 runs it in linear time.
    policy = compile_policy(rule(pattern="(a|aa){1,30}c"))
    assert transform(policy.input, "a" * 50_000, "input", None).fired == []
    assert transform(policy.input, "xaac", "input", None).text == "x[REDACTED]"


def test_cache_by_domain_and_version() -> None:
    cache = PolicyCache(maxsize=2)
    config = {"version": 1, "rules": [{"id": "e", "scanner": "email", "input": "mask"}]}
    first = cache.get("acme", 1, config)
    assert cache.get("acme", 1, {"version": 1, "rules": []}) is first  # versions are immutable
    assert cache.get("acme", 2, config) is not first and cache.get("beta", 1, config) is not first
    assert len(cache) == 2  # least recently used evicted


def test_windows_and_defaults_of_compiled_rules() -> None:
    policy = compile_policy(
        {
            "version": 1,
            "rules": [
                {"id": "m", "scanner": "card", "input": "mask", "output": "mask", "replacement": "****"},
                {"id": "i", "scanner": "invisible", "input": "mask"},
            ],
        }
    )
    assert [r.id for r in policy.input.rules] == ["m", "i"]
    assert [r.id for r in policy.output.rules] == ["", "m"]  # "" is the placeholder-restore rule
    assert transform(policy.input, "4111111111111111\u200b", "input", None).text == "****"


def test_rules_still_run_when_the_prefilter_set_cannot_compile(monkeypatch) -> None:
    class OverBudget:
        def Add(self, pattern: str) -> None:
            pass

        def Compile(self) -> None:  # google-re2 raises when the Set is over its memory budget
            raise policy_module.re2.error("failed to compile Set")

    monkeypatch.setattr(policy_module.re2.Set, "SearchSet", lambda options: OverBudget())
    policy = compile_policy({"version": 1, "rules": [{"id": "c", "scanner": "card", "input": "mask"}]})
    assert transform(policy.input, "card 4111111111111111", "input", None).text == "card [CARD]"


def test_the_prefilter_is_the_compiled_set() -> None:
    # Only the rules whose pattern occurs in the text are run (not all of them on every text).
    policy = compile_policy(DEFAULT_GUARDRAIL_POLICY)
    assert policy.input.prefilter.Match(b"plain words only, nothing to find") == []
    ids = [policy.input.view_rules[i].id for i in policy.input.prefilter.Match(b"mail bob@example.com")]
    assert "pii.email" in ids and "secret.private_key" not in ids
    assert ids == [r.id for r in policy.input.view_rules if r.id in ids]  # in rule order
