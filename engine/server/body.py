"""Reading a JSON request body: size limit (413 from aiohttp's client_max_size), content, syntax.

JSON may spell a lone UTF-16 surrogate (`"\\ud800"`), which Python's json module accepts but which is
not Unicode text: the tokenizer, the chat template and the grammar compiler each fail on it. Such a
body is a 400 here, before any of them sees it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from engine.server.errors import ApiError, bad_request

# what can decode to a surrogate: a \uD800-\uDFFF escape, or its UTF-8 form (json.loads decodes
# bytes with surrogatepass); a match only means "look closer" (a valid escaped pair matches too)
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_MAX_NAME = 64


async def read_json(request: web.Request) -> Any:
    raw = await request.read()  # raises HTTPRequestEntityTooLarge (413) past client_max_size
    if not raw:
        raise bad_request(None, "The request body is empty; expected a JSON object", code="invalid_json")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise bad_request(None, f"The request body is not valid JSON{where}", code="invalid_json") from None
    except RecursionError:
        raise ApiError(400, "The request body is nested too deeply", code="invalid_json") from None
    except ValueError:  # an integer past Python's int_max_str_digits (4300 digits)
        raise bad_request(
            None, "The request body holds a number with too many digits", code="invalid_json"
        ) from None
    if _SURROGATE_HINT.search(raw):
        check_unicode(body)
    return body


def _is_text(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate(value: Any) -> bool:
    """Whether a JSON value holds a lone surrogate in any string or key (iterative: the value may be
    nested as deeply as json.loads allows)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _is_text(item):
                return True
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, str | list | dict))
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(v for v in item.values() if isinstance(v, str | list | dict))
    return False


def check_unicode(body: Any) -> None:
    """400 naming the top-level field when any string (or key) holds a lone surrogate."""
    if not isinstance(body, dict):
        if lone_surrogate(body):
            _refuse(None)
        return
    for key, value in body.items():
        if not _is_text(key):
            _refuse(None)
        if lone_surrogate(value):
            _refuse(key[:_MAX_NAME])


def _refuse(param: str | None) -> None:
    where = f"{param}: " if param else "The request body: "
    raise bad_request(
        param, f"{where}a string holds a lone UTF-16 surrogate (not valid Unicode text)", code="invalid_value"
    )
