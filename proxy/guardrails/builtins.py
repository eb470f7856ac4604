"""Built-in deterministic scanners: one re2 pattern each, plus an optional check.

Every pattern has a bounded maximum length (the stream hold-back window depends on it);
patterns longer than a window may declare `triggers`, literal prefixes every match starts
with, so the window only grows while such a prefix is pending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxy.guardrails import checks, escapes, keyformats
from proxy.guardrails.normalize import invisible_class

Check = Callable[[str], tuple[int, int] | None]


@dataclass(frozen=True, slots=True)
class Builtin:
    """A scanner. Long findings are matched as a short re2 `pattern`, then extended without a big
    bounded repetition (which would blow up re2's DFA): backwards over `head_chars` (at most
    `head_max`) and forwards by the anchored re2 `tail` inside the next `tail_max` characters.
    """

    name: str
    pattern: str
    label: str  # mask text is "[LABEL]", placeholders are "<LABEL_n>"
    group: str  # "pii" | "secret" | "text"
    check: Check | None = None
    triggers: tuple[str, ...] = ()  # literal prefixes of every match (hold-back shortcut)
    raw_view: bool = False  # match the original text, not the normalised view
    head_chars: str | LocalPart = ""
    head_max: int = 0
    tail: str = ""
    tail_max: int = 0
    shields: tuple[str, ...] = ()  # a "context" rule: findings of these scanners inside it do not count
    # (lead, rest) pairs, one per alternative of `pattern`, for scanners whose finding never starts
    # inside the lead (a secret's name and "=", an SSN label): every finding lies in the `rest` of
    # a match of some lead + rest. A stream then holds back only a rest being written after a whole
    # lead, not the lead itself (output.py). Empty: the finding may start where the match starts.
    leads: tuple[tuple[str, str], ...] = ()
    # A simpler pattern matching at least every match of `pattern` + `tail` (a superset), whose prefix
    # closure a stream holds back instead: the closure of many formats together is a DFA that thrashes.
    superset: str = ""


class LocalPart:
    """Characters of an e-mail local part: ASCII ones (and "&", "#", ";" of a numeric reference: checks.email
    starts the address after any that decodes to none), and letters, digits and combining marks
    (Devanagari vowel signs) of every script."""

    def __contains__(self, ch: object) -> bool:
        return isinstance(ch, str) and (ch in "&#;" or checks.local_char(ch))


_B64 = "A-Za-z0-9+/="
_OCTET = "[0-9]{1,3}"
_AWS = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA")
# A secret by its name: `aws_secret_access_key = …`, `VAULT_TOKEN=…`, `"client_secret": "…"`,
# `Password=…;`, or the password of a connection string (`postgres://user:pw@host`).
_KEY_NAMES = (
    r"(?:secret|token|passw(?:or)?d|passwd|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"credentials?|auth[_-]?key|signing[_-]?key|client[_-]?secret|passphrase|session[_-]?(?:id|key)|"
    r"phpsessid|jsessionid|connect\.sid|webhook[_-]?secret|encryption[_-]?key|master[_-]?key|"
    r"subscription[_-]?key|hmac[_-]?key|jwt[_-]?key|sas[_-]?key|storage[_-]?key|account[_-]?key)"
)
_KEY_NAME = (
    rf"\b[a-z0-9_.-]{{0,32}}(?:{_KEY_NAMES}[a-z0-9_.-]{{0,24}}|pass|pw)[\"']?\]?\s{{0,3}}(?:=|:|=>|:=)"
)
_KEY_OPEN = r"\s{0,3}(?:b?[\"'`])?"  # spaces and a quote (or a Python bytes literal: b'…')
# (lead, value) pairs: XML elements, setter calls, define()/dict pairs and long CLI flags (`<password>…`,
# `setPassword("…")`, `define('DB_PASSWORD', '…')`, `--api-key …`, `IDENTIFIED BY '…'`), HTTP
# credentials (`Authorization: Basic …`/`Bearer …`, `Proxy-Authorization`, cookies) and .netrc lines
# (`machine host login bob password …`). No free-length name runs here: the stream hold-back closure
# of this rule must stay small; a stream holds only the value after a whole lead.
_KEY_OTHER_PAIRS = (
    (rf"<{_KEY_NAMES}>", r"[^\s<]{6}"),
    (rf"\b(?:set|with)_?{_KEY_NAMES}\(\s?[\"'`]", r"[^\s\"'`]{6}"),
    (rf"(?:\b|_){_KEY_NAMES}[\"']\s?,\s?[\"']", r"[^\s\"']{6}"),
    (rf"\B--?(?:[a-z]{{1,8}}-)?(?:{_KEY_NAMES}|pass)[ =][\"']?", r"[^\s\"'-][^\s\"']{5}"),  # -Password (PS)
    (r"\bidentified by [\"']", r"[^\s\"']{6}"),
    (
        r"\b(?:proxy-)?authorization[\"']?\s{0,3}[:=]\s{0,3}[\"']?(?:basic|bearer|token|digest|apikey|sso-key)"
        r"\s{1,3}",
        r"[A-Za-z0-9+/=._~-]{8}",
    ),
    (r"\b(?:set-)?cookie:\s{0,2}[a-z0-9_.-]{1,32}=", r"[^\s;]{8}"),
    (r"\blogin [^\s]{1,32} password ", r"[^\s]{6}"),
    (rf"\b(?:{checks.NAMED_BLOCKS})[\"']?", r"[^\s\"';]{6}"),
    # configuration directives with the value after blanks (redis.conf, ldap.conf, slapd.conf, keepalived)
    (rf"\b(?:{checks.LOGIN_DIRECTIVES})[ \t]{{1,8}}[\"']?", r"[^\s\"']{6}"),
    *((lead, r"[^\s\"']{6}") for lead in checks.POSITIONAL_LEADS),
)
_KEY_OTHER = "|".join(lead + value for lead, value in _KEY_OTHER_PAIRS)
_KEY_VALUE = _KEY_NAME + _KEY_OPEN + r"[^\s\"'`;,]{6}|" + _KEY_OTHER
_CONNECTION_USER = r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@\"']{0,64}:"
_CONNECTION = _CONNECTION_USER + r"[^\s@/\"']{3,64}@"
# A DSN without a scheme (Go's MySQL driver): `"user:password@tcp(host:3306)/db"`, `DSN=…@unix(/run/…)`;
# after a quote or "=" only (a run of name characters after every word boundary thrashes the DFA).
_DSN_USER = r"[\"'`=][a-z0-9_.-]{1,32}:"
_DSN_REST = r"[^\s:@/\"']{3,64}@(?:tcp6?|udp|unix)\("
# Passwords on a command line (`mysql -p'…'`, `docker login -p …`, `curl -u user:pw`). `--p…` is matched
# too (a long option such as `--password-file`) and rejected by the check, as are unquoted values that
# are no strong password (`-p 8080:80`, `mkdir -p build/out`).
_CLI_LOGIN = (
    r"\B--?p(?:[\"']?[^\s\"'-][^\s\"']{5}| [\"'][^\s\"']{6}| [^\s\"'-][^\s\"']{5})|"
    r"\B-[wa] [\"']?[^\s\"'-][^\s\"']{5}|"  # `ldapsearch -w …`, `redis-cli -a …`: strong passwords only
    r"\B(?:-u|--user)[ =][\"']?[^\s:\"'@/]{1,64}:[^\s\"'@]{3}"
)
# A password in prose after a non-Latin keyword: "Пароль от почты: …", "密码是…", "पासवर्ड … है",
# "كلمة المرور … هي …": non-ASCII words, an optional colon, an ASCII value (no colon in its first six
# characters). "パスワードは12文字以上" is CJK prose (the check wants a password-like value).
_SAID_LOGIN = (
    rf"(?:{checks.PROSE_LOGIN_WORDS_NON_LATIN})[^!-~]{{0,60}}(?:[A-Za-z0-9-]{{1,12}}(?:[^!-~]{{1,10}}|[:=]\s{{0,3}}))?(?:[:=]\s{{0,3}})?[\"'`]?[!-9;-~]{{6}}"
)
# A password in Latin-script prose: "das WLAN-Passwort ist …", "hasło do VPN: …", "the password for
# the admin account is now …", "la password dell'account è …", or the value right after the word
# ("Passwort Falcon2011$", checked harder). The keyword list is closed (no free word starts a
# match), so a stream holds back only after one of these words.
_SAID_LATIN = (
    rf"(?:\b(?:{checks.PROSE_LOGIN_WORDS})\b|{checks.PROSE_LOGIN_WORDS_NON_ASCII})"
    rf"(?:(?: [^\s:=]{{1,20}}){{0,5}}(?:\s(?:{checks.PROSE_VERBS})(?:\s(?:{checks.PROSE_ADVERBS}))?|\s?[:：])"
    r"\s{0,3}[\"'`„“«]?|\s[\"'`„“«]?)[!-~]{6}"
)
# separators inside card numbers (after NFKC): also tab, a form-encoded "+", and any of them escaped in a
# URL, HTML or JSON (escapes.py; checks.card reads them plain)
_DIGIT_SEP = f"(?:[ ./\\-_\u2010-\u2015\u2212\t+]|{checks.ESCAPED_SEPARATOR})"
_NON_ASCII = "\x80-\U0010ffff"  # any non-ASCII character: compact in re2, unlike \\p{L}
# A letter or digit of an address written as an HTML numeric reference (`&#106;&#111;…`, zero-padded, with
# or without its ";", the "&" escaped again) or percent-escaped (`%6A%6F…`, `%256A`): the usual mail-to
# obfuscation. checks.email decodes them, and the local part's backward extension (LocalPart) takes "&",
# "#" and ";". A "-" too inside a label; "." and "@" are _DOT and _AT.
_ENT_ALNUM = (
    r"(?:&(?:amp;)?#(?:0{0,2}(?:4[89]|5[0-7]|6[5-9]|[78][0-9]|9[07-9]|1[01][0-9]|12[0-2])"
    r"|[xX]0{0,2}(?:3[0-9]|4[1-9a-fA-F]|5[0-9aA]|6[1-9a-fA-F]|7[0-9aA]));?"
    r"|%(?:25)?(?:3[0-9]|4[1-9a-fA-F]|5[0-9aA]|6[1-9a-fA-F]|7[0-9aA]))"
)
_ENT_HYPHEN = r"(?:&(?:amp;)?#(?:0{0,2}45|[xX]0{0,2}2[dD]);?|%(?:25)?2[dD])"
_DOMAIN_CHAR = f"(?:[A-Za-z0-9{_NON_ASCII}]|{_ENT_ALNUM})"
_LABEL_CHAR = f"(?:[A-Za-z0-9{_NON_ASCII}-]|{_ENT_ALNUM}|{_ENT_HYPHEN})"
_TLD_CHAR = f"(?:[A-Za-z{_NON_ASCII}]|{_ENT_ALNUM})"
# "@" and "." escaped: JSON (`john\u0040example.com`, once or twice: a tool's arguments, pasted JSON),
# HTML character references (`&#64;`, `&#x40;`, `&commat;`: markup, a mail-to link) and URL percent-
# encoding (`%40`: a query string); checks.email reads them as "@" and ".".
# (a browser reads a numeric reference without its ";" too: checks.email keeps only those no digit
# continues)
_ESC_AT = escapes.escaped(escapes.ATS, bare_numeric=True)
_ESC_DOT = escapes.escaped(escapes.DOTS, bare_numeric=True)
# "@" and "." spelled out ("name (at) domain [dot] com", "name AT domain DOT com", "juan arroba
# dominio punto es", "name@domain . ch"): checks.email wants a known TLD and guards the bare-word forms.
_AT = rf"(?:@|{_ESC_AT}|\s@\s|\s?[\[({{<]\s?(?i:{checks.AT_WORDS})\s?[\])}}>]\s?|\s(?i:{checks.AT_WORDS})\s)"
_DOT = (
    rf"(?:\.|{_ESC_DOT}|\s\.\s|"
    rf"\s?[\[({{<]\s?(?i:{checks.DOT_WORDS})\s?[\])}}>]\s?|\s(?i:{checks.DOT_WORDS})\s)"
)
# What suppresses a phone finding when written right before the number: an IBAN-shaped token
# (country code, two digits, groups; valid or not: its digit groups are no phone) or a part, order,
# invoice, reference, ticket or serial label. Matched as part of the phone match (so streams and
# whole texts agree) and rejected by checks.phone.
_IBAN_SHAPE = r"(?i:\b[a-z]{2}[0-9]{2}(?:[ -]?[a-z0-9]{4}){0,7}[ -]?)"  # country, check digits, groups
_PHONE_SUPPRESS = (
    rf"(?i:{_IBAN_SHAPE}"
    r"|\+\+\+|\*\*\*"  # a Belgian structured payment reference: +++090/9337/55493+++
    r"|\b(?:[a-z]{1,4}[0-9]|[0-9]{1,4}[a-z])[a-z0-9]{0,8}[ -]"  # a code of letters and digits (1Z 999 AA1)
    r"|\b(?:isbn(?:-1[03])?|issn|ean|upc|gtin|doi|pages?|pp|part|parts|item|article|art|order|po|ref|"
    r"reference|sku|invoice|ticket|serial|s/n|lot|batch|"
    r"model|tracking|artikel|bestell|bestellung|auftrag|rechnung|referenz|vorgang|commande|facture|"
    r"référence|réf|pièce|pedido|factura|referencia|pieza|albarán|ordine|fattura|riferimento|articolo|"
    r"bestelling|factuur|(?:artikel|bestell|auftrags|rechnungs|kunden|vertrags|teile|sach|vorgangs|referenz|"
    r"serien|bestel|order|factuur|chargen|los|ticket)nummer|"
    r"(?:account|customer|contract|policy|claim|case|product|shipment|kunden|vertrag|dossier)"
    r"[ .-]{0,2}(?:no|nr|num|number|#|id))"
    r"(?:[ .-]{0,2}(?:no|nr|n°|nº|num|number|nummer|numéro|número|numero|id|code|#))?[.:#]{0,2}\s{0,3})"
)
# a phone's "+" and separators, plain or escaped in a URL, HTML or JSON (checks.phone reads them plain)
_ESC_SEP = checks.ESCAPED_SEPARATOR
_PHONE_SEP = rf"(?:[ .\-/]|{_ESC_SEP})"
_NANP_SEP = rf"(?:[ .-]|{_ESC_SEP})"
_PLUS = rf"(?:\+|{checks.ESCAPED_PLUS})"
_LPAREN = rf"(?:\(|{escapes.escaped('(')})"  # an area code's parentheses, plain or escaped (`%28`, `&#40;`)
_RPAREN = rf"(?:\)|{escapes.escaped(')')})"
_PHONE = (
    rf"{_PHONE_SUPPRESS}?"
    rf"(?:(?:{_PLUS}|\b00)[1-9][0-9]{{0,3}}(?:{_PHONE_SEP}?\(?[0-9]{{1,5}}\)?){{2,6}}\b"  # international
    # national: trunk 0 or (area); a digit group before it (card, IBAN, tracking ids) is matched too,
    # and rejected
    rf"|(?:\b[0-9]{{1,6}}{_PHONE_SEP})?"
    rf"(?:{_LPAREN}0?[1-9][0-9]{{0,4}}{_RPAREN}(?: |{_ESC_SEP})?|\b0[1-9][0-9]{{0,4}}{_PHONE_SEP}?)"
    rf"[0-9]{{2,5}}(?:{_PHONE_SEP}?[0-9]{{2,5}}){{0,3}}\b"
    r"|\b[6-9][0-9]{4}[ -][0-9]{5}\b"  # India, 5+5
    # Russia, Belarus, Kazakhstan: trunk 8
    r"|\b8[ -]?(?:\([3-9][0-9]{2,4}\)|[3-9][0-9]{2,4})[ -]?[0-9]{1,3}(?:[ -]?[0-9]{2}){2}\b"
    rf"|(?i:\b(?:{checks.PHONE_LABELS})\b"  # labelled
    r"\.?:?\s{0,3})[1-9][0-9]{1,3}(?:[ .\-/][0-9]{2,4}){2,4}\b"
    # labelled in Chinese, Japanese or Korean (no word boundaries there), a few words between
    rf"|(?:{checks.CJK_PHONE_LABELS})[^0-9+\n]{{0,6}}\+?[0-9](?:[ -]?[0-9]){{6,14}}\b"
    r"|(?i:\bwa\.me/|[?&]phone=)[1-9][0-9]{7,14}\b"  # a WhatsApp link
    # mobiles without a trunk prefix (checks._NO_TRUNK); a digit group before or after is matched too
    # (an amount's currency too: "612 345 678 €" is money, rejected by the check)
    r"|(?:[€$£] ?|\b[0-9]{1,6} )?\b(?:[6-9][0-9]{2}(?: [0-9]{2}){3}|[5-9][0-9]{2}(?: [0-9]{3}){2}"
    r"|1[3-9][0-9](?:[ -][0-9]{4}){2}|3[0-9]{2} [0-9]{3} [0-9]{3,4})(?: [0-9]{1,6})?\b"
    rf"(?: ?[€$£]| (?i:{checks.CURRENCY_WORDS}))?"
    rf"|(?:\b1{_NANP_SEP}?)?"
    rf"(?:{_LPAREN}[2-9][0-9]{{2}}{_RPAREN}(?: |{_ESC_SEP})?|\b[2-9][0-9]{{2}}{_NANP_SEP})"
    rf"[2-9][0-9]{{2}}{_NANP_SEP}[0-9]{{4}}\b)"  # NANP
)
# SSN labels (en, es, de): nine digits, compact or spaced, near one are an SSN.
_SSN_LABEL = (
    r"(?:(?i:(?:\b|_)(?:ss#|ssn#|ss no\.|ss nr\.))|"  # ends in "#" or ".": no \b after it
    r"(?i:(?:\b|_)(?:ssns?|social[ -]?security(?:[ -](?:number|no\.?|nr\.?|#))?|"
    r"social[ -]sec\b\.?|"
    r"soc\.? sec\.?|seguro social|seguridad social|sozialversicherungsnummer|sécurité sociale|"
    r"securite sociale|"
    r"previdenza sociale|segurança social|seguranca social|(?:my|his|her|their|your|our) social|"
    # a possessive ("my husband's social") and the US tax context (IRS, a tax return)
    r"[a-z]{2,20}['’]s social|irs|tax returns?)\b)|"
    r"[a-z0-9](?:SSN|Ssn)\b)"
)
# nine digits, compact or grouped 3-2-4 by spaces, dots or dashes (one kind), each separator also as
# it is escaped in a URL, HTML or JSON (escapes.py; checks.ssn reads them plain)
_DASH = rf"(?:-|{checks.ESCAPED_SEPARATOR})"
_SSN_SEP = rf"(?:[ .-]|{checks.ESCAPED_SEPARATOR})"  # one kind in a number: checks.ssn sees to it
_SSN_DIGITS = rf"\b[0-9]{{3}}(?:[0-9]{{2}}|{_SSN_SEP}[0-9]{{2}}{_SSN_SEP})[0-9]{{4}}\b"
_SSN_DASHED_REST = rf"[0-9]{{3}}{_DASH}[0-9]{{2}}{_DASH}[0-9]{{4}}\b"
_SSN_DASHED = rf"\b{_SSN_DASHED_REST}"
# a value's delimiter escaped right before it (`?ssn%3D536-22-1234`, `\u003d`): no word boundary there
_GLUED = escapes.GLUED
_SSN_NOT = checks.SSN_NOT  # a lot or serial label, or a letter code: matched, and rejected by the check
# a label, then the number within two lines (tables, CSV) and 60 characters
_SSN_BEFORE = rf"{_SSN_LABEL}(?:[^\n]{{0,80}}\n){{0,2}}[^\n]{{0,60}}?"
_SSN_AFTER = rf"{_SSN_DIGITS}[^\n0-9;.!?]{{0,30}}?{_SSN_LABEL}"  # the number, a label after it
# "social" alone right before the number ("for the tax guy: social 754 91 8909")
_SSN_SOCIAL = r"(?i:\bsocial\b[ :#.]{1,3})"
_CARD_REST = rf"(?:[0-9]{_DIGIT_SEP}?){{11,18}}[0-9]\b"
_CARD_DIGITS = rf"\b{_CARD_REST}"
# A card word before the digits (then a 12-digit Maestro number is a card too).
_CARD_NAMED = rf"{checks.CARD_WORDS}[^0-9\n]{{0,30}}"
# Azure: storage/Service Bus connection strings, keys by name, and the signature of a SAS token
_AZURE_NAME = (
    r"(?i:\b(?:AccountKey|SharedAccessKey|azure[_-]?(?:[a-z]{2,12}[_-]?){0,2}key)[\"']? ?[=:] ?[\"']?"
    r"|[?&;]sig=)"
)
_AZURE_VALUE = r"[A-Za-z0-9+/%]{32}"
# Labels of numbered sections, versions and figures ("section 3.2.1.4", "§ 4.1.2.3", "build 1.2.3.4").
_NUMBERING = (
    r"(?i:(?:\b(?:sections?|sec|chapters?|clauses?|paragraphs?|para|articles?|art|rules?|steps?|figures?|fig|"
    r"tables?|appendix|annex|versions?|ver|releases?|builds?|rev|revision|items?|kapitel|abschnitt|absatz|"
    r"ziffer|chapitre|paragraphe|apartado|capítulo|sección|sezione|capitolo|articolo|hoofdstuk|rozdział|"
    r"punkt)\.?|§)\s{0,2})"
)
_IBAN_SEP = rf"(?:[ -]|{checks.ESCAPED_SEPARATOR})"  # escaped too: checks.iban reads them
_IBAN_BODY = rf"[0-9]{{2}}{_IBAN_SEP}?(?:[A-Z0-9]{{4}}{_IBAN_SEP}?){{2,7}}[A-Z0-9]{{1,4}}\b"
# What checks.iban can accept: a known country code, written in one case ("It", "In": never).
_IBAN_COUNTRY = "|".join(sorted(checks.IBAN_LENGTHS)) + "|" + "|".join(sorted(checks.IBAN_LENGTHS)).lower()
_PEM_BREAK = r"(?:\s|\\{1,3}[rn])+"  # a line break: real, or escaped once or twice ("\n", "\\n")

BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin(
            "email",
            rf"{_AT}(?:{_DOMAIN_CHAR}(?:{_LABEL_CHAR}{{0,40}}{_DOMAIN_CHAR})?{_DOT}){{1,4}}"
            f"{_TLD_CHAR}{{2,24}}(?::[0-9]{{1,5}}|:[A-Za-z~/._-]|[^A-Za-z0-9{_NON_ASCII}_@\\s&%\\\\-]|\\b|\\s|$)",
            "EMAIL",
            "pii",
            checks.email,
            head_chars=LocalPart(),
            head_max=96,
        ),
        Builtin("phone", _PHONE, "PHONE", "pii", checks.phone),
        # An IBAN-shaped token before the digits is matched too, and rejected: its groups are no card.
        Builtin(  # an IBAN-shaped lead is matched and rejected by the check: findings are digits only
            "card",
            rf"{_IBAN_SHAPE}?{_CARD_DIGITS}|{_CARD_NAMED}{_CARD_DIGITS}|{_GLUED}{_CARD_REST}",
            "CARD",
            "pii",
            checks.card,
            leads=(("", _CARD_DIGITS), (_CARD_NAMED, _CARD_DIGITS), (_GLUED, _CARD_REST)),
        ),
        Builtin(
            "iban",
            rf"(?i)(?:\b|{_GLUED})[A-Z]{{2}}{_IBAN_BODY}",
            "IBAN",
            "pii",
            checks.iban,
            # the country code stays
            leads=((rf"(?:\b|{_GLUED})(?:{_IBAN_COUNTRY})", rf"(?i:{_IBAN_BODY})"),),
        ),
        Builtin(
            "ssn",
            # dashed, or with a label before or after the number
            rf"{_SSN_NOT}?{_SSN_DASHED}|{_GLUED}{_SSN_DASHED_REST}|{_SSN_BEFORE}{_SSN_DIGITS}|{_SSN_AFTER}"
            rf"|{_SSN_SOCIAL}{_SSN_DIGITS}",
            "SSN",
            "pii",
            checks.ssn,
            leads=(
                (f"{_SSN_NOT}?", _SSN_DASHED), (_GLUED, _SSN_DASHED_REST), (_SSN_BEFORE, _SSN_DIGITS),
                ("", _SSN_AFTER),
                (_SSN_SOCIAL, _SSN_DIGITS),
            ),
        ),
        Builtin(  # a section, version or figure label before it is matched too, and rejected
            "ipv4", rf"{_NUMBERING}?\b{_OCTET}(?:\.{_OCTET}){{3,5}}\b", "IP", "pii", checks.ipv4,
            leads=(("", rf"\b{_OCTET}(?:\.{_OCTET}){{3,5}}\b"),),
        ),
        Builtin(
            "ipv6",
            r"(?i)(?:\b[0-9a-f]{1,4}|::)(?::{1,2}[0-9a-f]{0,4}){1,7}"
            r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3})?",
            "IP",
            "pii",
            checks.ipv6,
        ),
        Builtin(
            "private_key",
            r"-----BEGIN [A-Z0-9 ]{0,24}PRIVATE KEY(?: BLOCK)?-----",
            "PRIVATE_KEY",
            "secret",
            triggers=("-----BEGIN ",),
            tail=rf"(?:{_PEM_BREAK})?(?:[A-Za-z-]+: [^\n\\]*{_PEM_BREAK})*[{_B64}]{{16,}}"  # a break, or none
            rf"(?:[{_B64}\s]|\\{{1,3}}[rn]){{16,}}"
            r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?",
            tail_max=6000,
        ),
        Builtin(
            "aws_key",
            r"\b(?:" + "|".join(_AWS) + r")[A-Z2-7]{16}\b",
            "AWS_KEY",
            "secret",
            checks.aws_key,
            triggers=_AWS,
        ),
        Builtin("gcp_key", r"\bAIza[0-9A-Za-z_-]{35}(?:\b|$)", "GCP_KEY", "secret", checks.provider_key,
                triggers=("AIza",)),
        Builtin(
            "azure_key",
            _AZURE_NAME + _AZURE_VALUE,
            "AZURE_KEY",
            "secret",
            checks.assigned_secret,
            leads=((_AZURE_NAME, _AZURE_VALUE),),
            tail="[A-Za-z0-9+/%]*={0,2}",
            tail_max=60,
        ),
        Builtin(
            "github_token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36}\b|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b)",
            "GITHUB_TOKEN",
            "secret",
            checks.provider_key,
            triggers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        ),
        Builtin(
            "slack_token",
            r"\b(?:xox[abposre]-[0-9]{1,14}-[A-Za-z0-9-]{8,72}\b|xapp-[0-9]-[A-Z0-9]{8,12}-[0-9]{8,14}-[a-f0-9]{32}|"
            r"hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{6,12}/[A-Z0-9/]{8,30}/[A-Za-z0-9]{20,32})",
            "SLACK_TOKEN",
            "secret",
            checks.provider_key,
            triggers=("xox", "xapp-", "hooks.slack.com"),
        ),
        Builtin(
            "anthropic_key",
            r"\bsk-ant-(?:api|admin|sid)[0-9]{2}-[A-Za-z0-9_-]{80}",
            "ANTHROPIC_KEY",
            "secret",
            triggers=("sk-ant-",),
            tail="[A-Za-z0-9_-]*",
            tail_max=40,
        ),
        Builtin(
            "openai_key",
            r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{32}",
            "OPENAI_KEY",
            "secret",
            checks.openai_key,
            triggers=("sk-",),
            tail="[A-Za-z0-9_-]*",
            tail_max=170,
        ),
        Builtin(
            "stripe_key",
            r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{24,99}\b",
            "STRIPE_KEY",
            "secret",
            checks.provider_key,
            triggers=("sk_live_", "sk_test_", "rk_live_", "rk_test_"),
        ),
        Builtin(
            "vendor_token",
            keyformats.VENDOR_PATTERN,
            "TOKEN",
            "secret",
            checks.provider_key,
            triggers=keyformats.VENDOR_TRIGGERS,
            tail="[A-Za-z0-9_-]*={0,2}",  # tokens grow past their documented length
            tail_max=100,  # pattern + tail within the short stream window (256)
            superset=keyformats.VENDOR_SUPERSET,
        ),
        Builtin(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{10}",
            "JWT",
            "secret",
            checks.jwt,
            triggers=("eyJ",),
            tail=r"[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,}",
            tail_max=8000,
        ),
        Builtin(
            "api_key",
            f"(?i){_KEY_VALUE}|{_CONNECTION}|{_DSN_USER}{_DSN_REST}|{_CLI_LOGIN}|{_SAID_LOGIN}|{_SAID_LATIN}",
            "SECRET",
            "secret",
            checks.named_secret,
            tail="[^\\s\"'`;,]*",
            tail_max=200,
            leads=(
                (f"(?i:{_KEY_NAME}{_KEY_OPEN})", r"[^\s\"'`;,]{6}"),
                (f"(?i:{_CONNECTION_USER})", r"[^\s@/\"']{3,64}@"),
                (f"(?i:{_DSN_USER})", f"(?i:{_DSN_REST})"),
                *((f"(?i:{lead})", f"(?i:{value})") for lead, value in _KEY_OTHER_PAIRS),
                ("", f"(?i:{_CLI_LOGIN})"),
                ("", f"(?i:{_SAID_LOGIN})"),
                ("", f"(?i:{_SAID_LATIN})"),
            ),
        ),
        Builtin(
            "high_entropy",
            # a token may start with "+", "/" or "-" (base64, base64url), where no \b is
            r"\b[A-Za-z0-9+/_-]{32}|[+/-][A-Za-z0-9+/_-]{31}",
            "SECRET",
            "secret",
            checks.high_entropy,
            tail="[A-Za-z0-9+/_-]*={0,2}",
            tail_max=98,
        ),
        Builtin("invisible", invisible_class() + "+", "", "text", raw_view=True),  # one finding per run
    )
}

# Encodings that look random but are no secret: certificates and public keys, data URLs, npm/SRI
# integrity hashes, SSH public keys, URLs. High-entropy findings inside them do not count.
SHIELDS: tuple[Builtin, ...] = (
    Builtin(
        "public_pem",
        r"-----BEGIN (?:CERTIFICATE|TRUSTED CERTIFICATE|PUBLIC KEY|RSA PUBLIC KEY|EC PUBLIC KEY|X509 CRL|"
        r"(?:NEW )?CERTIFICATE REQUEST|PGP PUBLIC KEY BLOCK|PGP SIGNATURE|SSH2 PUBLIC KEY)-----",
        "",
        "text",
        tail=r"(?:[A-Za-z0-9+/=\s:,.()-]|\\[rn])*-----END [A-Z0-9 ]{1,40}-----",
        tail_max=16000,
        shields=("high_entropy",),
    ),
    Builtin("data_url", r"(?i)\bdata:[a-z]{1,20}/[a-z0-9.+-]{1,60};base64,", "", "text",
            tail=r"(?:[A-Za-z0-9+/=\s]|\\[rn])*", tail_max=65536, shields=("high_entropy",)),
    Builtin("integrity", r"\bsha(?:1|256|384|512)-", "", "text", tail="[A-Za-z0-9+/]{16,}={0,2}",
            tail_max=100, shields=("high_entropy",)),
    # `SHA256:oV4X…` (SSH key fingerprints), `sha512:…` digests
    Builtin("fingerprint", r"(?i)\b(?:sha(?:1|256|384|512)|md5):", "", "text", tail="[A-Za-z0-9+/=_-]{16,}",
            tail_max=100, shields=("high_entropy",)),
    # a public or publishable key by its name (`STRIPE_PUBLISHABLE_KEY=pk_live_…`, `VAPID_PUBLIC_KEY=B…`)
    Builtin("public_value",
            r"(?i)\b[a-z0-9_.-]{0,32}(?:public|publishable|pub)[_-]?key[\"']?\s{0,3}[:=]\s{0,3}[\"']?", "",
            "text", tail="[A-Za-z0-9+/=_.-]{16,}", tail_max=200, shields=("high_entropy",)),
    # crypt-format password hashes (`$2b$12$…`, `$argon2id$…`, Django's `pbkdf2_sha256$…`)
    Builtin("password_hash", r"(?:\$(?:2[abxy]?|argon2(?:id|i|d)|[156y]|scrypt|pbkdf2[a-z0-9-]{0,16})|"
            r"\b(?:pbkdf2_sha(?:1|256|512)|bcrypt(?:_sha256)?|argon2))\$", "", "text",
            tail="[A-Za-z0-9./+=$,-]{16,}", tail_max=300, shields=("high_entropy",)),
    Builtin("ssh_public_key", r"\b(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-nistp(?:256|384|521)) ", "", "text",
            tail="AAAA[A-Za-z0-9+/]*={0,2}", tail_max=20000, shields=("high_entropy",)),
    # `scheme://user:password@host`, `https://<token>@github.com`: the password is a secret (api_key),
    # a token its provider's; the `…@host` is no address.
    Builtin("url_userinfo", r"(?i)\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@\"']{0,64}(?::[^\s@/\"']{3,64})?@", "",
            "text", tail="[A-Za-z0-9.-]*", tail_max=255, shields=("email",)),
    Builtin("url", r"(?i)\b(?:https?|ftp)://", "", "text", tail=r"[^\s\"'<>()\[\]{}`]*", tail_max=4096,
            shields=("high_entropy",)),
)

# Scanners that are not one pattern each.
SPECIAL_SCANNERS = ("injection", "regex", "substring", "topic")
