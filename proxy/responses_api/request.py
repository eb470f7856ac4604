"""A Responses API request (`POST /v1/responses`) as the chat completion the upstream runs.

Stateless: nothing is stored, so `previous_response_id`, `conversation`, item references and
background runs are refused; `store` is accepted and has no effect (the answer says `store: false`).
Function tools only; text input only (guardrails cannot read images or files, as on chat). Each
refusal names the field as the Responses API spells it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from proxy.errors import ApiError, bad_request

# fields with no effect here (hints for OpenAI's own service), accepted as the SDKs send them
IGNORED = ("store", "service_tier", "prompt_cache_key", "safety_identifier", "reasoning", "stream_options",
           "prompt_cache_retention")
# fields of a stateful or hosted service this appliance does not offer
UNSUPPORTED = ("previous_response_id", "conversation", "prompt", "background", "max_tool_calls",
               "top_logprobs", "context_management")
KNOWN = ("model", "input", "instructions", "max_output_tokens", "temperature", "top_p", "tools",
         "tool_choice", "parallel_tool_calls", "text", "stream", "metadata", "user", "truncation", "include",
         *IGNORED, *UNSUPPORTED)
MAX_METADATA = 16
TEXT_PART_TYPES = ("input_text", "output_text", "text")
UNREADABLE_PART_TYPES = ("input_image", "input_file", "input_audio", "image_url", "file")


@dataclass(slots=True)
class Echo:
    """What the answer repeats of the request (OpenAI's Response object carries it)."""

    instructions: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True
    text_format: dict[str, Any] = field(default_factory=lambda: {"type": "text"})
    metadata: dict[str, str] = field(default_factory=dict)
    user: str | None = None


def to_chat(body: dict[str, Any]) -> tuple[dict[str, Any], Echo]:
    """(the chat completion body, what the Response echoes); 400 for what cannot be served."""
    for name in body:
        if name not in KNOWN:
            shown = name if len(name) <= 64 and name.isprintable() else "(a long or unprintable name)"
            raise bad_request(f"Unrecognized request argument supplied: {shown}", param=shown,
                              code="unknown_parameter")
    if body.get("top_logprobs") is not None:
        raise bad_request("`top_logprobs` is not supported here: use /v1/chat/completions for logprobs.",
                          param="top_logprobs", code="unsupported_parameter")
    for name in UNSUPPORTED:
        if body.get(name) is not None:
            raise bad_request(f"`{name}` is not supported: this server keeps no responses and runs no "
                              "hosted features.", param=name, code="unsupported_parameter")
    echo = Echo()
    chat: dict[str, Any] = {"model": body.get("model")}
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        echo.instructions = _string(instructions, "instructions")
        messages.append({"role": "system", "content": instructions})
    if "input" not in body:
        raise bad_request("You must provide an input.", param="input", code="missing_required_parameter")
    messages += _messages(body["input"])
    chat["messages"] = messages
    _sampling(body, chat, echo)
    _tools(body, chat, echo)
    _text_format(body, chat, echo)
    _misc(body, chat, echo)
    return chat, echo


def _messages(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise bad_request("`input` must be a string or a non-empty array of input items.", param="input",
                          code="invalid_type")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"`{where}` must be an object.", param=where, code="invalid_type")
        kind = item.get("type", "message")
        if kind == "message":
            out.append(_message(item, where))
        elif kind == "function_call":
            call = {"id": _string(item.get("call_id"), f"{where}.call_id"), "type": "function",
                    "function": {"name": _string(item.get("name"), f"{where}.name"),
                                 "arguments": _string(item.get("arguments"), f"{where}.arguments")}}
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)  # its text and parallel calls: one turn
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else _text_parts(output, f"{where}.output")
            out.append({"role": "tool", "tool_call_id": _string(item.get("call_id"), f"{where}.call_id"),
                        "content": text})
        elif kind == "item_reference":
            raise bad_request(f"`{where}`: item references need stored responses, which this server does "
                              "not keep: send the item itself.", param=where, code="unsupported_parameter")
        else:
            raise bad_request(f"`{where}.type`: {str(kind)[:40]!r} items are not supported (messages, "
                              "function_call and function_call_output are).", param=f"{where}.type",
                              code="unsupported_parameter")
    return out


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "system", "developer", "assistant"):
        raise bad_request(f"`{where}.role` must be one of user, system, developer, assistant.",
                          param=f"{where}.role", code="invalid_value")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    return {"role": role, "content": _text_parts(content, f"{where}.content")}


def _text_parts(parts: Any, where: str) -> list[dict[str, str]]:
    """Content parts (input_text / output_text) as chat text parts: the server joins them as it does
    a chat request's."""
    if not isinstance(parts, list):
        raise bad_request(f"`{where}` must be a string or an array of content parts.", param=where,
                          code="invalid_type")
    texts = []
    for j, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in UNREADABLE_PART_TYPES:
            raise bad_request("Guardrails cannot inspect image, audio, video or file content: send text "
                              "only.", param=f"{where}[{j}]", code="unsupported_content")
        if kind not in TEXT_PART_TYPES or not isinstance(part.get("text"), str):
            raise bad_request(f"`{where}[{j}]` must be a text part (input_text or output_text with a "
                              "`text`).", param=f"{where}[{j}]", code="invalid_type")
        texts.append({"type": "text", "text": part["text"]})
    return texts


def _sampling(body: dict[str, Any], chat: dict[str, Any], echo: Echo) -> None:
    limit = body.get("max_output_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise bad_request("`max_output_tokens` must be a positive integer.", param="max_output_tokens",
                              code="invalid_value")
        chat["max_tokens"] = echo.max_output_tokens = limit
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad_request(f"`{name}` must be a number.", param=name, code="invalid_type")
            chat[name] = value
            setattr(echo, name, float(value))


def _tools(body: dict[str, Any], chat: dict[str, Any], echo: Echo) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise bad_request("`tools` must be an array.", param="tools", code="invalid_type")
        converted = []
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or tool.get("type") != "function":
                kind = tool.get("type") if isinstance(tool, dict) else None
                raise bad_request(f"`tools[{i}]`: only function tools are supported, not {str(kind)[:40]!r}.",
                                  param=f"tools[{i}].type", code="unsupported_parameter")
            function = {"name": _string(tool.get("name"), f"tools[{i}].name")}
            for key in ("description", "parameters", "strict"):
                if tool.get(key) is not None:
                    function[key] = tool[key]
            converted.append({"type": "function", "function": function})
            echo.tools.append({"type": "function", "name": function["name"],
                               "description": function.get("description"),
                               "parameters": function.get("parameters"), "strict": function.get("strict")})
        if converted:
            chat["tools"] = converted
    choice = body.get("tool_choice")
    if choice is not None:
        if choice in ("auto", "none", "required"):
            chat["tool_choice"] = choice
        elif isinstance(choice, dict) and choice.get("type") == "function":
            chat["tool_choice"] = {"type": "function",
                                   "function": {"name": _string(choice.get("name"), "tool_choice.name")}}
        else:
            raise bad_request("`tool_choice` must be auto, none, required or {type: function, name}.",
                              param="tool_choice", code="invalid_value")
        echo.tool_choice = choice
    parallel = body.get("parallel_tool_calls")
    if parallel is not None:
        if not isinstance(parallel, bool):
            raise bad_request("`parallel_tool_calls` must be a boolean.", param="parallel_tool_calls",
                              code="invalid_type")
        chat["parallel_tool_calls"] = echo.parallel_tool_calls = parallel


def _text_format(body: dict[str, Any], chat: dict[str, Any], echo: Echo) -> None:
    text = body.get("text")
    if text is None:
        return
    if not isinstance(text, dict) or set(text) - {"format", "verbosity"}:
        raise bad_request("`text` must be an object with a `format`.", param="text", code="invalid_type")
    fmt = text.get("format")
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise bad_request("`text.format.schema` must be a JSON Schema object.",
                              param="text.format.schema", code="invalid_type")
        schema = {"name": _string(fmt.get("name"), "text.format.name"), "schema": fmt["schema"]}
        for key in ("strict", "description"):
            if fmt.get(key) is not None:
                schema[key] = fmt[key]
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif kind != "text":
        raise bad_request("`text.format.type` must be text, json_object or json_schema.",
                          param="text.format.type", code="invalid_value")
    echo.text_format = fmt


def _misc(body: dict[str, Any], chat: dict[str, Any], echo: Echo) -> None:
    for name, kind, what in (("store", bool, "a boolean"), ("reasoning", dict, "an object"),
                             ("stream_options", dict, "an object")):
        if body.get(name) is not None and not isinstance(body[name], kind):
            raise bad_request(f"`{name}` must be {what}.", param=name, code="invalid_type")
    if body.get("stream") is not None:
        chat["stream"] = body["stream"]  # checked by the chat route
    user = body.get("user")
    if user is not None:
        chat["user"] = echo.user = _string(user, "user")
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict) or len(metadata) > MAX_METADATA or not all(
            isinstance(k, str) and len(k) <= 64 and isinstance(v, str) and len(v) <= 512
            for k, v in metadata.items()
        ):
            raise bad_request(f"`metadata` must map at most {MAX_METADATA} keys (64 characters) to strings "
                              "(512 characters).", param="metadata", code="invalid_value")
        echo.metadata = metadata
    truncation = body.get("truncation")
    if truncation not in (None, "disabled"):
        raise bad_request("`truncation` must be disabled: an input over the context is an error here.",
                          param="truncation", code="unsupported_parameter")
    include = body.get("include")
    if include not in (None, []):
        raise bad_request("`include` is not supported (no logprobs, reasoning or hosted-tool outputs).",
                          param="include", code="unsupported_parameter")


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or (not value and not where.endswith("arguments")):
        raise bad_request(f"`{where}` must be a non-empty string.", param=where, code="invalid_type")
    return value


# what the chat route calls a field, as the Responses API calls it (400s the upstream gives)
_PARAMS = (
    (re.compile(r"^response_format\.json_schema\."), "text.format."),
    (re.compile(r"^response_format"), "text.format"),
    (re.compile(r"^tools\[(\d+)\]\.function\."), r"tools[\1]."),
    (re.compile(r"^tool_choice\.function\."), "tool_choice."),
    (re.compile(r"^max_tokens$"), "max_output_tokens"),
    (re.compile(r"^messages(\[\d+\])?(\..*)?$"), "input"),
)


def responses_param(param: str | None) -> str | None:
    """The Responses API's name for a chat completion's request field."""
    if param is None:
        return None
    for pattern, replacement in _PARAMS:
        if pattern.search(param):
            return pattern.sub(replacement, param)
    return param


def renamed(err: ApiError) -> ApiError:
    """`err` naming fields as the Responses API does (its message too: "`max_tokens` is ...",
    "response_format.json_schema.schema: ...")."""
    new = responses_param(err.param)
    if err.param is None or new is None or new == err.param:
        return err
    quoted = f"`{err.param}`"
    if quoted in err.message:
        err.message = err.message.replace(quoted, f"`{new}`")
    elif err.message.startswith(err.param):
        err.message = new + err.message[len(err.param):]
    err.param = new
    return err
