"""Every field of the OpenAI request and response schemas through the proxy: scanned, or refused.

One row per field of the table in proxy/guardrails/README.md ("Fields"). The official `openai`
SDK talks to the proxy; the upstream is a small OpenAI-compatible server (`FieldUpstream`) that
records every body it receives (so the test sees exactly what reached "the model") and answers
with scripted responses carrying tool calls, reasoning, refusals and logprobs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from aiohttp import web

from tests.proxy.conftest import AppThread, ProxyThread, Tenancy, database_url_for, proxy_config

CARD = "4111 1111 1111 1111"
EMAIL = "ann.lee@corp-mail.io"
SECRETS = (CARD, "4111111111111111", EMAIL)
ARGS = json.dumps({"card": CARD, "to": "<EMAIL_1>"})


def _script(name: str) -> dict[str, Any]:
    """Scripted answers: message fields, streamed as small deltas."""
    return {
        "tool": {
            "reasoning_content": f"The card is {CARD}, so",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "pay", "arguments": ARGS}}
            ],
        },
        "refusal": {"refusal": f"I cannot use {CARD}."},
        "logprobs": {"content": f"Card {CARD} ok", "logprobs": True},
        "nofinish": {"content": f"pay {CARD}", "no_finish": True},
        "url": {"content": "Hi <EMAIL_1>, see ![p](https://img.example/<EMAIL_1>.png)"},
    }[name]


class FieldUpstream(AppThread):
    def __init__(self) -> None:
        super().__init__(self._app)
        self.bodies: list[dict[str, Any]] = []

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.complete)
        app.router.add_post("/v1/completions", self.complete)
        return app

    def body_with(self, marker: str) -> dict[str, Any]:
        found = [b for b in list(self.bodies) if marker in json.dumps(b)]
        assert len(found) == 1, f"{len(found)} upstream bodies carry {marker}"
        return found[0]

    async def complete(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        chat = request.path.endswith("/chat/completions")
        users = [m for m in body.get("messages", []) if m.get("role") == "user"]
        last = users[-1]["content"] if users else ""
        last = last if isinstance(last, str) else ""
        script = (
            _script(last.split()[0].removeprefix("script:"))
            if last.startswith("script:")
            else {"content": "ok"}
        )
        message = {
            "role": "assistant",
            **{k: v for k, v in script.items() if k not in ("logprobs", "no_finish")},
        }
        tokens = [message.get("content", "")[i : i + 3] for i in range(0, len(message.get("content", "")), 3)]
        logprobs = (
            {
                "content": [
                    {"token": t, "logprob": -0.5, "bytes": list(t.encode()), "top_logprobs": []}
                    for t in tokens
                ]
            }
            if script.get("logprobs")
            else None
        )
        finish = "tool_calls" if "tool_calls" in message else "stop"
        base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
        if not chat:
            return web.json_response(
                {
                    **base,
                    "object": "text_completion",
                    "choices": [{"index": 0, "text": "ok", "finish_reason": "stop"}],
                }
            )
        if not body.get("stream"):
            choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": logprobs}
            return web.json_response({**base, "object": "chat.completion", "choices": [choice]})
        out = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await out.prepare(request)

        async def send(delta: dict[str, Any], reason: str | None = None, lp: Any = None) -> None:
            choice = {"index": 0, "delta": delta, "finish_reason": reason}
            if lp is not None:
                choice["logprobs"] = lp
            await out.write(b"data: " + json.dumps({**base, "choices": [choice]}).encode() + b"\n\n")

        await send({"role": "assistant"})
        for key in ("reasoning_content", "refusal"):
            for i in range(0, len(message.get(key, "")), 4):
                await send({key: message[key][i : i + 4]})
        for t in tokens:
            await send(
                {"content": t},
                lp={"content": [e for e in logprobs["content"] if e["token"] == t][:1]} if logprobs else None,
            )
        for k, call in enumerate(message.get("tool_calls", [])):
            await send(
                {
                    "tool_calls": [
                        {
                            "index": k,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
            args = call["function"]["arguments"]
            for i in range(0, len(args), 5):
                await send({"tool_calls": [{"index": k, "function": {"arguments": args[i : i + 5]}}]})
        if not script.get("no_finish"):
            await send({}, finish)
        await out.write(b"data: [DONE]\n\n")
        return out


@pytest.fixture(scope="module")
def upstream() -> Iterator[FieldUpstream]:
    server = FieldUpstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def setup(upstream, log_capture, tmp_path_factory) -> Iterator[tuple[ProxyThread, Tenancy]]:
    urls = database_url_for("sqlite", tmp_path_factory, "fields")
    url = next(urls)
    t = Tenancy(url)
    for kind in ("teecube", "openai", "ollama"):
        t.deployment(f"up-{kind}", upstream.base_url, served="fake", kind=kind, credential_ref=None)
    t.domain("acme")  # the default policy: PII pseudonymized in, cards masked out
    for kind in ("teecube", "openai", "ollama"):
        t.grant("acme", kind, f"up-{kind}")
    t.key("acme", "acme")
    proxy = ProxyThread(proxy_config(url)).start()
    yield proxy, t
    proxy.stop()
    urls.close()


def _marker(*key: Any) -> str:
    """A unique word of letters only (digits could read as a card or a phone number)."""
    return "mk" + "".join(chr(97 + int(d)) for d in str(abs(hash(key))))


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


TOOL = {
    "type": "function",
    "function": {
        "name": "pay",
        "description": f"Pays for {EMAIL}",
        "parameters": {
            "type": "object",
            "properties": {
                "card": {"type": "string", "description": f"e.g. {CARD}", "enum": [CARD, "other"]},
                EMAIL: {"type": "string", "default": EMAIL},
            },
        },
    },
}
SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "r",
        "description": f"for {EMAIL}",
        "schema": {"type": "object", "properties": {"x": {"const": CARD}}},
    },
}

# (row of the README table, kwargs for chat.completions.create). Each puts a card and/or an
# e-mail address into one field; none may reach the upstream as it was.
CHAT_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("messages[].content (string)", {"messages": _user(f"pay with {CARD} for {EMAIL}")}),
    (
        "messages[].content[].text",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": f"pay with {CARD}"},
                        {"type": "text", "text": f"mail {EMAIL}"},
                    ],
                }
            ]
        },
    ),
    ("messages[].name", {"messages": [{"role": "user", "name": EMAIL, "content": "hi"}]}),
    (
        "messages[].refusal",
        {
            "messages": [
                {"role": "assistant", "content": None, "refusal": f"not {CARD}"},
                {"role": "user", "content": "ok"},
            ]
        },
    ),
    (
        "messages[].reasoning_content",
        {
            "messages": [
                {"role": "assistant", "content": "x", "reasoning_content": f"card {CARD}"},
                {"role": "user", "content": "ok"},
            ]
        },
    ),
    (
        "messages[].tool_calls[].function.arguments",
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "pay", "arguments": json.dumps({"card": CARD})},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": f"paid, receipt to {EMAIL}"},
            ]
        },
    ),
    (
        "messages[].tool_call_id",
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": EMAIL, "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": EMAIL, "content": "done"},
            ]
        },
    ),
    (
        "messages[].function_call (legacy)",
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": None,
                    "function_call": {"name": "pay", "arguments": f'{{"c": "{CARD}"}}'},
                },
                {"role": "function", "name": "pay", "content": "ok"},
            ]
        },
    ),
    (
        "split across two messages",
        {
            "messages": [
                {"role": "user", "content": "pay with 4111 1111"},
                {"role": "user", "content": "1111 1111 please"},
            ]
        },
    ),
    ("tools[] (description, parameters: enum, default, property names)", {"tools": [TOOL]}),
    ("tool_choice", {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": EMAIL}}}),
    ("functions[] (legacy)", {"extra_body": {"functions": [TOOL["function"]]}}),
    ("response_format.json_schema", {"response_format": SCHEMA}),
    ("stop", {"stop": [f"card {CARD}", EMAIL]}),
    ("user", {"user": EMAIL}),
    ("metadata (keys and values)", {"metadata": {EMAIL: f"card {CARD}"}, "store": True}),
    ("prediction.content", {"prediction": {"type": "content", "content": f"card {CARD}"}}),
    (
        "guided_json / structured_outputs (vLLM)",
        {
            "extra_body": {
                "guided_json": SCHEMA["json_schema"]["schema"],
                "structured_outputs": {"choice": [EMAIL]},
            }
        },
    ),
    ("chat_template_kwargs (vLLM)", {"extra_body": {"chat_template_kwargs": {"owner": EMAIL}}}),
    (
        "unknown fields (every string and key)",
        {"extra_body": {"x_custom": {"deep": [{"note": f"{CARD}"}], EMAIL: 1}}},
    ),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("row", "kwargs"), CHAT_ROWS, ids=[r[0] for r in CHAT_ROWS])
def test_chat_request_field_is_scanned(
    setup, upstream, row: str, kwargs: dict[str, Any], stream: bool
) -> None:
    proxy, t = setup
    marker = _marker(row, stream)
    kwargs = json.loads(json.dumps(kwargs))
    messages = kwargs.pop("messages", _user("hello"))
    messages.append({"role": "user", "content": f"{marker} end"})
    extra_body = kwargs.pop("extra_body", {})
    out = proxy.client(t.keys["acme"]).chat.completions.create(
        model="teecube", messages=messages, stream=stream, extra_body=extra_body or None, **kwargs
    )
    if stream:
        list(out)
    seen = json.dumps(upstream.body_with(marker))
    for secret in SECRETS:
        assert secret not in seen, (row, secret)
    assert "<CARD_1>" in seen or "<EMAIL_1>" in seen


COMPLETION_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("prompt (string)", {"prompt": f"pay with {CARD}"}),
    ("prompt (list of strings), split across two items", {"prompt": ["pay 4111 1111", "1111 1111 now"]}),
    ("suffix", {"prompt": "x", "suffix": f"mail {EMAIL}"}),
    ("stop", {"prompt": "x", "stop": [EMAIL]}),
    ("user", {"prompt": "x", "user": EMAIL}),
    ("unknown fields", {"prompt": "x", "extra_body": {"documents": [{"text": f"card {CARD}"}]}}),
]


@pytest.mark.parametrize(("row", "kwargs"), COMPLETION_ROWS, ids=[r[0] for r in COMPLETION_ROWS])
def test_completions_request_field_is_scanned(setup, upstream, row: str, kwargs: dict[str, Any]) -> None:
    proxy, t = setup
    marker = _marker(row)
    kwargs = json.loads(json.dumps(kwargs))
    extra_body = {**kwargs.pop("extra_body", {}), "marker": marker}
    proxy.client(t.keys["acme"]).completions.create(model="teecube", extra_body=extra_body, **kwargs)
    seen = json.dumps(upstream.body_with(marker))
    for secret in SECRETS:
        assert secret not in seen, (row, secret)
    assert "<CARD_1>" in seen or "<EMAIL_1>" in seen


REFUSED: list[tuple[str, str, dict[str, Any], str]] = [  # (row, model alias, kwargs, param)
    (
        "image_url part",
        "openai",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "https://x.example/a.png"}}],
                }
            ]
        },
        "messages[0].content[0]",
    ),
    (
        "input_audio part",
        "teecube",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
                    ],
                }
            ]
        },
        "messages[0].content[0]",
    ),
    (
        "file part",
        "ollama",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "file", "file": {"file_data": "JVBERi0=", "filename": "a.pdf"}}],
                }
            ]
        },
        "messages[0].content[0]",
    ),
    (
        "chat_template (teecube)",
        "teecube",
        {"extra_body": {"chat_template": "{{ messages }}"}},
        "chat_template",
    ),
    ("chat_template (vLLM)", "openai", {"extra_body": {"chat_template": "{{ messages }}"}}, "chat_template"),
    ("prompt_logprobs (vLLM)", "openai", {"extra_body": {"prompt_logprobs": 1}}, "prompt_logprobs"),
    ("prompt_logprobs (teecube)", "teecube", {"extra_body": {"prompt_logprobs": 0}}, "prompt_logprobs"),
    ("logit_bias with a non-token key", "teecube", {"logit_bias": {EMAIL: 5}}, "logit_bias"),
]


@pytest.mark.parametrize(("row", "alias", "kwargs", "param"), REFUSED, ids=[r[0] for r in REFUSED])
def test_fields_the_guardrails_cannot_read_are_refused(
    setup, upstream, row: str, alias: str, kwargs: dict[str, Any], param: str
) -> None:
    proxy, t = setup
    kwargs = json.loads(json.dumps(kwargs))
    before = len(upstream.bodies)
    with pytest.raises(openai.BadRequestError) as info:
        proxy.client(t.keys["acme"]).chat.completions.create(
            model=alias,
            messages=kwargs.pop("messages", _user("hi")),
            extra_body=kwargs.pop("extra_body", None),
            **kwargs,
        )
    assert info.value.status_code == 400 and info.value.code == "unsupported_field"
    assert info.value.body["param"] == param and EMAIL not in info.value.response.text
    assert len(upstream.bodies) == before


def test_chat_template_goes_to_ollama_scanned(setup, upstream) -> None:
    """Ollama does not render a request's `chat_template`: it is scanned like any unknown field."""
    proxy, t = setup
    proxy.client(t.keys["acme"]).chat.completions.create(
        model="ollama", messages=_user("tmpl-marker"), extra_body={"chat_template": f"{{# {EMAIL} #}}"}
    )
    seen = json.dumps(upstream.body_with("tmpl-marker"))
    assert EMAIL not in seen and "<EMAIL_1>" in seen


# --------------------------------------------------------------------------- response fields


def _chat_stream(client: openai.OpenAI, prompt: str, **kwargs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "content": "",
        "reasoning_content": "",
        "refusal": "",
        "args": "",
        "tokens": [],
        "finish": None,
    }
    for chunk in client.chat.completions.create(
        model="teecube", messages=_user(prompt), stream=True, **kwargs
    ):
        for c in chunk.choices:
            d = c.delta.model_dump()
            for key in ("content", "reasoning_content", "refusal"):
                out[key] += d.get(key) or ""
            for call in d.get("tool_calls") or []:
                out["args"] += (call.get("function") or {}).get("arguments") or ""
            if c.logprobs and c.logprobs.content:
                out["tokens"] += [e.token for e in c.logprobs.content]
            out["finish"] = c.finish_reason or out["finish"]
    return out


def _chat_whole(client: openai.OpenAI, prompt: str, **kwargs: Any) -> dict[str, Any]:
    resp = client.chat.completions.create(model="teecube", messages=_user(prompt), **kwargs)
    m = resp.choices[0].message.model_dump()
    lp = resp.choices[0].logprobs
    return {
        "content": m.get("content") or "",
        "reasoning_content": m.get("reasoning_content") or "",
        "refusal": m.get("refusal") or "",
        "args": "".join(c["function"]["arguments"] for c in m.get("tool_calls") or []),
        "tokens": [e.token for e in lp.content] if lp and lp.content else [],
        "finish": resp.choices[0].finish_reason,
    }


RESPONSE_ROWS = [  # (row, prompt, field, expected text)
    (
        "tool_calls[].function.arguments (restored inside)",
        f"script:tool {EMAIL}",
        "args",
        json.dumps({"card": "[CARD]", "to": EMAIL}),
    ),
    ("reasoning_content", "script:tool", "reasoning_content", "The card is [CARD], so"),
    ("refusal", "script:refusal", "refusal", "I cannot use [CARD]."),
    (
        "content: placeholders not restored inside URLs",
        f"script:url {EMAIL}",
        "content",
        f"Hi {EMAIL}, see ![p](https://img.example/<EMAIL_1>.png)",
    ),
    (
        "logprobs.content[].token (tokens of a masked value dropped)",
        "script:logprobs",
        "tokens",
        ["Car", " ok"],
    ),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("row", "prompt", "field", "expected"), RESPONSE_ROWS, ids=[r[0] for r in RESPONSE_ROWS]
)
def test_response_field_is_guarded(
    setup, row: str, prompt: str, field: str, expected: Any, stream: bool
) -> None:
    proxy, t = setup
    client = proxy.client(t.keys["acme"])
    kwargs = {"logprobs": True} if field == "tokens" else {}
    got = (_chat_stream if stream else _chat_whole)(client, prompt, **kwargs)
    assert got[field] == expected
    assert CARD not in json.dumps(got) and "1111" not in json.dumps(got)


def test_a_stream_that_ends_without_finish_reason_delivers_its_scanned_tail(setup) -> None:
    proxy, t = setup
    got = _chat_stream(proxy.client(t.keys["acme"]), "script:nofinish")
    assert got["content"] == "pay [CARD]" and got["finish"] is None


def test_no_field_value_in_the_proxys_logs(setup, log_capture) -> None:
    """Every request above carried a card or an address in some field; none reached a log line."""
    proxy, t = setup
    with pytest.raises(openai.BadRequestError):  # a refusal path logs at most the field name
        proxy.client(t.keys["acme"]).chat.completions.create(
            model="teecube", messages=_user(f"hi {EMAIL}"), logit_bias={EMAIL: 1})
    logged = "\n".join(log_capture.lines)
    assert logged  # the proxy logged these requests
    for secret in (*SECRETS, "4111 11", "ann.lee"):
        assert secret not in logged
