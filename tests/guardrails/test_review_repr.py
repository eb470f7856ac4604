"""The guardrails' intermediate objects keep tenant text out of repr(): a finding's value, rendered
and released text, a stream's held text, a token-id prompt (canary strings). A log line, a debugger
or a traceback with locals prints none of it."""

from __future__ import annotations

from proxy.guard import CheckedInput
from proxy.guardrails.output import GuardDelta, _Choice
from proxy.guardrails.scan import Hit, Rendered
from proxy.guardrails.token_prompts import IdPrompt

CANARY = "CANARY-TEXT-51c2"


def test_guardrail_objects_repr_show_no_tenant_text() -> None:
    objects = [
        GuardDelta(CANARY, "pii.email", ["pii.email"]),
        Rendered(CANARY, None, []),
        Hit(None, 0, len(CANARY), CANARY),  # type: ignore[arg-type]  # the rule does not matter here
        _Choice(raw=CANARY, view=CANARY, ctx=CANARY[-1]),
        IdPrompt(("prompt",), [51234, 51235]),
        CheckedInput({"messages": [{"role": "user", "content": CANARY}]}, None),
    ]
    for obj in objects:
        text = repr(obj)
        assert CANARY not in text and "51234" not in text, text
    assert GuardDelta(CANARY).text == CANARY and tuple(GuardDelta(CANARY)) == (CANARY, None)
