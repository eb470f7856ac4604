"""Prefix closures of patterns: which tail of a stream could still grow into a match.

`prefix_pattern(p)` is an re2 pattern matching every prefix (the empty one included) of every
string `p` can match. Searched as `(?:…)\\z` on the end of a stream, its leftmost match is the
earliest position from which more text could still complete (or lengthen) a match: the output
guard holds back exactly from there and releases everything before it. Assertions (`\\b`, `^`)
are kept where text follows them and dropped at the end of a prefix, so the closure is a
superset of the true prefixes (holding a little more is safe; holding less would not be).

Built from Python's regex parser (the operator patterns are already checked with it):
    Pre(c) = c?                       for a character or class
    Pre(A B) = Pre(A) | A Pre(B)
    Pre(A | B) = Pre(A) | Pre(B)
    Pre(X{m,n}) = X{0,n-1} Pre(X)     (X* Pre(X) when unbounded)
"""

from __future__ import annotations

import re
import re._constants as C
import re._parser as sre_parse
from typing import Any

_CATEGORIES = {
    C.CATEGORY_DIGIT: r"\d",
    C.CATEGORY_NOT_DIGIT: r"\D",
    C.CATEGORY_SPACE: r"\s",
    C.CATEGORY_NOT_SPACE: r"\S",
    C.CATEGORY_WORD: r"\w",
    C.CATEGORY_NOT_WORD: r"\W",
}
_ASSERTIONS = {
    C.AT_BEGINNING: "^",
    C.AT_BEGINNING_STRING: r"\A",
    C.AT_END: "$",
    C.AT_END_STRING: r"\z",
    C.AT_BOUNDARY: r"\b",
    C.AT_NON_BOUNDARY: r"\B",
}


def _char(code: int) -> str:
    ch = chr(code)
    return ch if ch.isascii() and ch.isalnum() else f"\\x{{{code:x}}}"


def _class(items: list[tuple[Any, Any]]) -> str:
    out = []
    for op, av in items:
        if op is C.NEGATE:
            out.insert(0, "^")
        elif op is C.LITERAL:
            out.append(_char(av))
        elif op is C.RANGE:
            out.append(f"{_char(av[0])}-{_char(av[1])}")
        elif op is C.CATEGORY:
            out.append(_CATEGORIES[av])
        else:
            raise ValueError(f"unsupported class item {op}")
    return "[" + "".join(out) + "]"


def _flags(add: int, remove: int) -> str:
    on = "i" if add & re.IGNORECASE else ""
    off = "i" if remove & re.IGNORECASE else ""
    return on + (f"-{off}" if off else "")


def serialize(seq: Any) -> str:
    """A parsed sequence back to pattern text (greedy repeats: the language is what matters)."""
    parts = []
    for op, av in seq:
        if op is C.LITERAL:
            parts.append(_char(av))
        elif op is C.NOT_LITERAL:
            parts.append(f"[^{_char(av)}]")
        elif op is C.ANY:
            parts.append("(?s:.)")
        elif op is C.IN:
            parts.append(_class(av))
        elif op is C.AT:
            parts.append(_ASSERTIONS[av])
        elif op is C.BRANCH:
            parts.append("(?:" + "|".join(serialize(b) for b in av[1]) + ")")
        elif op is C.SUBPATTERN:
            flags = _flags(av[1], av[2])
            parts.append(f"(?{flags}:" + serialize(av[3]) + ")")
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            top = "" if hi is C.MAXREPEAT else str(hi)
            parts.append(f"(?:{serialize(sub)}){{{lo},{top}}}")
        elif op is C.ATOMIC_GROUP:
            parts.append("(?:" + serialize(av) + ")")
        else:
            raise ValueError(f"unsupported regex construct {op}")
    return "".join(parts)


def _pre_item(op: Any, av: Any) -> str:
    if op in (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN):
        return f"(?:{serialize([(op, av)])})?"
    if op is C.AT:
        return ""
    if op is C.BRANCH:
        return "(?:" + "|".join(_pre_seq(list(b)) for b in av[1]) + ")"
    if op is C.SUBPATTERN:
        return f"(?{_flags(av[1], av[2])}:" + _pre_seq(list(av[3])) + ")"
    if op is C.ATOMIC_GROUP:
        return "(?:" + _pre_seq(list(av)) + ")"
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        _, hi, sub = av
        inner = _pre_seq(list(sub))
        if hi == 0:
            return ""
        if hi == 1:
            return f"(?:{inner})"
        body = serialize(sub)
        times = "*" if hi is C.MAXREPEAT else f"{{0,{hi - 1}}}"
        return f"(?:{body}){times}(?:{inner})"
    raise ValueError(f"unsupported regex construct {op}")


def _pre_seq(seq: list[tuple[Any, Any]]) -> str:
    if not seq:
        return ""
    head, rest = seq[0], seq[1:]
    first = _pre_item(*head)
    if not rest:
        return first
    return f"(?:{first}|{serialize([head])}{_pre_seq(rest)})"


# re2's Unicode classes, which Python's parser lacks: parsed as private-use stand-ins, written back.
_UNICODE_CLASSES = ((r"\p{L}", "\U000f0001"), (r"\p{N}", "\U000f0002"))


def python_syntax(pattern: str) -> str:
    """`pattern` with re2-only Unicode classes replaced by stand-ins Python's parser accepts."""
    for re2_class, stand_in in _UNICODE_CLASSES:
        pattern = pattern.replace(re2_class, stand_in)
    return pattern


_REVERSED_AT = {C.AT_BEGINNING: C.AT_END, C.AT_END: C.AT_BEGINNING, C.AT_BEGINNING_STRING: C.AT_END_STRING,
                C.AT_END_STRING: C.AT_BEGINNING_STRING}


def _reversed(seq: Any) -> list[tuple[Any, Any]]:
    """The sequence matching the reversed strings."""
    out = []
    for op, av in reversed(list(seq)):
        if op is C.AT:
            av = _REVERSED_AT.get(av, av)
        elif op is C.BRANCH:
            av = (av[0], [_reversed(b) for b in av[1]])
        elif op is C.SUBPATTERN:
            av = (av[0], av[1], av[2], _reversed(av[3]))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            av = (av[0], av[1], _reversed(av[2]))
        elif op is C.ATOMIC_GROUP:
            av = _reversed(av)
        out.append((op, av))
    return out


def _rev_pre_item(op: Any, av: Any) -> str:
    """Rev(Pre(item)): the reversed prefixes of one item."""
    if op is C.BRANCH:
        return "(?:" + "|".join(_rev_pre_seq(list(b)) for b in av[1]) + ")"
    if op is C.SUBPATTERN:
        return f"(?{_flags(av[1], av[2])}:" + _rev_pre_seq(list(av[3])) + ")"
    if op is C.ATOMIC_GROUP:
        return "(?:" + _rev_pre_seq(list(av)) + ")"
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        _, hi, sub = av
        if hi == 0:
            return ""
        inner = _rev_pre_seq(list(sub))
        if hi == 1:
            return f"(?:{inner})"
        times = "*" if hi is C.MAXREPEAT else f"{{0,{hi - 1}}}"
        return f"(?:{inner})(?:{serialize(_reversed(sub))}){times}"
    return _pre_item(op, av)  # characters and assertions read the same both ways


def _rev_pre_seq(seq: list[tuple[Any, Any]]) -> str:
    """Rev(Pre(A B…)) = Rev(Pre(A)) | Rev(Pre(B…)) Rev(A)."""
    if not seq:
        return ""
    head, rest = seq[0], seq[1:]
    first = _rev_pre_item(*head)
    if not rest:
        return first
    return f"(?:{first}|{_rev_pre_seq(rest)}{serialize(_reversed([head]))})"


def reversed_prefix_pattern(*patterns: str) -> str:
    """The prefix closure of the concatenation, reversed: anchored at the start of a reversed
    text with longest-match semantics, its match is the longest pending tail, and the DFA stops
    as soon as no tail can be pending (instead of scanning a whole window forwards)."""
    seq: list[tuple[Any, Any]] = []
    for p in patterns:
        seq.extend(parsed(p))
    return _re2_syntax(_rev_pre_seq(seq))


def reversed_prefix_parts(pattern: str, tail: str, chunk: int) -> list[str]:
    """reversed_prefix_pattern(pattern, tail) as several patterns, one per `chunk` of the pattern's
    top-level alternatives (under its flags group, if any): the closure of (A|B|C) + tail is the union
    of the closures of A + tail, B + tail and C + tail, so the longest anchored match of the whole is
    the longest among the parts. One part when the pattern is not a top-level alternation."""
    seq, rest = parsed(pattern), parsed(tail) if tail else []
    wrap = None
    if len(seq) == 1 and seq[0][0] is C.SUBPATTERN and len(seq[0][1][3]) == 1:
        wrap, inner = seq[0][1], list(seq[0][1][3])
    else:
        inner = seq
    if len(inner) != 1 or inner[0][0] is not C.BRANCH:
        return [_re2_syntax(_rev_pre_seq(seq + rest))]
    branches = inner[0][1][1]
    parts = []
    for i in range(0, len(branches), chunk):
        group = branches[i : i + chunk]
        body: list[tuple[Any, Any]] = [(C.BRANCH, (None, group))] if len(group) > 1 else list(group[0])
        if wrap is not None:
            g, add, dele, sub = wrap
            body = [(C.SUBPATTERN, (g, add, dele, sre_parse.SubPattern(sub.state, body)))]
        parts.append(_re2_syntax(_rev_pre_seq(body + rest)))
    return parts


def _re2_syntax(pattern: str) -> str:
    for re2_class, stand_in in _UNICODE_CLASSES:
        pattern = pattern.replace(_char(ord(stand_in)), re2_class)
    return pattern


def parsed(pattern: str) -> list[tuple[Any, Any]]:
    """The parsed pattern as one sequence, a leading global `(?i)` turned into a scoped group."""
    tree = sre_parse.parse(python_syntax(pattern))
    seq = list(tree)
    if tree.state.flags & re.IGNORECASE:
        seq = [(C.SUBPATTERN, (None, re.IGNORECASE, 0, tree))]
    return seq


def prefix_pattern(*patterns: str) -> str:
    """Prefix closure of the concatenation of `patterns` (each may carry its own leading flags)."""
    seq: list[tuple[Any, Any]] = []
    for p in patterns:
        seq.extend(parsed(p))
    return _re2_syntax(_pre_seq(seq))


def _without_assertions(seq: Any) -> list[tuple[Any, Any]]:
    """The sequence with every assertion (`\\b`, `^`, ...) removed: a superset of its language."""
    out = []
    for op, av in seq:
        if op is C.AT:
            continue
        if op is C.BRANCH:
            av = (av[0], [_without_assertions(b) for b in av[1]])
        elif op is C.SUBPATTERN:
            av = (av[0], av[1], av[2], _without_assertions(av[3]))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            av = (av[0], av[1], _without_assertions(av[2]))
        elif op is C.ATOMIC_GROUP:
            av = _without_assertions(av)
        out.append((op, av))
    return out


def reversed_lead_patterns(lead: str, rest: str, tail: str = "") -> tuple[str, str, str]:
    """For a finding that lies after `lead` (a secret's name and "="): (detect, rest, lead), reversed.

    `detect` matches the reversed end of a text that is a whole lead followed by a prefix of
    rest + tail (assertions kept: exact). The other two drop assertions (supersets, so never less
    than the exact hold): the reversed prefix closure of rest + tail, and the reversed lead; the
    output guard uses them to find the longest rest prefix that follows a whole lead."""
    rest_seq = parsed(rest) + (parsed(tail) if tail else [])
    lead_seq = parsed(lead)
    detect = f"(?:{_rev_pre_seq(rest_seq)}){serialize(_reversed(lead_seq))}"
    loose_rest = _rev_pre_seq(_without_assertions(rest_seq)) or "(?:)"
    loose_lead = serialize(_reversed(_without_assertions(lead_seq)))
    return _re2_syntax(detect), _re2_syntax(loose_rest), _re2_syntax(loose_lead)
