"""Reading and checking a tenant's JSON body before anything else looks at it.

The body is read as a stream with a hard cap (aiohttp's own cap covers only
`read()`/`json()`), must be a JSON object, and may not name an upstream or a
credential anywhere, however deeply nested (`api_base`, `base_url`, ...).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from proxy.errors import ApiError, bad_request

FORBIDDEN_FIELDS = frozenset(
    {
        "api_base",
        "base_url",
        "api_url",
        "api_key",
        "api_version",
        "upstream",
        "upstream_url",
        "azure_endpoint",
        "custom_llm_provider",
        "extra_headers",
        "extra_query",
        "litellm_params",
        "proxy_url",
    }
)
MAX_DEPTH = 32


async def read_json_body(request: web.Request, max_bytes: int) -> dict[str, Any]:
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise ApiError(413, f"Request body is larger than {max_bytes} bytes.", code="request_too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, f"Request body is larger than {max_bytes} bytes.", code="request_too_large")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError):
        raise bad_request("We could not parse the JSON body of your request.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    _reject_upstream_fields(body, 0)
    return body


def _reject_upstream_fields(node: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise bad_request("The request body is nested too deeply.", code="invalid_request")
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.lower() in FORBIDDEN_FIELDS:
                raise bad_request(
                    f"The field `{key}` is not allowed: upstreams are set by the operator.",
                    param=key,
                    code="forbidden_field",
                )
            _reject_upstream_fields(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _reject_upstream_fields(item, depth + 1)


def text_of_messages(messages: list[Any]) -> list[str]:
    out: list[str] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    out.append(part["text"])
    return out


def estimate_prompt_tokens(body: dict[str, Any], route: str) -> int:
    """An upper-leaning estimate (4 bytes a token, plus per-message overhead) for admission."""
    if route == "chat":
        messages = body.get("messages") or []
        texts = text_of_messages(messages if isinstance(messages, list) else [])
        overhead = 4 * (len(messages) if isinstance(messages, list) else 0)
    else:
        prompt = body.get("prompt", "")
        if isinstance(prompt, list) and prompt and all(isinstance(p, int) for p in prompt):
            return len(prompt)
        if isinstance(prompt, list) and prompt and all(isinstance(p, list) for p in prompt):
            return sum(len(p) for p in prompt)
        texts = [prompt] if isinstance(prompt, str) else [p for p in prompt if isinstance(p, str)]
        overhead = 0
    return overhead + sum((len(t.encode("utf-8", "replace")) + 3) // 4 for t in texts)
