"""The engine server's parsed requests keep tenant text out of repr(): a request printed by a log
line, a debugger or a traceback with locals shows no prompt or message (canary strings)."""

from __future__ import annotations

from engine.server.job import ChoiceState
from engine.server.protocol import parse_chat, parse_completion

CANARY = "CANARY-PROMPT-7f3a"


def test_chat_request_repr_shows_no_message_text() -> None:
    req = parse_chat({"model": "m", "messages": [{"role": "user", "content": CANARY}], "max_tokens": 4}, 1000)
    assert req.messages[0]["content"] == CANARY
    assert CANARY not in repr(req) and "model='m'" in repr(req)


def test_completion_request_repr_shows_no_prompt() -> None:
    req = parse_completion({"model": "m", "prompt": CANARY, "max_tokens": 4}, 1000)
    assert req.prompts == [CANARY]
    assert CANARY not in repr(req)


def test_choice_state_repr_shows_no_completion_text() -> None:
    choice = ChoiceState(text=[CANARY], logprobs=[{"token": CANARY}])
    assert CANARY not in repr(choice)


def test_engine_core_objects_repr_show_no_token_ids() -> None:
    from engine.metrics import RequestMetrics
    from engine.output_processor import RequestState, SeqState
    from engine.sampling_params import SamplingParams
    from engine.sequence import Request, Sequence

    ids = [91827, 91828, 91829]
    params = SamplingParams(max_tokens=4)
    seq = Sequence("r1", 0, list(ids), params)
    seq_state = SeqState(0, None, None, token_ids=list(ids), text=CANARY)
    request = Request("r1", list(ids), params, [seq], RequestMetrics(0.0))
    state = RequestState("r1", list(ids), params, [seq_state], RequestMetrics(0.0))
    for obj in (seq, seq_state, request, state):
        text = repr(obj)
        assert "91827" not in text and CANARY not in text, text
    assert seq.num_prompt_tokens == 3 and "r1" in repr(seq)
