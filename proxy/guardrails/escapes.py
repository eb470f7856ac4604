"""Characters as a URL, HTML, JSON or source code escapes them, once or twice.

A separator or an "@" pasted from a query string (`%2D`, `%40`), markup (`&#45;`, `&#x2d;`, `&ndash;`,
`&nbsp;`), a JSON or JavaScript string (`\\u002d`, `\\x2d`, `\\u{2d}`) or any of these escaped again
(`%252D`, `&amp;#45;`, `\\\\u002d`: a URL inside a URL, markup inside markup, JSON inside a JSON
string) still separates an SSN's digits or makes an address. One side finds, the other judges:

- the patterns: `escaped(chars)` spells every escape of `chars` exactly (the "@", "." and "+" that
  start or join a finding); `ESCAPE` is any escape, loosely, where a number's separator goes (the
  exact alternation of every dash and space, repeated through a card's digit groups, made the
  stream's hold-back closures a DFA too big to cache: 20x the streaming cost); `GLUED` is a value's
  delimiter escaped right before it (`%3D4111…`), loosely too;
- `decode(text, only)` reads the escapes the way their consumer would (a browser, a URL parser, a
  JSON parser), folded as the entity view folds it (normalize.py), and says where each plain
  character started, so the checks validate the plain text and map the finding back; with `only`,
  an escape that reads as anything else stays as written and the check rejects the number.

The tests decode every spelling `escaped` generates for every character the view folds into "-", " ",
".", "+", "@", "/" and "_", and check that `ESCAPE` matches each of them.
"""

from __future__ import annotations

import codecs
import html
import re
from functools import cache, lru_cache
from html.entities import html5

from proxy.guardrails.normalize import normalize

# Every character the entity view folds into the plain one (normalize(c, fold=True) == plain; the
# test computes these sets again from normalize, so they cannot drift).
DASHES = "-\u02d7\u2010\u2011\u2012\u2013\u2043\u207b\u208b\u2212\ufe32\ufe63\uff0d"
DOTS = ".\u2024\ufe52\uff0e"
SPACES = " \u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
PLUSES = "+\u207a\u208a\ufb29\ufe62\uff0b"
ATS = "@\ufe6b\uff20"
SLASHES = "/\uff0f"
UNDERSCORES = "_\ufe33\ufe34\ufe4d\ufe4e\ufe4f\uff3f"

_AMP = "&(?:amp;){0,2}"  # "&" itself escaped once or twice: markup inside markup
_PCT = "%(?:25){0,2}"  # "%" itself escaped once or twice: a URL inside a URL
_BSL = r"\\{1,4}"  # a backslash escaped for JSON inside a JSON string, or a source string


def _hex(value: int, width: int = 0) -> str:
    """`value` in hex as a regex that takes either case: 2d -> 2[dD]."""
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in f"{value:0{width}x}")


def _group(alternatives: list[str]) -> str:
    unique = sorted(set(alternatives), key=lambda a: (-len(a), a))
    return unique[0] if len(unique) == 1 else "(?:" + "|".join(unique) + ")"


def _entity_names(chars: str) -> list[str]:
    """HTML's named references for `chars`, as a regex (legacy ones take no ";", as a browser reads them)."""
    names = []
    for name, value in html5.items():
        if value in chars and name.endswith(";"):
            bare = name[:-1]
            names.append(re.escape(bare) + (";?" if bare in html5 else ";"))
    return names


@cache
def escaped(chars: str, bare_numeric: bool = False) -> str:
    """A regex (re and re2 alike) for every escaped spelling of any character in `chars`: HTML decimal,
    hex and named references, percent-encoded UTF-8, JSON/JavaScript/Python backslash escapes, each
    with its "&", "%" or "\\" escaped again up to twice. A numeric reference needs its ";" unless
    `bare_numeric` (then what follows decides, as in a browser: the check's decode() reads it)."""
    end = ";?" if bare_numeric else ";"
    codes = sorted({ord(c) for c in chars})
    decimal = _group([str(c) for c in codes])
    hexa = _group([_hex(c) for c in codes])
    forms = [f"{_AMP}#0{{0,8}}{decimal}{end}", f"{_AMP}#[xX]0{{0,8}}{hexa}{end}"]
    names = _entity_names(chars)
    if names:
        forms.append(f"{_AMP}{_group(names)}")
    forms.append(_group(["".join(f"{_PCT}{_hex(b, 2)}" for b in chr(c).encode()) for c in codes]))
    backslash = [f"u{_hex(c, 4)}" for c in codes if c <= 0xFFFF]
    backslash += [f"x{_hex(c, 2)}" for c in codes if c <= 0xFF]
    backslash += [f"U{_hex(c, 8)}" for c in codes]
    backslash += [f"u\\{{0{{0,4}}{_hex(c)}\\}}" for c in codes]
    forms.append(f"{_BSL}{_group(backslash)}")
    return "(?:" + "|".join(forms) + ")"


# What ends a key or a path right before a value in a URL or a string (`?card=`, `"pan":`): escaped
# in a nested URL or a JSON string, its last character is a letter or digit glued to the value
# (`%3D4111…`, `\\u003d4111…`), so no word boundary starts the value. GLUED matches any escape that
# ends so (loosely, like ESCAPE); the checks skip it when it reads as one of these and reject the
# value otherwise (`%41536-22-1234` is "A536-22-1234": checks._on_unescaped).
VALUE_DELIMITERS = "=:/?&\"',;>"
GLUED = r"(?:%(?:25)?[0-9A-Fa-f]{2}|\\{1,4}(?:u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}))"


# Any escape, loosely, where a number's separator goes (the module doc says why not the exact
# alternation). A superset of what escaped() spells for every separator; the check decodes the match
# and judges the characters.
ESCAPE = (
    r"(?:&(?:amp;)?#?[A-Za-z0-9]{1,6};?|%25[0-9A-Fa-f]{2}(?:%25[0-9A-Fa-f]{2})?|(?:%[0-9A-Fa-f]{2}){1,3}"
    r"|\\{1,4}(?:u[0-9A-Fa-f]{4}|u\{[0-9A-Fa-f]{1,4}\}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2}))"
)
# `%2520` is tried before `%25`: the first alternative that lets the pattern match wins, and "20" would
# pass for two of the number's digits. Short (13 characters at most): every character a separator may
# span grows the hold-back closures of the card, SSN and IBAN patterns, which a stream searches on every
# delta. Left out: entity names over six letters (`&ThinSpace;`), zero padding past six digits,
# references escaped twice in markup (`&amp;amp;#45;`), three-byte characters percent-escaped twice.


# Any escape decode() reads: a numeric or named reference, a run of percent-escaped bytes, a
# backslash escape (what decode() cannot read, an unknown name say, stays as written).
ANY_ESCAPE = (
    r"&(?:amp;){0,2}(?:#[0-9]{1,8};?|#[xX][0-9a-fA-F]{1,8};?|[A-Za-z][A-Za-z0-9]{1,31};?)"
    r"|(?:%(?:25){0,2}[0-9a-fA-F]{2})+"
    r"|\\{1,4}(?:u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2})"
)
ANY = re.compile(ANY_ESCAPE)
_AMPS = re.compile(r"^&(?:amp;){0,2}")
_PERCENT = re.compile(r"%(?:25){0,2}([0-9a-fA-F]{2})")
_LONGEST_LEGACY = max(len(n) for n in html5 if not n.endswith(";"))


def might_hold_escapes(text: str) -> bool:
    """A cheap test before decode(): an escape starts with one of these."""
    return "&" in text or "%" in text or "\\" in text


def decode(text: str, only: frozenset[str] | None = None) -> tuple[str, list[int]]:
    """`text` with every escape read as its character (folded like the entity view), and where each
    plain character starts in `text` (one entry more: the end), to map a span back. `only`: escapes
    that read as anything else stay as written (a check that takes separators decodes those alone)."""
    plain: list[str] = []
    starts: list[int] = []
    pos = 0
    for m in ANY.finditer(text):
        if m.start() < pos:
            continue
        pieces = _pieces(m.group())
        if only is not None:  # the leading pieces that read as characters of `only`
            kept = next((i for i, (folded, _) in enumerate(pieces) if not set(folded) <= only), len(pieces))
            pieces = pieces[:kept]
        if not pieces:
            continue
        plain.extend(text[pos : m.start()])
        starts.extend(range(pos, m.start()))
        consumed = 0
        for folded, used in pieces:
            for ch in folded:
                plain.append(ch)
                starts.append(m.start() + consumed)
            consumed += used
        pos = m.start() + consumed
    plain.extend(text[pos:])
    starts.extend(range(pos, len(text)))
    starts.append(len(text))
    return "".join(plain), starts


def raw_span(starts: list[int], start: int, end: int) -> tuple[int, int]:
    """The span of `text` that decode()'s plain[start:end] came from (`starts` is decode()'s), whole
    escapes: an escape that reads as several characters is taken whole where the span ends inside it."""
    last = starts[end - 1]
    while end < len(starts) - 1 and starts[end] == last:
        end += 1
    return starts[start], starts[end]


@lru_cache(maxsize=4096)
def _pieces(escape: str) -> tuple[tuple[str, int], ...]:
    """_read's pieces with their characters folded as the entity view folds them; cached, as a text of
    many escapes repeats a few."""
    return tuple((normalize(chars, fold=True)[0], used) for chars, used in _read(escape))


def _read(escape: str) -> list[tuple[str, int]]:
    """(characters, length of escape they came from) for the leading escape(s) of `escape`; [] when it
    is none (an unknown entity name)."""
    if escape[0] == "&":
        return _reference(escape)
    if escape[0] == "%":
        return _percent(escape)
    return [(_backslash(escape), len(escape))]


def _reference(escape: str) -> list[tuple[str, int]]:
    amps = _AMPS.match(escape).end()
    body = escape[amps:]
    if body.startswith("#"):
        char = html.unescape("&" + body if body.endswith(";") else "&" + body + ";")
        return [(char, len(escape))]
    if body.endswith(";") and body in html5:
        return [(html5[body], len(escape))]
    name = body.rstrip(";")
    for n in range(min(len(name), _LONGEST_LEGACY), 1, -1):  # a legacy name without ";" (`&nbsp1`)
        if name[:n] in html5 and not name[:n].endswith(";"):
            return [(html5[name[:n]], amps + n)]
    return []


def _percent(escape: str) -> list[tuple[str, int]]:
    """A run of percent-escaped bytes as UTF-8; each character is as long as its bytes' escapes."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces: list[tuple[str, int]] = []
    pending = 0
    for m in _PERCENT.finditer(escape):
        pending += len(m.group())
        chars = decoder.decode(bytes([int(m.group(1), 16)]))
        if chars:
            pieces.append((chars, pending))
            pending = 0
    tail = decoder.decode(b"", final=True)
    if tail or pending:
        pieces.append((tail, pending))
    return pieces


def _backslash(escape: str) -> str:
    body = escape.lstrip("\\")
    code = int(body[1:].strip("{}"), 16)
    if code > 0x10FFFF or 0xD800 <= code < 0xE000:
        return "\ufffd"  # a lone surrogate (half an emoji) or out of range: no character of a finding
    return chr(code)
