"""The matching view of a text: NFKC per character, invisible and bidi controls removed.

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

def _class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "[" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]"


# Everything the view drops. A plain character class: linear in Python's re as in re2.
_STRIPPED = re.compile(_class(INVISIBLE_RANGES + FORMAT_RANGES + _QUIET) + "+")


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


def normalize(text: str, base: int = 0) -> tuple[str, list[int]]:
    """(view, index): `index[i]` is the offset (plus `base`) in `text` of view character `i`."""
    if text.isascii():
        return text, list(range(base, base + len(text)))
    parts: list[str] = []
    index: list[int] = []
    pos = 0
    for hidden in _STRIPPED.finditer(text):
        _visible(text, pos, hidden.start(), base, parts, index)
        pos = hidden.end()
    _visible(text, pos, len(text), base, parts, index)
    return "".join(parts), index


def _visible(text: str, start: int, end: int, base: int, parts: list[str], index: list[int]) -> None:
    """NFKC per character of text[start:end] (no stripped characters in it)."""
    if start >= end:
        return
    run = text[start:end]
    if run.isascii() or (unicodedata.is_normalized("NFKC", run) and not _OTHER_DIGIT.search(run)):
        # every character is its own view character
        parts.append(run)
        index.extend(range(base + start, base + end))
        return
    for i, ch in enumerate(run, base + start):
        norm = _nfkc(ch) if ch >= "\x80" else ch
        parts.append(norm)
        if len(norm) == 1:
            index.append(i)
        else:
            index.extend([i] * len(norm))


def normalize_text(text: str) -> str:
    """The view alone (for comparisons and vault values)."""
    return normalize(text)[0]
