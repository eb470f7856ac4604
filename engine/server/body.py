"""Reading a JSON request body: size limit (413 from aiohttp's client_max_size), content, syntax."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from engine.server.errors import ApiError, bad_request


async def read_json(request: web.Request) -> Any:
    raw = await request.read()  # raises HTTPRequestEntityTooLarge (413) past client_max_size
    if not raw:
        raise bad_request(None, "The request body is empty; expected a JSON object", code="invalid_json")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise bad_request(None, f"The request body is not valid JSON{where}", code="invalid_json") from None
    except RecursionError:
        raise ApiError(400, "The request body is nested too deeply", code="invalid_json") from None
