"""JSON from untrusted peers: size and nesting bounded before the parser runs.

`json.loads` recurses once per nesting level, so `[[[[…` a few thousand deep raises
`RecursionError`; huge documents cost memory before anything is checked. `loads` refuses
both up front and raises only `ParseError`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from attestation.claims import ParseError

MAX_DEPTH = 32  # a bundle nests 4 deep, Intel collateral 6
MAX_BYTES = 4 << 20  # an evidence bundle with TDX collateral is ~40 KiB

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")


def depth(data: bytes) -> int:
    """Deepest nesting of arrays/objects, brackets inside strings ignored."""
    level = deepest = 0
    for m in _BRACKETS.finditer(_STRING.sub(b'""', data)):
        level += 1 if m.group() in (b"[", b"{") else -1
        deepest = max(deepest, level)
    return deepest


def loads(
    data: str | bytes,
    *,
    what: str = "JSON document",
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    object_pairs_hook: Any = None,
) -> Any:
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise ParseError(f"{what} is {len(raw)} bytes, more than the {max_bytes} allowed")
    if depth(raw) > max_depth:
        raise ParseError(f"{what} nests deeper than {max_depth} levels")
    try:
        return json.loads(raw, object_pairs_hook=object_pairs_hook)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:  # JSONDecodeError, int digit limit
        raise ParseError(f"{what} is not valid JSON: {e}") from e
