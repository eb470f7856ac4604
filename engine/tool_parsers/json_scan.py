"""Incremental JSON scanning over text that may still be growing (a model's output mid-stream).

Only positions are found; nothing is re-serialized, so streamed argument fragments concatenate to
exactly the arguments a whole response carries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

WHITESPACE = " \t\n\r"
_LITERAL_END = ",}] \t\n\r"


class Malformed(ValueError):
    """The text cannot be the start of the JSON we expect."""


def skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in WHITESPACE:
        i += 1
    return i


def string_end(text: str, i: int) -> int | None:
    """text[i] is '"': the index after the closing quote, or None if the string is not closed yet."""
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return j + 1
        j += 1
    return None


def value_end(text: str, i: int) -> int | None:
    """The index after the JSON value starting at text[i] (no leading whitespace), None if incomplete."""
    if i >= len(text):
        return None
    c = text[i]
    if c == '"':
        return string_end(text, i)
    if c in "{[":
        depth, j = 0, i
        while j < len(text):
            c = text[j]
            if c == '"':
                end = string_end(text, j)
                if end is None:
                    return None
                j = end
                continue
            if c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        return None
    if c not in "-0123456789tfn":
        raise Malformed("not a JSON value")
    j = i
    while j < len(text) and text[j] not in _LITERAL_END:
        j += 1
    return j if j < len(text) else None  # a number may still grow


@dataclass(slots=True)
class ObjectScan:
    """Keys seen so far with the span of their value (end None: still growing); end: after the `}`."""

    values: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    end: int | None = None


def scan_object(text: str, i: int) -> ObjectScan:
    """text[i] is '{'. Raises Malformed when the text cannot become a JSON object."""
    if i >= len(text) or text[i] != "{":
        raise Malformed("expected an object")
    scan = ObjectScan()
    j = skip_ws(text, i + 1)
    if j < len(text) and text[j] == "}":
        scan.end = j + 1
        return scan
    while j < len(text):
        if text[j] != '"':
            raise Malformed("expected a key")
        key_end = string_end(text, j)
        if key_end is None:
            return scan
        key = json.loads(text[j:key_end])
        j = skip_ws(text, key_end)
        if j >= len(text):
            return scan
        if text[j] != ":":
            raise Malformed("expected ':'")
        start = skip_ws(text, j + 1)
        if start >= len(text):
            scan.values[key] = (start, None)
            return scan
        end = value_end(text, start)
        scan.values[key] = (start, end)
        if end is None:
            return scan
        j = skip_ws(text, end)
        if j >= len(text):
            return scan
        if text[j] == "}":
            scan.end = j + 1
            return scan
        if text[j] != ",":
            raise Malformed("expected ',' or '}'")
        j = skip_ws(text, j + 1)
    return scan


def held_back(text: str, marker: str) -> int:
    """Length of the longest suffix of text that is a proper prefix of marker (not safe to emit yet)."""
    for n in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:n]):
            return n
    return 0
