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

from typing import Any

from engine.structured.unsupported import SCHEMA_LISTS, SCHEMA_MAPS, SCHEMA_VALUES

KNOWN_LETTER_ESCAPES = frozenset("dDwWsStnrfvxuc")  # and \b inside a class (a backspace)
QUIET_PUNCTUATION = frozenset("\"$'()*+-./?[\\]^{|}")  # escapes xgrammar takes without a word
LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")


def problem(pattern: str) -> str | None:
    """What in `pattern` the grammar would not enforce (for a 400), or None."""
    in_class = False
    depth = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            unknown = nxt.isascii() and nxt.isalpha() and nxt not in KNOWN_LETTER_ESCAPES
            if unknown and not (in_class and nxt == "b"):
                return f"the escape '\\{nxt}'"
            if nxt and nxt in "123456789":
                return "a backreference"
            i += 2
            continue
        if in_class:
            in_class = c != "]"  # as xgrammar (and JavaScript) read it: "[^]" is any character
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                i += 1  # a negation, not an anchor
        elif pattern.startswith(LOOKAROUND, i):
            return "a lookahead or lookbehind"
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "^" and not (depth == 0 and _after_branch_start(pattern, i)):
            return "'^' in the middle of the expression"
        elif c == "$" and not (depth == 0 and _before_branch_end(pattern, i)):
            return "'$' in the middle of the expression"
        i += 1
    return None


def _after_branch_start(pattern: str, i: int) -> bool:
    return i == 0 or pattern[i - 1] == "|"


def _before_branch_end(pattern: str, i: int) -> bool:
    return i == len(pattern) - 1 or pattern[i + 1] == "|"


def normalize(pattern: str) -> str:
    """`pattern` without the no-op anchors at the ends of top-level alternatives (needed only where it
    has alternatives: xgrammar accepts a leading '^' and a trailing '$') and with the identity escapes
    of punctuation spelled as the character itself. Assumes `problem(pattern)` is None."""
    out: list[str] = []
    in_class = False
    depth = 0
    branches = _has_top_level_alternatives(pattern)
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            nxt = pattern[i + 1 : i + 2]
            keep = (nxt.isascii() and nxt.isalnum()) or nxt in QUIET_PUNCTUATION  # "" (a trailing \\) too
            out.append(c + nxt if keep else nxt)
            i += 2
            continue
        if in_class:
            in_class = c != "]"  # as xgrammar (and JavaScript) read it: "[^]" is any character
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif branches and depth == 0 and c in "^$":
            i += 1
            continue  # a branch's own start or end (problem() allows no other anchor)
        out.append(c)
        i += 1
    return "".join(out)


def _has_top_level_alternatives(pattern: str) -> bool:
    in_class, depth, i = False, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"  # as xgrammar (and JavaScript) read it: "[^]" is any character
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


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
