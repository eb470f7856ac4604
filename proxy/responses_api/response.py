"""A chat completion (already through the output guardrails) as a Responses API `Response` object."""

from __future__ import annotations

import time
import uuid
from typing import Any

from proxy.responses_api.request import Echo
from proxy.tokens import usage_count

# chat finish_reason -> (Response status, incomplete_details.reason)
_FINISH = {
    "length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def skeleton(echo: Echo, alias: str, response_id: str, created_at: int | None = None) -> dict[str, Any]:
    """A Response with no output yet (status in_progress): what a stream's first events carry."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at if created_at is not None else int(time.time()),
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "instructions": echo.instructions,
        "max_output_tokens": echo.max_output_tokens,
        "model": alias,
        "output": [],
        "parallel_tool_calls": echo.parallel_tool_calls,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": echo.temperature if echo.temperature is not None else 1.0,
        "text": {"format": echo.text_format},
        "tool_choice": echo.tool_choice,
        "tools": echo.tools,
        "top_p": echo.top_p if echo.top_p is not None else 1.0,
        "truncation": "disabled",
        "usage": None,
        "user": echo.user,
        "metadata": echo.metadata,
    }


def finish(response: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    """`response` with the status a chat finish_reason gives."""
    status, reason = _FINISH.get(finish_reason or "", ("completed", None))
    response["status"] = status
    response["incomplete_details"] = {"reason": reason} if reason else None
    return response


def usage(chat_usage: Any) -> dict[str, Any] | None:
    """Chat usage as Responses usage (input/output tokens), or None."""
    if not isinstance(chat_usage, dict):
        return None
    prompt = usage_count(chat_usage.get("prompt_tokens"))
    completion = usage_count(chat_usage.get("completion_tokens"))
    details = chat_usage.get("prompt_tokens_details")
    cached = usage_count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def message_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    return {"type": "message", "id": item_id, "status": status, "role": "assistant",
            "content": [text_part(text)]}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": arguments,
            "status": status}


def from_chat(payload: dict[str, Any], echo: Echo, alias: str) -> dict[str, Any]:
    """The Response for a whole chat completion (one choice: the Responses API has no `n`)."""
    response = skeleton(echo, alias, new_id("resp"), payload.get("created") if
                        type(payload.get("created")) is int else None)
    choices = payload.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    content = message.get("content")
    calls = message.get("tool_calls") if isinstance(message.get("tool_calls"), list) else []
    finish_reason = choice.get("finish_reason")
    text = content if isinstance(content, str) else ""
    if text or not calls:  # no text and no call: an empty message
        response["output"].append(message_item(new_id("msg"), text, "completed"))
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        response["output"].append(call_item(
            new_id("fc"), str(call.get("id") or new_id("call")), str(function.get("name") or ""),
            str(function.get("arguments") or ""), "completed"))
    if not response["output"]:  # calls none of which was well formed: an empty message
        response["output"].append(message_item(new_id("msg"), "", "completed"))
    if finish_reason in _FINISH:
        response["output"][-1]["status"] = "incomplete"  # the item a cut or a block ended
    response["usage"] = usage(payload.get("usage"))
    return finish(response, "stop" if finish_reason == "tool_calls" else finish_reason)
