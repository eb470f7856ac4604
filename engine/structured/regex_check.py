"""Regular expressions (guided regex, JSON Schema `pattern`, `patternProperties`) made safe for xgrammar.

xgrammar 0.2 handles some regex syntax by printing a warning to the process's stderr and going on with a
different meaning:
- a lookahead or lookbehind in a schema `pattern` is ignored, and the warning quotes the whole pattern;
- an anchor in the middle (`^a$|^b$`) is ignored, the warning again quoting the pattern;
- an escape it does not know (`\\Z`, `\\A`, `\\Q`) matches the letter itself.

Text of a request must never reach a log, and a constraint must never be quietly dropped, so before
compiling: `problem` names what would not be enforced (a 400), and `normalize` rewrites what has the same
meaning without the warning (anchors at the ends of top-level alternatives: a grammar matches the whole
output anyway; identity escapes of punctuation such as `\\!`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.structured.unsupported import SCHEMA_LISTS, SCHEMA_MAPS, SCHEMA_VALUES

KNOWN_LETTER_ESCAPES = frozenset("dDwWsStnrfvxuc")  # and \b inside a class (a backspace)
QUIET_PUNCTUATION = frozenset("\"$'()*+-./?[\\]^{|}")  # escapes xgrammar takes without a word
LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")


@dataclass(frozen=True, slots=True)
class _Token:
    at: int  # its index in the pattern
    text: str  # one character, or an escape ("\\d", "\\.")
    in_class: bool  # inside [...] (the opening bracket is not; the closing one is)
    depth: int  # group depth


def _tokens(pattern: str) -> Iterator[_Token]:
    """The pattern's characters and escapes, with where each stands."""
    in_class, depth, i = False, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            yield _Token(i, pattern[i : i + 2], in_class, depth)
            i += 2
            continue
        token_in_class = in_class
        if in_class:
            in_class = c != "]"  # as xgrammar (and JavaScript) read it: "[^]" is any character
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        yield _Token(i, c, token_in_class, depth)
        i += 1


def _alternation(t: _Token | None) -> bool:
    """`t` is a top-level '|' (not escaped, not in a class), or the pattern's edge (None)."""
    return t is None or (t.text == "|" and not t.in_class and t.depth == 0)


def problem(pattern: str) -> str | None:
    """What in `pattern` the grammar would not enforce (for a 400), or None."""
    tokens = list(_tokens(pattern))
    for i, t in enumerate(tokens):
        before = tokens[i - 1] if i else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if t.text.startswith("\\"):
            nxt = t.text[1:]
            unknown = nxt.isascii() and nxt.isalpha() and nxt not in KNOWN_LETTER_ESCAPES
            if unknown and not (t.in_class and nxt == "b"):
                return f"the escape '\\{nxt}'"
            if nxt and nxt in "123456789":
                return "a backreference"
        elif t.in_class:
            continue
        elif pattern.startswith(LOOKAROUND, t.at):
            return "a lookahead or lookbehind"
        elif t.text == "^" and not (t.depth == 0 and _alternation(before)):
            return "'^' in the middle of the expression"
        elif t.text == "$" and not (t.depth == 0 and _alternation(after)):
            return "'$' in the middle of the expression"
    return None


def normalize(pattern: str) -> str:
    """`pattern` without the no-op anchors at the ends of top-level alternatives (needed only where it
    has alternatives: xgrammar accepts a leading '^' and a trailing '$') and with the identity escapes
    of punctuation spelled as the character itself. Assumes `problem(pattern)` is None."""
    tokens = list(_tokens(pattern))
    branches = any(t.text == "|" and t.depth == 0 and not t.in_class for t in tokens)
    out: list[str] = []
    for t in tokens:
        if t.text.startswith("\\"):
            nxt = t.text[1:]
            keep = not nxt or (nxt.isascii() and nxt.isalnum()) or nxt in QUIET_PUNCTUATION
            out.append(t.text if keep else nxt)
        elif not (branches and not t.in_class and t.depth == 0 and t.text in ("^", "$")):
            out.append(t.text)  # (dropped: a branch's own start or end; problem() allows no other anchor)
    return "".join(out)


def schema_patterns(schema: Any, path: list[str] | None = None) -> list[tuple[str, str]]:
    """(JSON pointer, regex) for every `pattern` and `patternProperties` key in a schema, walking only
    subschemas (never `const`, `enum` or `default` values)."""
    path = path or []
    if not isinstance(schema, dict):
        return []
    found = []
    if isinstance(schema.get("pattern"), str):
        found.append((_pointer([*path, "pattern"]), schema["pattern"]))
    props = schema.get("patternProperties")
    if isinstance(props, dict):
        found += [(_pointer([*path, "patternProperties"]), key) for key in props]
    for key in SCHEMA_MAPS:
        sub = schema.get(key)
        if isinstance(sub, dict):
            for name, value in sub.items():
                found += schema_patterns(value, [*path, key, str(name)])
    for key in SCHEMA_VALUES:
        found += schema_patterns(schema.get(key), [*path, key])
    for key in SCHEMA_LISTS:
        sub = schema.get(key)
        if isinstance(sub, list):
            for i, value in enumerate(sub):
                found += schema_patterns(value, [*path, key, str(i)])
    return found


def normalize_schema(schema: Any) -> Any:
    """A copy with every subschema's `pattern` and `patternProperties` key normalized."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if isinstance(out.get("pattern"), str):
        out["pattern"] = normalize(out["pattern"])
    props = out.get("patternProperties")
    if isinstance(props, dict):
        out["patternProperties"] = {normalize(k): normalize_schema(v) for k, v in props.items()}
    for key in SCHEMA_MAPS:
        if key != "patternProperties" and isinstance(out.get(key), dict):
            out[key] = {name: normalize_schema(value) for name, value in out[key].items()}
    for key in SCHEMA_VALUES:
        if isinstance(out.get(key), dict):
            out[key] = normalize_schema(out[key])
    for key in SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [normalize_schema(value) for value in out[key]]
    return out


def _pointer(path: list[str]) -> str:
    return "/" + "/".join(p[:64] for p in path)
