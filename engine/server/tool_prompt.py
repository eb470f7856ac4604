"""Tools for chat templates that know nothing of tools (e.g. SmolLM2's plain ChatML): the Hermes /
Qwen convention written into the messages themselves. The tool list goes into the system message,
replayed calls into the assistant text as `<tool_call>` blocks, and tool results into user turns as
`<tool_response>` blocks, which is what the hermes parser reads back."""

from __future__ import annotations

import json
from typing import Any

TOOLS_PREAMBLE = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
TOOLS_FORMAT = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)


def template_knows_tools(template: str | None) -> bool:
    return template is not None and "tool" in template


def needs_tool_prompt(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> bool:
    return bool(tools) or any(m["role"] == "tool" or m.get("tool_calls") for m in messages)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _call_block(call: dict[str, Any]) -> str:
    fn = call["function"]
    args = fn["arguments"]
    args_text = args if isinstance(args, str) else _dumps(args)
    return f'<tool_call>\n{{"name": {_dumps(fn["name"])}, "arguments": {args_text}}}\n</tool_call>'


def with_tool_prompt(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if tools:
        listing = TOOLS_PREAMBLE + "\n".join(_dumps(t) for t in tools) + TOOLS_FORMAT
        if messages and messages[0]["role"] == "system":
            listing = messages[0]["content"] + "\n\n" + listing
            messages = messages[1:]
        out.append({"role": "system", "content": listing})
    for m in messages:
        if m["role"] == "assistant" and m.get("tool_calls"):
            blocks = "\n".join(_call_block(c) for c in m["tool_calls"])
            text = f"{m['content']}\n{blocks}" if m["content"] else blocks
            out.append({"role": "assistant", "content": text})
        elif m["role"] == "tool":
            response = f"<tool_response>\n{m['content']}\n</tool_response>"
            if out and out[-1]["role"] == "user" and out[-1].get("_tool_response"):
                out[-1]["content"] += "\n" + response
            else:
                out.append({"role": "user", "content": response, "_tool_response": True})
        else:
            out.append({"role": m["role"], "content": m["content"]})
    return [{"role": m["role"], "content": m["content"]} for m in out]
