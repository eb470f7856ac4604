"""The matching view of a text: NFKC per character, invisible and bidi controls removed.

The entity view (`fold=True`: what rules match, input.py, output.py) also writes hyphens and
dashes that separate digit groups (U+2010-U+2013, minus signs) as "-" and drops combining
diacritical marks, so that
`512\u201348\u20133390` is an SSN and `4\u0301111 1111 1111 1111` a card. The injection scanner and
the probe's features read the plain view (the default): their phrase lists and weights were
written for it (stacked accents are a signal there).

Every normalised character remembers the index of the original character it came from, so
a match found in the view maps back to a span of the original text. Normalising per
character (not per string) keeps the view of a concatenation equal to the concatenation of
views, which is what lets a stream be scanned chunk by chunk with the same result.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Invisible characters that the `invisible` scanner reports (tag characters, bidi controls,
# zero-width space, word joiners, fillers, variation selectors used for smuggling).
INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180E),
    (0x200B, 0x200B),
    (0x200E, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0E),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF9, 0xFFFB),
    (0xE0000, 0xE007F),
    (0xE0100, 0xE01EF),
)
# Format characters (Unicode general category Cf, as of Unicode 14), also removed from the view.
FORMAT_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
# Removed from the view, but legitimate in emoji and some scripts, so never reported.
_QUIET = ((0x200C, 0x200D), (0xFE0F, 0xFE0F))
# Combining diacritical marks (the generic blocks used over Latin, Greek, Cyrillic letters, digits and
# symbols): dropped from the entity view only, never reported. Marks of other scripts (Devanagari
# vowel signs, Arabic harakat, ...) are letters of those words and stay.
_MARKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))
# Hyphens and dashes written between digit groups, after NFKC: "-" in the entity view. Not the em
# dash or the horizontal bar: prose glues them to words ("me\u2014john@…" is no local part "me-john").
_DASHES = "\u2010\u2012\u2013\u2043\u2212\u02d7"

def _class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "[" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]"


# Everything the view drops. A plain character class: linear in Python's re as in re2.
_STRIPPED = re.compile(_class(INVISIBLE_RANGES + FORMAT_RANGES + _QUIET) + "+")
_STRIPPED_FOLD = re.compile(_class(INVISIBLE_RANGES + FORMAT_RANGES + _QUIET + _MARKS) + "+")
_DASH = re.compile(f"[{_DASHES}\u2011\ufe63\uff0d]")  # a dash the entity view writes as "-"


def invisible_class() -> str:
    """A character class (literal characters, valid in re2 and Python re) of reported invisibles."""
    return _class(INVISIBLE_RANGES)


_OTHER_DIGIT = re.compile(r"[^\x00-\x7f](?<=\d)")  # a decimal digit of another script: linear


@lru_cache(maxsize=65536)
def _nfkc(ch: str) -> str:
    """NFKC of one character; decimal digits of every script (Arabic-Indic, Persian, Devanagari,
    fullwidth, ...) become ASCII digits, as NFKC does for fullwidth ones only."""
    norm = unicodedata.normalize("NFKC", ch)
    if len(norm) == 1 and not norm.isascii() and unicodedata.category(norm) == "Nd":
        return str(unicodedata.decimal(norm))
    return norm


@lru_cache(maxsize=65536)
def _folded(ch: str) -> str:
    """_nfkc, with the dashes of _DASHES as "-"."""
    norm = _nfkc(ch)
    return "-" if len(norm) == 1 and norm in _DASHES else norm


def normalize(text: str, base: int = 0, *, fold: bool = False) -> tuple[str, list[int]]:
    """(view, index): `index[i]` is the offset (plus `base`) in `text` of view character `i`.
    `fold`: the entity view (dashes as "-", combining diacritics dropped; see the module doc)."""
    if text.isascii():
        return text, list(range(base, base + len(text)))
    parts: list[str] = []
    index: list[int] = []
    pos = 0
    for hidden in (_STRIPPED_FOLD if fold else _STRIPPED).finditer(text):
        _visible(text, pos, hidden.start(), base, parts, index, fold)
        pos = hidden.end()
    _visible(text, pos, len(text), base, parts, index, fold)
    return "".join(parts), index


def _visible(
    text: str, start: int, end: int, base: int, parts: list[str], index: list[int], fold: bool
) -> None:
    """NFKC per character of text[start:end] (no stripped characters in it)."""
    if start >= end:
        return
    run = text[start:end]
    if run.isascii() or (
        unicodedata.is_normalized("NFKC", run)
        and not _OTHER_DIGIT.search(run)
        and not (fold and _DASH.search(run))
    ):
        # every character is its own view character
        parts.append(run)
        index.extend(range(base + start, base + end))
        return
    one = _folded if fold else _nfkc
    for i, ch in enumerate(run, base + start):
        norm = one(ch) if ch >= "\x80" else ch
        parts.append(norm)
        if len(norm) == 1:
            index.append(i)
        else:
            index.extend([i] * len(norm))


def normalize_text(text: str, *, fold: bool = False) -> str:
    """The view alone (for comparisons and vault values)."""
    return normalize(text, fold=fold)[0]
