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
# Also removed from the view, but legitimate in emoji and some scripts, so never reported.
_STRIP_QUIET = frozenset({0x200C, 0x200D, 0xFE0F})

_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def invisible_class() -> str:
    """A character class (literal characters, valid in re2 and Python re) of reported invisibles."""
    return "[" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in INVISIBLE_RANGES) + "]"


def _is_invisible(cp: int) -> bool:
    return any(a <= cp <= b for a, b in INVISIBLE_RANGES)


@lru_cache(maxsize=65536)
def _norm_char(ch: str) -> str:
    cp = ord(ch)
    if cp in _STRIP_QUIET or _is_invisible(cp) or unicodedata.category(ch) == "Cf":
        return ""
    return unicodedata.normalize("NFKC", ch)


def normalize(text: str, base: int = 0) -> tuple[str, list[int]]:
    """(view, index): `index[i]` is the offset (plus `base`) in `text` of view character `i`."""
    if text.isascii():
        return text, list(range(base, base + len(text)))
    parts: list[str] = []
    index: list[int] = []
    pos = 0
    for m in _NON_ASCII.finditer(text):
        start, end = m.span()
        if start > pos:
            parts.append(text[pos:start])
            index.extend(range(base + pos, base + start))
        for i in range(start, end):
            norm = _norm_char(text[i])
            if norm:
                parts.append(norm)
                index.extend([base + i] * len(norm))
        pos = end
    if pos < len(text):
        parts.append(text[pos:])
        index.extend(range(base + pos, base + len(text)))
    return "".join(parts), index


def normalize_text(text: str) -> str:
    """The view alone (for comparisons and vault values)."""
    return normalize(text)[0]
