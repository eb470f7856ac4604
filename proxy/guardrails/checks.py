"""Checksums and plausibility checks that turn regex candidates into findings.

Each check takes the matched text (normalised view) and returns the (start, end) span of the
finding inside it, or None to drop the candidate. All run in time linear in the match.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable

import phonenumbers

from proxy.guardrails import escapes, keyformats

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


def word_char(ch: str) -> bool:
    """A letter, digit or combining mark (the vowel signs of Indic scripts are marks)."""
    return ch.isalnum() or unicodedata.category(ch)[0] == "M"


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand_ok(digits: str, named: bool = False) -> bool:
    """Brand prefix and length; `named`: the text calls it a card, so a 12-digit Maestro counts."""
    n, p2, p3, p4 = len(digits), int(digits[:2]), int(digits[:3]), int(digits[:4])
    if n == 12:
        return named and (p2 == 50 or 56 <= p2 <= 69)
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 2200 <= p4 <= 2204:  # Mir
        return 16 <= n <= 19
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if digits.startswith("6011") or p2 == 65 or 644 <= p3 <= 649:
        return n in (16, 19)
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if p2 in (36, 38, 39) or 300 <= p3 <= 305:
        return 14 <= n <= 19
    if p2 == 62:
        return 16 <= n <= 19
    if p2 in (60, 81, 82) or p3 == 508:  # RuPay (60 also Maestro)
        return 16 <= n <= 19
    if p2 == 50 or 56 <= p2 <= 69:  # Maestro (12-digit ones exist but read like any number)
        return 13 <= n <= 19
    return False


CARD_SEPARATORS = frozenset(" ./-_\u2010\u2011\u2012\u2013\u2014\u2015\u2212\t+")  # "+": a form-encoded space
_LOOSE = frozenset(" -")  # separators people group cards with freely; others need 4-4-4-4 style groups


def _grouping_ok(groups: list[str], sep: str | None) -> bool:
    if sep is None or sep in _LOOSE:
        return True
    sizes = [len(g) for g in groups]
    # 4-4-5: a 13-digit Visa
    return sizes[:3] in ([4, 4, 4], [4, 6, 5], [4, 6, 4]) or sizes in ([4, 6, 5], [4, 4, 5])


# Words that call a number a card, in several languages and scripts (builtins matches them, then
# the number within 30 characters): only there is a 12-digit Maestro number a card.
CARD_WORDS = (
    r"(?i:\b(?:card|carte|karte|tarjeta|cart[ãa]o|carta|kaart|karta|kart[ıi]?|kartu|maestro|thẻ)|"
    r"карт|卡|カード|카드|بطاق|کارت|कार्ड|כרטיס)"
)
_CARD_WORD = re.compile(CARD_WORDS + r"[^0-9\n]{0,30}")


def card(text: str) -> Span:
    """Payment card: the leftmost-longest run of whole digit groups with one kind of separator
    that passes brand + Luhn. Digits after an IBAN-shaped token (matched with it) are none; after
    a card word (matched with it), a 12-digit Maestro number is one too. A separator escaped in a URL,
    HTML or JSON (`%20`, `&nbsp;`, `%2D`, `\\u0020`) separates as itself; any other escape ends the run."""
    if not text:
        return None
    decoded = _on_unescaped(text, card, CARD_SEPARATORS)
    if decoded is not False:
        return decoded
    pos = 0
    for left in (*escapes.ANY.finditer(text), None):  # an escape left as written (`1&#10;4111…`) ends a run
        end = len(text) if left is None else left.start()
        span = _card(text[pos:end]) if end > pos else None
        if span is not None:
            return pos + span[0], pos + span[1]
        pos = len(text) if left is None else left.end()
    return None


def _card(text: str) -> Span:
    named = _CARD_WORD.match(text)
    if named is not None and named.end() < len(text) and text[named.end()].isdigit():
        span = _card_run(text[named.end() :], named=True)
        return None if span is None else (named.end() + span[0], named.end() + span[1])
    if text[:1].isalpha():
        return None
    return _card_run(text)


def _card_run(text: str, named: bool = False) -> Span:
    starts, groups, seps = [0], [], []
    for i, ch in enumerate(text):
        if ch in CARD_SEPARATORS:
            groups.append(text[starts[-1] : i])
            seps.append(ch)
            starts.append(i + 1)
    groups.append(text[starts[-1] :])
    for a in range(len(groups)):
        if not groups[a].isdigit() or groups[a][0] not in "2345368":
            continue  # no card brand starts with 0, 1, 7 or 9 (or with an escape left as written)
        if a and seps[a - 1] not in _LOOSE:
            break  # "1234.5678.9012.3456": with dots or underscores only the whole run can be a card
        if a and seps[a - 1] == "-" and a < len(seps) and seps[a] == "-":
            continue  # inside a dash-bound token
        total = 0
        for b in range(a, len(groups)):
            if not groups[b].isdigit():
                break  # an escape that reads as no separator ("4111%2A1111…"): the run ends
            total += len(groups[b])
            if total > 19 or (b > a and seps[b - 1] != seps[a]):
                break
            if total >= 12:
                digits = "".join(groups[a : b + 1])
                sep = seps[a] if b > a else None
                nxt = seps[b] if b < len(seps) else None
                # a dash binds its groups into one token: "5900-7998-4848-3787-580" has no card prefix
                whole = sep is None or sep == " " or (sep in _LOOSE and nxt != sep) or b == len(groups) - 1
                grouped = _grouping_ok(groups[a : b + 1], sep)
                # "4422 4336 3644 1706 529": a 19-digit number in 4-4-4-4-3, not a card and three digits
                longer = (b + 1 < len(groups) and seps[b] == " " and total == 16 and len(groups[b + 1]) == 3
                          and card_brand_ok(digits + groups[b + 1]))
                if whole and grouped and not longer and card_brand_ok(digits, named) and luhn_ok(digits):
                    return starts[a], starts[b] + len(groups[b])
    return None


def iban(text: str) -> Span:
    """A valid IBAN (length by country, mod 97) after its country code; its groups may be separated by
    spaces or dashes, plain or escaped in a URL, HTML or JSON."""
    if not text:
        return None
    decoded = _on_unescaped(text, iban, _IBAN_SEPARATORS)
    if decoded is not False:
        return decoded
    return _no_escape_inside(_iban(text), text)


def _iban(text: str) -> Span:
    compact_len = 0
    country = text[:2].upper()
    expected = IBAN_LENGTHS.get(country)
    if expected is None:
        return None
    end = None
    for i, ch in enumerate(text):
        if ch not in " -":
            compact_len += 1
            if compact_len == expected:
                end = i + 1
                break
    if end is None or (end < len(text) and text[end] not in " -"):
        return None
    value = text[:end].replace(" ", "").replace("-", "").upper()
    if not value[2:4].isdigit() or not (value.isascii() and value.isalnum()):
        return None  # an escape that reads as no separator ("DE89%2A3704…") breaks it
    letters = [c for c in text[:end] if c.isalpha()]
    if any(c.islower() for c in letters) and any(c.isupper() for c in letters):
        return None  # mixed case reads as words, not as an account number written in one case
    rearranged = value[4:] + value[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    # The finding is what follows the country code: "IE[IBAN]" tells the country and nothing of the
    # account, and a stream need not hold back a capital letter that may begin one ("I", "A").
    return (2, end) if int(number) % 97 == 1 else None


# Labels of lot, serial, part and order numbers, or a letter code joined by a dash, right before a
# dashed number (builtins matches them with it): an SSN-valid number there is no SSN.
SSN_NOT = (
    r"(?:(?i:\b(?:lot|batch|serial|s/n|sn|part|model|sku|order|ref|invoice|ticket|tracking|"
    r"los|serie|série|lote)(?:[ .-]{0,2}(?:no|nr|num|number|#|id))?)[.:#]{0,2}\s{0,3}(?:[A-Z]{1,4}-)?"
    r"|\b[A-Z]{1,4}-)"
)
# Separators escaped in a URL, HTML, JSON or source code, once or twice (escapes.py). builtins' SSN, IBAN,
# card and phone patterns take any escape where a separator goes (escapes.ESCAPE: the exact alternation of
# every spelling of every dash and space would make the stream's hold-back closures too big a DFA); their
# checks decode only the escapes that read as one of their separators, so any other escape there leaves
# the number unmatched.
ESCAPED_SEPARATOR = escapes.ESCAPE
ESCAPED_PLUS = escapes.escaped(escapes.PLUSES)  # a phone's "+" (exact: a phone may start with it)


def _on_unescaped(text: str, check: Callable[[str], Span], only: frozenset[str] | None = None) -> Span | bool:
    """`check` on `text` with its escapes read plain (escapes.decode; `only`: those that read as one of
    these characters or as a value's delimiter), the span mapped back; False when `text` has none (the
    caller checks it as it is). A delimiter escaped right before the value (`%3D4111…`) is skipped; any
    other escape glued to it (`%41536-22-1234`: "A536…") leaves no value."""
    if not escapes.might_hold_escapes(text):
        return False
    plain, starts = escapes.decode(text, None if only is None else only | _GLUED_DELIMITERS)
    if only is not None and escapes.ANY.match(plain):
        return None
    if plain == text:
        return False  # nothing decoded
    skip = 1 if plain[:1] in _GLUED_DELIMITERS and starts[1] > 1 else 0
    span = check(plain[skip:])
    return None if span is None else escapes.raw_span(starts, span[0] + skip, span[1] + skip)


def _no_escape_inside(span: Span, text: str) -> Span:
    """`span` unless an escape left as written (one that reads as none of the check's separators,
    `4111%2A1111…`) lies inside it: the characters around it are no one number."""
    if span is None or not escapes.might_hold_escapes(text[span[0] : span[1]]):
        return span
    return None if escapes.ANY.search(text, span[0], span[1]) else span


_GLUED_DELIMITERS = frozenset(escapes.VALUE_DELIMITERS)
_SSN_SEPARATORS = frozenset(" .-")
_IBAN_SEPARATORS = frozenset(" -")
_PHONE_CHARS = frozenset(" .-/+()")  # separators, the leading "+", an area code's parentheses


_SSN_NOT = re.compile(SSN_NOT + r"[0-9]{3}-[0-9]{2}-[0-9]{4}$")
_SSN_NUMBER = re.compile(r"[0-9]{3}[ .-]?[0-9]{2}[ .-]?[0-9]{4}$")
_SSN_DASHED = re.compile(r"[0-9]{3}-[0-9]{2}-[0-9]{4}")
_SSN_SEPARATOR = re.compile(r"[ .-]")
_SSN_LEADING = re.compile(r"[0-9]{3}[ .-]?[0-9]{2}[ .-]?[0-9]{4}")


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def ssn(text: str) -> Span:
    """`ddd-dd-dddd`, or nine digits near an SSN label ("SSN: 536221234", "is 536221234 my SSN?"):
    the number only. A separator escaped in a URL, HTML or JSON (`%2D`, `&#45;`, `\\u002d`) counts as
    itself."""
    if not text:
        return None
    decoded = _on_unescaped(text, ssn, _SSN_SEPARATORS)
    if decoded is not False:
        return decoded
    return _no_escape_inside(_ssn(text), text)


def _ssn(text: str) -> Span:
    if _SSN_NOT.match(text) and not text.lower().startswith("ss"):
        return None  # "Lot 721-83-3136", "Serial: NWA-575-18-7711": a lot or serial number
    m = _SSN_LEADING.match(text) if text[0].isdigit() else _SSN_NUMBER.search(text)
    if m is None:
        return None
    if len(set(_SSN_SEPARATOR.findall(m.group()))) > 1:
        return None  # "536-22 1234": one kind of separator
    if not _SSN_DASHED.fullmatch(m.group()) and not _has_letter(text[: m.start()] + text[m.end() :]):
        return None  # no label before or after: only ddd-dd-dddd (an escaped space is no dash)
    digits = m.group().replace("-", "").replace(" ", "").replace(".", "")
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return None
    if digits in ("078051120", "219099999", "123456789"):
        return None  # advertising and specimen numbers
    return m.span()


# "@" and "." spelled out, in several languages (builtins._AT/_DOT use the same words).
AT_WORDS = "at|arroba|chiocciola|arobase|собака|małpa|malpa"
DOT_WORDS = "dot|punto|ponto|punkt|point|punt|точка|kropka|nokta"
_SPELLED_AT = re.compile(rf"(?i)\s?([\[({{<])\s?(?:{AT_WORDS})\s?[\])}}>]\s?|\s(?:({AT_WORDS}))\s|\s@\s")
_SPELLED_DOT = re.compile(rf"(?i)\s?[\[({{<]\s?(?:{DOT_WORDS})\s?[\])}}>]\s?|\s(?:{DOT_WORDS})\s|\s\.\s")
# TLDs an address with a spelled-out "@" or "." may end with: any two letters (country codes), or these.
_GENERIC_TLDS = frozenset(
    "com net org edu gov mil int info biz name pro mobi app dev io ai co me tv xyz online site tech store "
    "shop cloud email mail blog digital agency studio design media news group team company solutions "
    "services systems network works space life world today live example рф".split()
)
# Words before a bare "at" that say where someone is, not whose address it is ("look at google dot com").
_AT_STOPWORDS = frozenset(
    "look looking looked me us him her them you it this that here there work works working worked meet "
    "meeting stay staying arrive arrived arriving live lives living based available found located hosted "
    "published online out back home site page up down in is are was were be been am only now even stop "
    "stopped aimed aim hit hits point pointed stared laugh laughed smile smiled start started end ended docs "
    "doc info details more website web visit read check see go find listed sold shop buy".split()
)
_PORT = re.compile(r":[0-9]{1,5}$")
_SCP_PATH = re.compile(r":[A-Za-z~/._-]$")


def email(text: str) -> Span:
    """An address, "@" and "." spelled out or escaped (`\\u0040`, `&#64;`, `%40`) too. Spelled-out forms
    need a known TLD; a bare lower-case "at" (not bracketed, not "AT", not "arroba") also a local part that is
    no everyday word or has punctuation or digits in it."""
    decoded = _on_unescaped(text, _email_from_local_part)
    return _email_from_local_part(text) if decoded is False else decoded


def _email_from_local_part(plain: str) -> Span:
    """_email on `plain` from the first character of the local part: after the last character before the
    "@" that no local part has (`next=%3Fto%3Dnadia%40…` is `?to=nadia@…`, `Contact&nbsp;nadia@…` is
    `Contact nadia@…`, `R&D;nadia@…`: the address is `nadia@…`; the backward extension takes "%", "&",
    "#" and ";" because escapes are spelled with them). Spaces right before an "@" stay (`nadia @ …`)."""
    at = plain.find("@")
    j = at
    while j > 0 and plain[j - 1] == " ":
        j -= 1
    cut = max((i for i in range(max(j, 0)) if not local_char(plain[i])), default=-1) + 1
    span = _email(plain[cut:])
    return None if span is None else (span[0] + cut, span[1] + cut)


LOCAL_PART_ASCII = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")


def local_char(ch: str) -> bool:
    """A character of an e-mail local part: the ASCII ones, letters, digits and combining marks of
    every script."""
    return ch in LOCAL_PART_ASCII or (ch >= "\x80" and word_char(ch))


def _email(text: str) -> Span:
    if _PORT.search(text) or _SCP_PATH.search(text):
        return None  # user:password@host:port is a URL's userinfo, git@host:repo a remote, not an address
    end = len(text)
    if end and not (text[-1].isalnum()):
        end -= 1  # the character that ended the address
    address = text[:end]
    start = 0
    glued = _GLUED_AFTER.search(address)
    if glued is not None:  # "…nadia.iyer@web.deです。": the address ends where the other script starts
        end = glued.end() - 1
        address = text[:end]
    glued = _GLUED_BEFORE.search(address.partition("@")[0])
    if glued is not None:  # "連絡先はnadia.iyer@…": it starts after the other script
        start = glued.start() + 1
        address = address[start:]
    spelled = "@" not in address or _SPELLED_AT.search(address) is not None
    weak = False
    if spelled:
        at = _SPELLED_AT.search(address)
        if at is None:
            return None
        weak = at.group(2) in ("at", "At")  # a bare word "at": everyday English around it
        address = address[: at.start()] + "@" + address[at.end() :]
    dotted = address
    address = _SPELLED_DOT.sub(".", address)
    spelled = spelled or dotted != address
    local, _, domain = address.rpartition("@")
    if not all(word_char(c) or c in ".-" for c in domain):
        return None
    if not local or local.startswith(".") or local.endswith(".") or ".." in local or ".." in domain:
        return None
    tld = domain.rsplit(".", 1)[-1].lower()
    if tld in _FILE_EXTENSIONS or tld in _INTERNAL_TLDS - {"example"} or tld in ("tld", "domain"):
        return None  # "name@domain.tld": a format, no address
        return None
    if spelled and not ((len(tld) == 2 and tld.isalpha()) or tld in _GENERIC_TLDS):
        return None
    if weak and (local.lower() in _AT_STOPWORDS or (
            dotted == address and not any(c in "._+-" or c.isdigit() for c in local))):
        return None  # "look at google dot com"; "Jane at acme.com" (only "at" spelled, a plain name)
    return start, end


# Scripts written without spaces between words (CJK, kana, hangul, Thai, Lao, Khmer, Myanmar, and their
# punctuation): an ASCII address glued to them ends or starts where the script changes.
_NO_SPACE = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_GLUED_AFTER = re.compile(rf"@[A-Za-z0-9.-]*\.[A-Za-z]{{2,24}}[{_NO_SPACE}]")
_GLUED_BEFORE = re.compile(rf"[{_NO_SPACE}][A-Za-z0-9._%+-]+$")


# Regions tried, in order, for numbers written in a national format (a trunk 0 or an area code
# in parentheses): a number valid for one of them is a finding.
PHONE_REGIONS = (
    "GB", "DE", "FR", "IN", "BR", "JP", "IT", "ES", "NL", "AU", "US", "MX", "PL", "TR", "KR", "CH", "AT",
    "BE", "SE", "IE", "PT",
)
# After a label, any of these formats is accepted too.
LABELLED_REGIONS = (
    *PHONE_REGIONS, "DK", "NO", "FI", "CZ", "HU", "RO", "GR", "AR", "CO", "CL", "PE", "ZA", "NZ", "SG", "PH",
    "ID", "TH", "VN", "MY", "CN", "TW", "IL", "AE", "SA", "EG", "NG", "KE", "RU", "UA", "CA",
)
# Words that label a phone number right before it (any national format is accepted after one).
PHONE_LABELS = (
    "tel|tél|phone|telephone|telefon|telefone|teléfono|telefono|téléphone|mobile|mobil|móvil|mobiel|cell|"
    "cellulare|celular|handy|portable|fax|whatsapp|rufnummer|telefonnummer|telefoonnummer|call me on|"
    "ring me on|call back at|call|ring|dial|número|numéro|llámame al|llama al|llamar al|márcame al|marca al|"
    "márquenme al|márcale al|appelez le|"
    "appelle[rz]? le|chiamami al(?:lo)?|chiama il|bel me op|bel|ligue para|ruf an|anrufen unter|"
    "erreichbar unter|dzwonić pod|dzwon pod|zadzwoń pod|zadzwoń na|nr tel|numer telefonu|komórka|"
    "ring mig på|ring til|ring meg på|soita|puhelin|puh|telefonnr|tlf|bel naar|liga para|ligue-me|"
    "chiamare il|chiamate il|contact|contacto|kontakt|reach me at|reach me on|text me at|text me on|sms|"
    "mob|cel|tél\\. portable|hotline|numer|nummer|numero|llame al|llamen al|llámenos al|llámeme al|"
    "llame a|marque el|contáctenos al|contáctanos al|appelez-nous au|appelez-moi au|rufen sie an unter|"
    "rufen sie uns an unter|bel ons op|ligue-nos para|chiamateci al|ring us on|call us on|call us at"
)
# Labels in scripts written without spaces (no word boundary around them): zh, ja, ko.
CJK_PHONE_LABELS = (
    "手机号?码?|手機號?碼?|电话号?码?|電話(?:號碼|番号)?|联系电话|聯絡電話|联系方式|携帯(?:番号|電話)?|"
    "전화번호|전화|휴대폰(?: ?번호)?|핸드폰(?: ?번호)?|연락처"
)
_PHONE_LABEL = re.compile(rf"(?i)(?:{PHONE_LABELS}|{CJK_PHONE_LABELS})[^0-9+(]*")
_PHONE_GROUP_END = re.compile(r"[ .\-/]?\(?[0-9]+\)?$")
_DIGIT_GROUP = re.compile(r"[0-9]+")
_MOBILE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _grouped_like(candidate: str, number: phonenumbers.PhoneNumber) -> bool:
    """The written area code is the one libphonenumber formats (`0815-4711-42` is `08154 71142`, a
    part number, not a call to Herrsching); mobiles and single-group numbers pass."""
    written = _DIGIT_GROUP.findall(candidate)
    if len(written) < 2 or phonenumbers.number_type(number) in _MOBILE:
        return True
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    formatted = _DIGIT_GROUP.findall(national)
    return bool(formatted) and written[0].lstrip("0") == formatted[0].lstrip("0")


# A UK mobile in its usual 5+6 grouping ("07911 628467"): libphonenumber leaves some allocated
# ranges out, so the shape decides.
_UK_MOBILE = re.compile(r"07[1-9][0-9]{2}[ -]?[0-9]{3} ?[0-9]{3}")


# Mobiles of countries without a trunk prefix, in their usual groupings: "609 02 50 74", "612 345 678"
# (ES, PT, PL), "139 3752 9536" (CN), "347 123 4567" (IT). Only a valid mobile of one of these counts.
_NO_TRUNK = re.compile(
    r"[6-9][0-9]{2}(?: [0-9]{2}){3}|[5-9][0-9]{2}(?: [0-9]{3}){2}|1[3-9][0-9](?:[ -][0-9]{4}){2}"
    r"|3[0-9]{2} [0-9]{3} [0-9]{3,4}"
)
NO_TRUNK_REGIONS = ("ES", "CN", "IT", "PT", "PL")
CURRENCY_WORDS = (
    "eur|euros?|zł|zl|pln|usd|chf|gbp|rub|руб|kr|sek|nok|dkk|czk|kč|huf|ft|cny|rmb|yuan|元|dollars?"
)
_AMOUNT = re.compile(rf"[€$£]|.* ?(?:[€$£]|(?i:{CURRENCY_WORDS}))$")
_LEGACY_MOBILE = re.compile(r"(\+52)[ .-]?1[ .-]?(?=[0-9])")


def _mobile_in(candidate: str, region: str) -> bool:
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in _MOBILE


def _valid_phone(candidate: str) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    if _UK_MOBILE.fullmatch(candidate):
        return True
    try:
        if candidate.startswith("+") or candidate.startswith("00"):
            international = "+" + candidate.lstrip("+")[2 if candidate.startswith("00") else 0 :]
            number = phonenumbers.parse(international)
            if not phonenumbers.is_valid_number(number):
                legacy = _LEGACY_MOBILE.match(international)  # "+52 1 33 …": Mexico's former mobile "1"
                if legacy is not None:
                    number = phonenumbers.parse(legacy.group(1) + international[legacy.end() :])
            return phonenumbers.is_valid_number(number) or (
                digits >= 10 and phonenumbers.is_possible_number(number))
        if candidate[0] in "(0":
            regions: tuple[str, ...] = PHONE_REGIONS
        elif candidate[0] in "6789" and digits == 10:
            regions = ("IN", "US")
        else:
            regions = ("US",)
        compact = candidate.isdigit()  # "0301234567" is as likely an order number: mobiles only
        for region in regions:
            try:  # "010-…" is Japan's international prefix and a Korean mobile: a region may refuse it
                number = phonenumbers.parse(candidate, region)
            except phonenumbers.NumberParseException:
                continue
            if not phonenumbers.is_valid_number(number):
                continue
            if compact:
                if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE:
                    return True
            elif candidate[0] not in "(0" or _grouped_like(candidate, number):
                return True
    except phonenumbers.NumberParseException:
        return False
    return False


_NATIONAL_START = re.compile(r"[6-9][0-9]{4}[ -][0-9]{5}$|1?[ .-]?\(?[2-9][0-9]{2}\)?[ .-]?[2-9]")  # IN, NANP
# An SSN shape (dashed or spaced), or a date: not a phone number.
_ISO_DATE = re.compile(r"(?:19|20)[0-9]{2}([-/.])[01][0-9]\1[0-3][0-9]\b")  # 2026-01-19 08:02: a timestamp
_SSN_SHAPE = re.compile(
    r"[0-9]{3}([ .-])[0-9]{2}\1[0-9]{4}|[0-3]?[0-9]([./-])[01]?[0-9]\2(?:19|20)[0-9]{2}"
    r"|[01]?[0-9]([./-])[0-3]?[0-9]\3(?:19|20)[0-9]{2}"
)


# "03.12.2026 14:30": a day-first (or month-first) date, a time after it; not a number to call.
_DATE_START = re.compile(r"[0-3]?[0-9]([./-])[0-3]?[0-9]\1(?:19|20)[0-9]{2}(?![0-9])")
_CIS_TRUNK = re.compile(r"8[ -]?(?:\([3-9][0-9]{2,4}\)|[3-9][0-9]{2,4})[ -]?[0-9]{1,3}(?:[ -]?[0-9]{2}){2}")


_CHAT_LINK = re.compile(r"(?i)wa\.me/|[?&]phone=")  # wa.me/<digits>, api.whatsapp.com/send?phone=<digits>


def phone(text: str) -> Span:
    """A number `phonenumbers` finds valid, allowing trailing digit groups that are not part of it.
    Numbers inside longer digit-group runs (cards, IBANs, tracking ids), SSN shapes, numbers right
    after an IBAN-shaped token or a part/order/invoice/reference label, and national numbers whose
    area code is not where libphonenumber puts it (unless labelled, or mobile) are not phones. A "+" or
    a separator escaped in a URL, HTML or JSON (`%2B49`, `&#32;`, `\\u002d`) counts as itself."""
    if not text:
        return None
    decoded = _on_unescaped(text, phone, _PHONE_CHARS)
    if decoded is not False:
        return decoded
    return _no_escape_inside(_phone(text), text)


def _phone(text: str) -> Span:
    if text.startswith(("+++", "***")):
        return None  # a structured payment reference
    link = _CHAT_LINK.match(text)
    if link is not None:  # a WhatsApp link: the number in international form, no "+"
        return (link.end(), len(text)) if _valid_phone("+" + text[link.end() :]) else None
    if text[0].isalpha():
        label = _PHONE_LABEL.match(text)
        if label is None:
            return None  # an IBAN-shaped token or a part/order/reference label before the digits
        number = text[label.end() :]
        for region in LABELLED_REGIONS:  # "Tel: 91 123 45 67": after a label, any national format
            try:
                if phonenumbers.is_valid_number(phonenumbers.parse(number, region)):
                    return label.end(), len(text)
            except phonenumbers.NumberParseException:
                continue  # a prefix one region dials abroad with ("010" in Japan) is a number elsewhere
        text = number
        offset = label.end()
    else:
        offset = 0
    if _CIS_TRUNK.fullmatch(text):  # "8 495 713-63-83": the trunk prefix of Russia, Belarus, Kazakhstan
        for region in ("RU", "BY"):
            if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
                return offset, offset + len(text)
        return None
    if _AMOUNT.match(text):
        return None  # "612 345 678 €": an amount grouped by thousands
    if _NO_TRUNK.fullmatch(text) and any(_mobile_in(text, region) for region in NO_TRUNK_REGIONS):
        return offset, offset + len(text)  # a mobile written without a trunk prefix (ES, CN, IT, PT, PL)
    inside_run = text[0].isdigit() and text[0] != "0" and not _NATIONAL_START.match(text)
    if inside_run or _SSN_SHAPE.fullmatch(text) or _ISO_DATE.match(text) or _DATE_START.match(text):
        return None
    candidate = text
    for _ in range(4):
        if _valid_phone(candidate):
            return offset, offset + len(candidate)
        trimmed = _PHONE_GROUP_END.sub("", candidate)
        if trimmed == candidate or sum(ch.isdigit() for ch in trimmed) < 7:
            return None
        candidate = trimmed
    return None


def ipv4(text: str) -> Span:
    """A dotted quad, unless numbered like a section or version (matched with its label), the
    unspecified address 0.0.0.0 or a netmask (255.255.255.0): they address no one."""
    if not text[0].isdigit():
        return None
    parts = text.split(".")
    if len(parts) != 4:
        return None
    for p in parts:
        if int(p) > 255 or (len(p) > 1 and p[0] == "0"):
            return None
    bits = "".join(f"{int(p):08b}" for p in parts)
    if "1" not in bits or (bits.startswith("1") and "01" not in bits):  # 0.0.0.0, a netmask
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


_KEY_DUMMIES = (
    "xxxx", "example", "placeholder", "changeme", "dummy", "redacted", "your_", "yourkey", "0000000",
)


def provider_key(text: str) -> Span:
    """A provider key format, unless it is a documentation dummy (`ghp_xxxx…`, `…EXAMPLE`, one
    repeated character)."""
    low = text.lower()
    if any(w in low for w in _KEY_DUMMIES) or len(set(low)) < 8 or _doc_sample(text):
        return None
    return 0, len(text)


def _doc_sample(text: str) -> bool:
    return any(sample in text for sample in keyformats.DOC_SAMPLES)


def jwt(text: str) -> Span:
    """A JWT, unless it is jwt.io's example."""
    return None if _doc_sample(text) else (0, len(text))


def aws_key(text: str) -> Span:
    if provider_key(text) is None:
        return None  # AKIAIOSFODNN7EXAMPLE: the documentation's sample id
    tail = text[4:]
    if any(ch.isdigit() for ch in tail):
        return 0, len(text)
    vowels = sum(ch in "AEIOU" for ch in tail)
    return (0, len(text)) if vowels / len(tail) < 0.3 else None  # random base32, not a word


def openai_key(text: str) -> Span:
    if text.startswith("sk-ant-"):
        return None
    body = _OPENAI_PREFIX.sub("", text)
    if "T3BlbkFJ" in body:  # base64 of "OpenAI": in every key of the current formats
        return 0, len(text)
    # base64url bodies hold "-" and "_" too: the longest part must look random, the whole be no words
    part = max(re.split(r"[-_]", body), key=len)
    return (0, len(text)) if _looks_random(part, 3.5) and not _joined_words(body) else None


_OPENAI_PREFIX = re.compile(r"sk-(?:proj-|svcacct-|admin-|None-)?")


def _looks_random(value: str, min_entropy: float) -> bool:
    classes = sum(
        (any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value))
    )
    low = value.lower()
    return classes >= 2 and entropy(value) >= min_entropy and not any(w in low for w in _PLACEHOLDER_WORDS)


PROSE_LOGIN_WORDS = (
    r"passwords?|passwort|passwd|kennwort|mot de passe|contraseña|contrasena|clave|senha|palavra-passe|"
    r"wachtwoord|haslo|lösenord(?:et)?|losenord(?:et)?|adgangskoden?|kodeord(?:et)?|passord(?:et)?|salasanan?|"
    r"heslo|jelszo|sifre|parola|"
    r"lozinka|geslo|parool|wagwoord|nenosiri|kata laluan|"
    r"kata sandi|mật khẩu|passcode|passphrase|pw|pwd|pin code|wifi key|wlan key"
)
# The same words with a non-ASCII first or last letter (re2's \b is ASCII-only: \b on the ASCII side
# only), Turkish with its suffixes ("şifresi", "şifrem").
PROSE_LOGIN_WORDS_NON_ASCII = (
    r"şifre(?:si|m|miz|niz|n)?|\bhasło|\bjelszó|\bjelszava|\bparolă|šifra|\bslaptažodis"
)
# Keywords of non-Latin scripts (prose around them is non-Latin, the value is ASCII).
PROSE_LOGIN_WORDS_NON_LATIN = (
    "парол|лозинк|パスワード|暗証番号|密码|密碼|口令|비밀번호|암호|पासवर्ड|كلمة المرور|كلمة السر|"
    "رمز عبور|סיסמ|κωδικ|συνθηματικ|รหัสผ่าน"
)
# Verbs (and a colon) between a password word and its value; adverbs that may follow the verb.
PROSE_VERBS = (
    r"is|was|ist|war|lautet|bleibt|est|était|reste|es|era|sigue|é|è|resta|är|er|on|je|jest|wynosi|to|este|"
    r"adalah|là|ay|ni|remains|stays|olarak|="
)
PROSE_ADVERBS = (
    r"now|still|currently|jetzt|noch|maintenant|toujours|ahora|todavía|agora|ainda|ora|ancora|nu|nog|teraz"
)
_SAID_PROSE_START = re.compile(
    rf"(?i)(?:{PROSE_LOGIN_WORDS}|{PROSE_LOGIN_WORDS_NON_ASCII})\b(?: [^\s:=]{{1,20}}){{0,5}}"
    rf"(?:\s(?:{PROSE_VERBS})(?:\s(?:{PROSE_ADVERBS}))?\s|\s?[:：])"
)
# The value right after the word ("Passwort Falcon2011$."): a strong password only.
_PROSE_DIRECT = re.compile(
    rf"(?i)(?:{PROSE_LOGIN_WORDS}|{PROSE_LOGIN_WORDS_NON_ASCII})\s[\"'`„“«]?(\S+)"
)
# Credentials passed by position in code: `new PDO(dsn, 'user', '…')`, `mysqli_connect('h', 'u', '…')`,
# `getConnection(url, "user", "…")`, `new NetworkCredential("user", "…")`, `HTTPBasicAuth('u', '…')`,
# `auth=('u', '…')`, `ftp.login('u', '…')`, `ConvertTo-SecureString '…' -AsPlainText`,
# `cmdkey /pass:…`.
_Q = "[\"']"
# An argument before the password: ASCII without quotes or spaces (a Unicode class repeated 60 times
# makes a big re2 program; a stream's hold-back closure stops at the first space)
_ARG = "[!#-&(-~]"
POSITIONAL_LEADS = (
    rf"\b(?:new PDO|mysqli_connect|new mysqli|mysql_connect|getConnection|connect)\(\s?{_Q}{_ARG}{{0,60}}{_Q}"
    rf"\s?,\s?{_Q}{_ARG}{{0,32}}{_Q}\s?,\s?{_Q}",
    rf"\b(?:NetworkCredential|PSCredential|PasswordAuthentication|UsernamePasswordCredentials|HTTPBasicAuth|"
    rf"HTTPDigestAuth|BasicAuth|HttpBasicAuth|basicAuth|setCredentials|login|auth)\(\s?{_Q}{_ARG}{{0,32}}{_Q}"
    rf"\s?,\s?{_Q}",
    rf"\bauth\s?=\s?[(\[]\s?{_Q}{_ARG}{{0,32}}{_Q}\s?,\s?{_Q}",
    rf"\bConvertTo-SecureString\s{{1,3}}(?:-String\s{{1,3}})?{_Q}",
    r"\B/pass(?:word)?:[\"']?",
    # `<add key="SmtpPassword" value="…"/>`, `<property name="db.password" value="…"/>`
    rf"\b(?:key|name)={_Q}{_ARG}{{0,32}}(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|apikey|credential)"
    rf"{_ARG}{{0,16}}{_Q}\s{{1,3}}value={_Q}",
)
# ~/.pgpass lines: `host:port:database:user:password` (`*` for any), at the start of a line
_PGPASS = "(?:\\A|\\n)(?:[A-Za-z0-9._-]{1,64}|\\*):(?:[0-9]{2,5}|\\*):[^\\s:]{1,64}:[^\\s:]{1,64}:"
POSITIONAL_LEADS = (*POSITIONAL_LEADS, _PGPASS)
_PGPASS_LINE = re.compile(_PGPASS)
_POSITIONAL = re.compile("(?i)(?:" + "|".join(POSITIONAL_LEADS) + ")")
# Hashes stored under a password's name are no password (`password_hash: $2b$12$…`, Django's
# `pbkdf2_sha256$…`, `{SSHA}…`, hex digests).
_HASHED = re.compile(
    r"(?i)\$(?:2[abxy]?|argon2(?:id|i|d)|[156y]|scrypt|pbkdf2[a-z0-9-]*|sha(?:256|512)-crypt)\$|"
    r"(?:pbkdf2_sha(?:1|256|512)|bcrypt(?:_sha256)?|argon2|sha1|md5|scrypt)\$|\{(?:SSHA|SHA|SMD5|MD5|CRYPT|"
    r"bcrypt|noop|argon2|pbkdf2|scrypt|sha256)\}|[0-9a-f]{32}$|[0-9a-f]{40}$|[0-9a-f]{64}$|[0-9a-f]{128}$"
)
_HASH_NAME = re.compile(r"(?i)hash|digest|checksum|fingerprint|(?:\b|_)(?:sha(?:1|256|512)?|md5)(?:\b|_|$)")
_PROSE = re.compile(
    rf"(?i)[^\s:=]+(?: [^\s:=]{{1,20}}){{0,5}}(?:\s(?:{PROSE_VERBS})(?:\s(?:{PROSE_ADVERBS}))?|\s?[:：])"
    r"\s{0,3}[\"'`„“«]?(\S+?)[\"'`“”»]?$"
)
_PASSWORD_NAMES = re.compile(
    r"(?i)passw(?:or)?d|passwd|pwd|^wifi:|passphrase|pass[\"']?$|passwort|kennwort|mot de passe|contraseña|"
    r"senha|"
    r"wachtwoord|has[łl]o|пароль|parola|şifre|lösenord|salasana|パスワード|密[码碼]|비밀번호|\bpw[\"']?$|"
    r"clave|adgangskode|passord|heslo|jelszó|sifre|kata sandi|mật khẩu|passcode|pin code|authorization|"
    r"identified by|wifi key|wlan key|lozinka|geslo|parool|wagwoord|nenosiri|kata laluan|palavra-passe|"
    rf"kodeord|šifra|slaptažodis|{PROSE_LOGIN_WORDS_NON_LATIN}"
)
_CLI = re.compile(
    r"-p[\"' ]{0,2}([^\s\"']+)|(?:-u|--user)[ =][\"']?[^\s:\"'@/]{1,64}:([^\s\"'@]+)"
    r"|(?i:-[wa]) [\"']?([^\s\"']+)"
)
_DSN = re.compile(r"(?i)[\"'`=][a-z0-9_.-]{1,32}:([^\s:@/\"']{3,64})@(?:tcp6?|udp|unix)\(")
# Directives whose value follows after blanks (redis.conf, ldap.conf, slapd.conf, keepalived.conf).
LOGIN_DIRECTIVES = "requirepass|masterauth|bindpw|rootpw|auth_pass|masterpassword"
_DIRECTIVE = re.compile(rf"(?i)(?:{LOGIN_DIRECTIVES})[ \t]+[\"']?")
_SAID = re.compile(r"(?:\s|は|是|는)\s{0,3}[\"'`]?([!-~]+?)[\"'`]?$")
# A value under a name written apart from it: Kubernetes env entries (`- name: SMTP_PASSWORD` then
# `value: "…"`), Terraform variables (`variable "admin_password" {` then `default = "…"`), and the
# password of a Wi-Fi QR payload (`WIFI:T:WPA;S:net;P:…;;`). Names are bounded runs after a literal.
NAMED_BLOCKS = (
    r"name:[ \t]{0,3}[\"']?[a-z0-9_.-]{1,40}[\"']?[ \t]{0,8}\r?\n[ \t]{0,16}value:[ \t]{0,3}|"
    r"variable[ \t]{1,3}\"[a-z0-9_-]{1,40}\"[ \t]{0,3}\{[ \t]{0,8}\r?\n"
    r"(?:[ \t]{0,16}[a-z]{1,12}[ \t]{0,8}=[^\n]{0,60}\r?\n){0,3}"
    r"[ \t]{0,16}default[ \t]{0,3}=[ \t]{0,3}|"
    r"wifi:(?:[a-z]:[^;\n]{0,64};){0,4}p:"
)
_NAMED_BLOCK = re.compile(r"(?i)name:|variable")
_SECRET_WORD = re.compile(
    r"(?i)secret|token|passw|passwd|pwd|pass\b|key|credential|auth|passphrase|private|signing|salt|dsn"
)
# `Authorization: Basic …`, `--api-key …`, `<password>…`, `setPassword("…")`, `define('X_PASSWORD', '…')`
_HEADER = re.compile(
    r"(?i)(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(basic|bearer|token|digest|apikey|sso-key)\s+"
)
_OTHER_FORMS = re.compile(
    r"(?i)(?:(?:set-)?cookie\s*:\s*[^=\s;]+=|--[a-z0-9-]+[ =]|"
    r"-[a-z0-9-]*(?:pass|pwd|secret|token|key)[a-z0-9-]*[ =]|<[^>]+>|(?:set|with)_?[a-z_]+\(\s*|"
    r"[^\s\"']+[\"']\s*,\s*|"
    r"identified by |login \S+ password |" + NAMED_BLOCKS + r")[\"'`]?"
)
_ENV_REF = re.compile(r"\$[A-Z_][A-Z0-9_]*$|%[A-Z_][A-Z0-9_]*%$")  # $TOKEN, %API_KEY%
_SESSION_NAME = re.compile(r"(?i)sess(?:ion)?[_-]?id|phpsessid|jsessionid|connect\.sid|\bsid$|cookie")
_URL_NAME = re.compile(
    r"(?i)(?:_|-|\b)(?:uri|url|endpoint|host|type|path|file|dir|expires?|ttl|length|policy|reset)[\"']?$"
)
_CONNECTION_PASSWORD = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@\"']{0,64}:([^\s@/\"']{3,64})@")
# `private_key_id`, `clientId`, `SharedAccessKeyName`, `token_user`: identifiers, not secrets
_ID_NAME = re.compile(r"(?i)(?:_id|-id|\bid|Id|name|_user|-user|username)[\"']?$")
_ASSIGN = re.compile(r"\s*(?:=>|:=|=|:)\s*(?:b?[\"'`])?")  # a Python bytes literal's "b" is no value
_PLACEHOLDER_VALUES = ("${", "$(", "process.env", "os.environ", "os.getenv", "{{", "<", "%(", "env(", "[",
                       "**", "xxx", "...", "null", "none", "true", "false", "undefined", "secret", "password",
                       "(", "{", "hidden", "masked", "omitted", "removed", "n/a", "not set", "unset", "empty",
                       "•", "…", "###")


def _placeholder(value: str) -> bool:
    low = value.lower()
    call = "(" in value and value.endswith(")")  # get_token_from_vault(): code, not a value
    return (low.startswith(_PLACEHOLDER_VALUES) or any(w in low for w in _PLACEHOLDER_WORDS)
            or len(set(low)) <= 2 or call or _ENV_REF.match(value) is not None)


def _prose_password_ok(value: str) -> bool:
    """A value named only by prose must look like a password: letters with digits or symbols (not
    a hyphenated word), or random-looking."""
    letters = any(c.isalpha() for c in value)
    digits = any(c.isdigit() for c in value)
    symbols = any(not c.isalnum() and c not in "-.'" for c in value)
    return (letters and (digits or symbols)) or (digits and symbols) or _looks_random(value, 3.0)


_HUMAN = re.compile(r"([A-Za-z]{4,16})(?:[!#%&*+.?_~^@$-][0-9]{2,4}|[0-9]{2,4}[!#%&*+.?_~^@$-])")
# words that name a setting or a step, not a password ("password reset-2024", "password policy_v2")
_NOT_HUMAN = frozenset("reset policy change manager rules rule version step hint expiry length field update "
                       "page section level strength history generator vault".split())


def _human_password(value: str) -> bool:
    """A password people choose, right after the word: `pinecone-961`, `juniper&526`, `harbor42!`."""
    m = _HUMAN.fullmatch(value)
    return m is not None and m.group(1).lower() not in _NOT_HUMAN


def _strong_password(value: str) -> bool:
    """A password written without a name or verb before it (`Passwort Falcon2011$`, `-p l3Qe…`):
    eight or more characters of three classes, not a lower-case identifier or a path."""
    if len(value) < 8 or any(c in value for c in "/\\") or value.startswith("-"):
        return False
    symbols = {c for c in value if not c.isalnum()}
    upper = any(c.isupper() for c in value)
    classes = sum((any(c.islower() for c in value), upper, any(c.isdigit() for c in value), bool(symbols)))
    return classes >= 3 and (upper or not symbols <= set("-_."))


_NON_LATIN_VALUE = re.compile(
    rf"(?:{PROSE_LOGIN_WORDS_NON_LATIN})[^!-~]{{0,60}}(?:[A-Za-z0-9-]{{1,12}}(?:[^!-~]{{1,10}}|[:=]\s{{0,3}}))?(?:[:=]\s{{0,3}})?[\"'`]?([!-9;-~]{{6}}[!-~]*)"
)
_EMAIL_LIKE = re.compile(r"@[A-Za-z0-9-]+\.[A-Za-z]")
_SETTING = re.compile(r"[a-z_]{2,}=")  # "password field: type=password": a setting, not a value


def _prose_value(value: str) -> bool:
    """A password named by prose or passed by position: password-like, no placeholder, URL, address,
    code (`getpass.getpass()`) or crypt hash."""
    hashed = _HASHED.match(value)
    return (len(value) >= 6 and not _placeholder(value) and _prose_password_ok(value) and "(" not in value
            and not value.startswith(("http://", "https://", "/", "./", "~/"))
            and _EMAIL_LIKE.search(value) is None and _SETTING.match(value) is None
            and (hashed is None or hashed.group().isalnum()))


def named_secret(text: str) -> Span:
    """`assigned_secret`, but a value in a provider's key format is that provider scanner's finding
    (`password = pypi-AgEI…`, `--user 'api:key-…'`)."""
    span = assigned_secret(text)
    if span is not None and (keyformats.PROVIDER_VALUE.match(text, span[0]) or _doc_sample(text)):
        return None
    return span


def assigned_secret(text: str) -> Span:
    """A secret by its name (`aws_secret_access_key = …`, `VAULT_TOKEN=…`, `"password": "…"`) or a
    connection string's password: the value only. Passwords need two character classes, other
    secrets must look random; placeholders and environment lookups are not secrets."""
    conn = _CONNECTION_PASSWORD.match(text) or _DSN.match(text)
    if conn is not None:
        return None if _placeholder(conn.group(1)) else conn.span(1)
    directive = _DIRECTIVE.match(text)
    if directive is not None:
        value = text[directive.end() :].rstrip("\"'`")
        return (directive.end(), directive.end() + len(value)) if _prose_value(value) else None
    header = _HEADER.match(text)
    if header is not None:
        value = text[header.end() :].rstrip("\"'`")
        if len(value) < 8 or _placeholder(value):
            return None
        if header.group(1).lower() != "basic" and not _looks_random(value, 3.0) and len(value) < 20:
            return None
        return header.end(), header.end() + len(value)
    pg = _PGPASS_LINE.match(text)
    if pg is not None:  # `host:port:db:user:password`; MAC addresses and IPv6 go on with colons
        value = text[pg.end() :]
        return (pg.end(), len(text)) if ":" not in value and _prose_value(value) else None
    pos = _POSITIONAL.match(text)
    if pos is not None:
        value = text[pos.end() :].rstrip("\"'`)")
        if not _prose_value(value) or value.startswith(("/", "./", "~/")):
            return None
        return pos.end(), pos.end() + len(value)
    other = _OTHER_FORMS.match(text) if not text.startswith(("--user", "-u")) else None  # `user:pw`: _CLI
    if other is not None:
        value = text[other.end() :].split("<", 1)[0].rstrip("\"'`)")
        name = text[: other.end()].rstrip("=( \"',>")
        if _NAMED_BLOCK.match(name) and not _SECRET_WORD.search(name):
            return None  # `- name: LOG_LEVEL` / `variable "region"`: a setting, not a secret
        if len(value) < 6 or _placeholder(value) or _URL_NAME.search(name) or (
                _ID_NAME.search(name) and not _SESSION_NAME.search(name)):
            return None
        if value.startswith(("/", "./", "~/", "http://", "https://")):
            return None
        if not (_PASSWORD_NAMES.search(name) and _prose_password_ok(value)) and not _looks_random(value, 3.0):
            return None
        return other.end(), other.end() + len(value)
    if text.startswith("--p"):
        return None  # a long option (`--password-file …`, `--port`): `--password=…` is matched by name
    cli = _CLI.match(text)
    if cli is None:
        direct = _PROSE_DIRECT.match(text)
        if direct is not None:  # "Passwort Falcon2011$."
            value = direct.group(1).rstrip(".,;:)\"'`“”»")
            if (_strong_password(value) or _human_password(value)) and _prose_value(value):
                return direct.start(1), direct.start(1) + len(value)
            if direct.end() == len(text):
                return None
        said = _NON_LATIN_VALUE.match(text)
        if said is not None:  # "пароль от почты: …", "पासवर्ड … है", "密码是…"
            value = said.group(1).rstrip(".,;:)\"'`")
            return (said.start(1), said.start(1) + len(value)) if _prose_value(value) else None
    prose = _PROSE.match(text) if cli is None and _SAID_PROSE_START.match(text) else None
    if prose is not None:
        value = prose.group(1).rstrip(".,;:)")
        return (prose.start(1), prose.start(1) + len(value)) if _prose_value(value) else None
    m = _ASSIGN.search(text) if cli is None else None
    if cli is not None:
        j = cli.start(1) if cli.group(1) else cli.start(2) if cli.group(2) else cli.start(3)
        name, value = "password", text[j:].rstrip("\"'`")
        if cli.group(3) and not _strong_password(value):
            return None  # `-w`/`-a` mean other things to most tools: a strong password only
        if cli.group(1) and text[2:3] == " " and text[3:4] not in "\"'" and not _strong_password(value):
            return None  # `-p 8080:80`, `mkdir -p build/out`: an unquoted value must be a strong password
    elif m is None:
        said = _SAID.search(text)  # "the password is …"
        if said is None:
            return None
        name, j = "password", said.start(1)
        value = said.group(1).rstrip(".)")
    else:
        name, j = text[: m.start()], m.end()
        value = text[j:].rstrip("\"'`")
    if value.startswith(("http://", "https://")) or _URL_NAME.search(name):
        return None  # `token_uri`, `auth_url`: endpoints, not secrets
    if len(value) < 6 or _placeholder(value) or (_ID_NAME.search(name) and not _SESSION_NAME.search(name)):
        return None
    hashed = _HASHED.match(value)
    if _HASH_NAME.search(name) or (hashed is not None and not hashed.group().isalnum()):
        return None  # `password_hash: …`, `password: $2b$12$…`, `pbkdf2_sha256$…`: hashes, not secrets
    if _PASSWORD_NAMES.search(name):
        classes = sum((any(c.isalpha() for c in value), any(c.isdigit() for c in value),
                       any(not c.isalnum() for c in value)))
        if classes < 2 and len(value) < 12:
            return None
    elif not (_looks_random(value, 3.0) or (len(value) >= 20 and entropy(value) >= 3.5)):
        return None
    return j, j + len(value)


def _decodes_to_text(core: str) -> bool:
    """Base64 of readable text (an encoded message, not key material). A match may start or end
    inside the encoding (long ones are cut at the tail's limit and matched on): every alignment
    of whole quads, and a multi-byte character cut at either end does not count."""
    core = core.replace("-", "+").replace("_", "/")
    for k in range(4):
        part = core[k:]
        part = part[: len(part) - len(part) % 4]
        try:
            data = base64.b64decode(part, validate=True)
        except (binascii.Error, ValueError):
            continue
        data = data.lstrip(bytes(range(0x80, 0xC0)))[:] if data[:1] and 0x80 <= data[0] < 0xC0 else data
        for cut in range(4):  # a UTF-8 sequence cut by the quad boundary
            try:
                decoded = data[: len(data) - cut].decode()
            except UnicodeDecodeError:
                continue
            if len(decoded) >= 8 and sum(c.isprintable() for c in decoded) >= 0.95 * len(decoded):
                return True
            break
    return False


_WORD_PARTS = re.compile(r"[_\-/+.]+")


def _joined_words(core: str) -> bool:
    """`Q4_report__IGNORE_PREVIOUS_INSTRUCTIONS`: words joined by separators (file names,
    identifiers), each in one case, not random characters."""
    parts = [p for p in _WORD_PARTS.split(core) if p]
    words = [p for p in parts if len(p) >= 3 and p.isalpha() and (p.islower() or p.isupper() or p.istitle())]
    return len(words) >= 3 and sum(map(len, words)) >= 0.6 * len(core)


def high_entropy(text: str) -> Span:
    core = text.rstrip("=")
    if keyformats.PROVIDER_VALUE.match(core) or core.startswith(("pk_live_", "pk_test_")):
        return None  # a provider key is its scanner's finding; Stripe publishable keys are public
    if _doc_sample(core):
        return None
    if _decodes_to_text(core) or _joined_words(core):
        return None
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
