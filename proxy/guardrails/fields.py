"""Every field of a request that carries text, and the fields guardrails refuse.

`collect(body, route, kind)` walks the whole body: nothing passes unseen. Text slots come in two
groups, each scanned as one joined text (so a value split across two messages, two prompt items
or two schema strings is still one finding):

- the conversation as the model reads it, in order: per message its `name`, `content` (a string
  or the text of each part), `refusal`, `reasoning_content`, and its tool calls' names and
  arguments; the completions `prompt` (strings) and `suffix`; embedding `input` strings;
- every other string leaf of the body and every key of every object (tools and their JSON
  schemas, `response_format`, `stop`, `user`, `metadata`, `tool_call_id`, fields nobody here
  knows, ...), except the top-level `model` (the proxy replaces it).

Refused (400 naming the field): content the proxy cannot read as text (image, audio, video and
file parts, `prompt_embeds`), a tenant-supplied `chat_template` for the upstream kinds that
render it, vLLM's `prompt_logprobs` (its answer is text the output rules do not read),
`logit_bias` keys that are not token ids, and token-id prompts when the policy says so. The table
in README.md lists every field of the OpenAI schemas and its treatment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Content parts that carry no text the guardrails can read: refused for every upstream kind.
BINARY_PARTS = frozenset({"image_url", "input_image", "input_audio", "audio_url", "video_url", "file",
                          "input_file"})
# Request fields refused for the upstream kinds that would use them (teecube engine, vLLM or any
# OpenAI-compatible server = "openai", Ollama = "ollama"; None: unknown, refuse).
REFUSED_FOR: dict[str, frozenset[str | None]] = {
    "chat_template": frozenset({"teecube", "openai", None}),  # a template is prompt text and code
    "prompt_embeds": frozenset({"teecube", "openai", "ollama", None}),  # tensors, not text
    "multi_modal_data": frozenset({"teecube", "openai", "ollama", None}),
    "images": frozenset({"teecube", "openai", "ollama", None}),  # Ollama's native image list
    # vLLM's prompt_logprobs: the response would carry the model's top alternatives at every prompt
    # position as decoded text, a field the output rules do not read (echo with logprobs is guarded)
    "prompt_logprobs": frozenset({"teecube", "openai", None}),
}
CONVERSATION_MESSAGE_FIELDS = ("name", "content", "refusal", "reasoning_content", "reasoning")
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Slot:
    """A string in the body: `path` leads to it; `key` marks an object key (renamed when masked)."""

    path: tuple[Any, ...]
    text: str
    key: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    param: str
    message: str


@dataclass(slots=True)
class Fields:
    conversation: list[Slot] = field(default_factory=list)
    other: list[Slot] = field(default_factory=list)
    token_ids: int = 0
    refusal: Refusal | None = None


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal


def param_name(path: tuple[Any, ...]) -> str:
    """`messages[1].content[0]` style, as OpenAI names a parameter."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _walk(node: Any, path: tuple[Any, ...], out: list[Slot], skip: set[tuple[Any, ...]], depth: int) -> None:
    if path in skip:
        return
    if depth > MAX_DEPTH:
        raise _Refused(Refusal("", "The request body is nested too deeply."))  # keys are tenant text
    if isinstance(node, str):
        out.append(Slot(path, node))
    elif isinstance(node, dict):
        for k, v in node.items():
            out.append(Slot((*path, k), str(k), key=True))
            _walk(v, (*path, k), out, skip, depth + 1)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk(v, (*path, i), out, skip, depth + 1)


def _message_slots(messages: Any, conv: list[Slot], skip: set[tuple[Any, ...]]) -> None:
    for m, message in enumerate(messages if isinstance(messages, list) else ()):
        if not isinstance(message, dict):
            continue
        base = ("messages", m)
        for name in CONVERSATION_MESSAGE_FIELDS:
            value = message.get(name)
            if isinstance(value, str):
                conv.append(Slot((*base, name), value))
                skip.add((*base, name))
            elif name == "content" and isinstance(value, list):
                for p, part in enumerate(value):
                    if not isinstance(part, dict):
                        continue
                    kind = part.get("type")
                    if kind in BINARY_PARTS or any(k in part for k in BINARY_PARTS):
                        raise _Refused(Refusal(
                            param_name((*base, "content", p)),
                            "Guardrails cannot inspect image, audio, video or file content: send text only.",
                        ))
                    for text_key in ("text", "refusal"):
                        if isinstance(part.get(text_key), str):
                            conv.append(Slot((*base, "content", p, text_key), part[text_key]))
                            skip.add((*base, "content", p, text_key))
        calls = message.get("tool_calls")
        for c, call in enumerate(calls if isinstance(calls, list) else ()):
            fn = call.get("function") if isinstance(call, dict) else None
            for key in ("name", "arguments"):
                if isinstance(fn, dict) and isinstance(fn.get(key), str):
                    path = (*base, "tool_calls", c, "function", key)
                    conv.append(Slot(path, fn[key]))
                    skip.add(path)
        fn = message.get("function_call")
        for key in ("name", "arguments"):
            if isinstance(fn, dict) and isinstance(fn.get(key), str):
                path = (*base, "function_call", key)
                conv.append(Slot(path, fn[key]))
                skip.add(path)


def _prompt_slots(body: dict, key: str, conv: list[Slot], skip: set[tuple[Any, ...]]) -> int:
    """Strings of `prompt`/`input` go to the conversation; token ids are counted."""
    value = body.get(key)
    token_ids = 0
    if isinstance(value, str):
        conv.append(Slot((key,), value))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                conv.append(Slot((key, i), item))
            elif isinstance(item, int):
                token_ids += 1
            elif isinstance(item, list):
                token_ids += sum(1 for t in item if isinstance(t, int))
                if not all(isinstance(t, int) for t in item):
                    raise _Refused(Refusal(f"{key}[{i}]", "Token-id lists may hold integers only."))
    else:
        return 0
    skip.add((key,))
    return token_ids


def _check_logit_bias(body: dict) -> None:
    bias = body.get("logit_bias")
    if bias is None:
        return
    if not isinstance(bias, dict):
        raise _Refused(Refusal("logit_bias", "`logit_bias` must map token ids to numbers."))
    for k, v in bias.items():
        if not str(k).lstrip("-").isdigit() or isinstance(v, bool) or not isinstance(v, int | float):
            raise _Refused(Refusal("logit_bias", "`logit_bias` must map token ids to numbers."))


def collect(body: dict, route: str, kind: str | None, *, refuse_token_ids: bool = False) -> Fields:
    """The text slots of a request body, or the reason it is refused."""
    fields = Fields()
    skip: set[tuple[Any, ...]] = {("model",)}
    try:
        for name, kinds in REFUSED_FOR.items():
            if name in body and kind in kinds:
                raise _Refused(Refusal(name, f"`{name}` is not accepted through the guardrails."))
        _check_logit_bias(body)
        if body.get("logit_bias") is not None:
            skip.add(("logit_bias",))  # token ids and numbers: no text
        if route == "chat":
            _message_slots(body.get("messages"), fields.conversation, skip)
        elif route == "completions":
            fields.token_ids = _prompt_slots(body, "prompt", fields.conversation, skip)
            if isinstance(body.get("suffix"), str):
                fields.conversation.append(Slot(("suffix",), body["suffix"]))
                skip.add(("suffix",))
        elif route == "embeddings":
            fields.token_ids = _prompt_slots(body, "input", fields.conversation, skip)
        else:
            raise ValueError(f"unknown route {route!r}")
        if fields.token_ids and refuse_token_ids:
            name = "input" if route == "embeddings" else "prompt"
            raise _Refused(Refusal(name, "Token-id prompts cannot be scanned by the guardrails: send text."))
        _walk(body, (), fields.other, skip, 0)
    except _Refused as refused:
        fields.refusal = refused.refusal
    fields.other = [s for s in fields.other if s.path != ("model",)]
    return fields
