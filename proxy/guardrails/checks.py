"""Checksums and plausibility checks that turn regex candidates into findings.

Each check takes the matched text (normalised view) and returns the (start, end) span of the
finding inside it, or None to drop the candidate. All run in time linear in the match.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter

Span = tuple[int, int] | None

# ISO 13616 IBAN lengths by country.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BR": 29,
    "BY": 28,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IQ": 23,
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LC": 32,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NL": 18,
    "NO": 15,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "SA": 24,
    "SC": 31,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "ST": 25,
    "SV": 28,
    "TL": 23,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VA": 22,
    "VG": 24,
    "XK": 20,
}

_FILE_EXTENSIONS = frozenset(
    "png jpg jpeg gif svg webp bmp ico css js mjs json ts tsx jsx py rb txt pdf md yaml yml".split()
)
_INTERNAL_TLDS = frozenset("local localhost localdomain internal lan home corp test invalid example".split())
_PLACEHOLDER_WORDS = ("example", "your", "xxxx", "placeholder", "changeme", "dummy", "redacted", "here")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand_ok(digits: str) -> bool:
    n, p2, p4 = len(digits), int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if digits.startswith("6011") or p2 == 65 or 644 <= int(digits[:3]) <= 649:
        return n in (16, 19)
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if p2 in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return 14 <= n <= 19
    if p2 == 62:
        return 16 <= n <= 19
    return False


def card(text: str) -> Span:
    """Payment card: the leftmost-longest run of whole digit groups that passes brand + Luhn."""
    digits = text.replace(" ", "").replace("-", "")
    if 13 <= len(digits) <= 19 and not (" " in text and "-" in text):
        if card_brand_ok(digits) and luhn_ok(digits):
            return 0, len(text)
    if " " not in text and "-" not in text:
        return None
    # Try runs of whole groups with one kind of separator: "4111 1111 1111 1111 12" (a trailing expiry).
    starts, groups, seps = [0], [], []
    for i, ch in enumerate(text):
        if ch in " -":
            groups.append(text[starts[-1] : i])
            seps.append(ch)
            starts.append(i + 1)
    groups.append(text[starts[-1] :])
    for a in range(len(groups)):
        if not groups[a] or groups[a][0] not in "23456":
            continue  # no card brand starts with 0, 1, 7, 8 or 9
        total = 0
        for b in range(a, len(groups)):
            total += len(groups[b])
            if total > 19 or (b > a and seps[b - 1] != seps[a]):
                break
            if total >= 13:
                digits = "".join(groups[a : b + 1])
                if card_brand_ok(digits) and luhn_ok(digits):
                    return starts[a], starts[b] + len(groups[b])
    return None


def iban(text: str) -> Span:
    compact_len = 0
    country = text[:2].upper()
    expected = IBAN_LENGTHS.get(country)
    if expected is None:
        return None
    end = None
    for i, ch in enumerate(text):
        if ch != " ":
            compact_len += 1
            if compact_len == expected:
                end = i + 1
                break
    if end is None or (end < len(text) and text[end] != " "):
        return None
    value = text[:end].replace(" ", "").upper()
    if not value[2:4].isdigit():
        return None
    rearranged = value[4:] + value[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return (0, end) if int(number) % 97 == 1 else None


def ssn(text: str) -> Span:
    area, group, serial = text.split("-")
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return None
    if text in ("078-05-1120", "219-09-9999", "123-45-6789"):
        return None  # advertising and specimen numbers
    return 0, len(text)


def email(text: str) -> Span:
    local, _, domain = text.rpartition("@")
    if local.startswith(".") or local.endswith(".") or ".." in local or ".." in domain:
        return None
    tld = domain.rsplit(".", 1)[-1].lower()
    if tld in _FILE_EXTENSIONS or tld in _INTERNAL_TLDS:
        return None
    return 0, len(text)


def phone(text: str) -> Span:
    digits = sum(ch.isdigit() for ch in text)
    if text.startswith("+"):
        return (0, len(text)) if 8 <= digits <= 15 else None
    return (0, len(text)) if digits in (10, 11) else None


def ipv4(text: str) -> Span:
    parts = text.split(".")
    if len(parts) != 4:
        return None
    for p in parts:
        if int(p) > 255 or (len(p) > 1 and p[0] == "0"):
            return None
    return 0, len(text)


def ipv6(text: str) -> Span:
    if text.count(":") < 2 or ("::" not in text and text.count(":") != 7 and "." not in text):
        return None
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return 0, len(text)


def entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def aws_key(text: str) -> Span:
    tail = text[4:]
    if any(ch.isdigit() for ch in tail):
        return 0, len(text)
    vowels = sum(ch in "AEIOU" for ch in tail)
    return (0, len(text)) if vowels / len(tail) < 0.3 else None  # random base32, not a word


def openai_key(text: str) -> Span:
    if text.startswith("sk-ant-"):
        return None
    body = text.rsplit("-", 1)[-1]
    return (0, len(text)) if _looks_random(body, 3.5) else None


def _looks_random(value: str, min_entropy: float) -> bool:
    classes = sum(
        (any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value))
    )
    low = value.lower()
    return classes >= 2 and entropy(value) >= min_entropy and not any(w in low for w in _PLACEHOLDER_WORDS)


def assigned_secret(text: str) -> Span:
    """`api_key = "…"`-shaped: report the value only, if it looks random."""
    eq, colon = text.find("="), text.find(":")
    j = (min(eq, colon) if eq >= 0 and colon >= 0 else max(eq, colon)) + 1
    while j < len(text) and text[j] in " \t\"'`":
        j += 1
    value = text[j:]
    if len(value) < 16 or not _looks_random(value, 3.3):
        return None
    if value.startswith(("${", "process.env", "os.environ", "{{", "<")):
        return None
    return j, len(text)


def high_entropy(text: str) -> Span:
    core = text.rstrip("=")
    if all(c in "0123456789abcdefABCDEF" for c in core):
        return None  # hex digests (git SHAs, checksums) are not secrets
    if not (
        any(c.islower() for c in core) and any(c.isupper() for c in core) and any(c.isdigit() for c in core)
    ):
        return None
    if core.startswith(("MII", "MFkw", "MCow", "MFYw", "MHYw")):
        return None  # DER: certificates and public keys (private keys have their own scanner)
    if "/" in core and sum(c.isdigit() for c in core) < 4:
        return None  # paths
    return (
        (0, len(text))
        if entropy(core) >= 4.2 and not any(w in core.lower() for w in _PLACEHOLDER_WORDS)
        else None
    )
