"""Escaped characters (escapes.py) and the PII they hide: every spelling `escaped` generates is one that
`decode` reads back, in every form a URL, HTML, JSON or source string writes it, once or twice escaped;
an SSN, card, IBAN, phone number or address written with them is found on input and on output, whole
and streamed in any chunking, and the tenant gets back what it wrote."""

from __future__ import annotations

import re

import pytest
import re2

from domains.guardrail_default import DEFAULT_GUARDRAIL_POLICY
from proxy.guardrails import OutputGuard, compile_policy, escapes, scan_request
from proxy.guardrails.normalize import normalize
from tests.guardrails.streaming import stream_checked

SETS = {
    "-": escapes.DASHES, ".": escapes.DOTS, " ": escapes.SPACES, "+": escapes.PLUSES,
    "@": escapes.ATS, "/": escapes.SLASHES, "_": escapes.UNDERSCORES,
}


LOOSE = re2.compile(escapes.ESCAPE)


def spellings(ch: str) -> list[str]:
    """Ways to write `ch` escaped, written out independently of escapes.py's generator."""
    cp = ord(ch)
    base = [f"&#{cp};", f"&#0{cp};", f"&#x{cp:x};", f"&#X{cp:X};", f"&#x{cp:04X};",
            "".join(f"%{b:02X}" for b in ch.encode()), "".join(f"%{b:02x}" for b in ch.encode())]
    if cp <= 0xFFFF:
        base += [f"\\u{cp:04x}", f"\\u{cp:04X}", f"\\\\u{cp:04x}"]
    if cp <= 0xFF:
        base.append(f"\\x{cp:02x}")
    base += [f"\\u{{{cp:x}}}", f"\\U{cp:08x}"]
    twice = [f"&amp;#{cp};", f"&amp;#x{cp:x};", "".join(f"%25{b:02X}" for b in ch.encode()),
             f"\\\\\\\\u{cp:04x}" if cp <= 0xFFFF else f"\\\\U{cp:08x}"]
    return base + twice


def test_the_sets_are_what_the_entity_view_folds() -> None:
    for plain, chars in SETS.items():
        folded = {
            chr(c) for c in range(0x10000)
            if not 0xD800 <= c < 0xE000 and normalize(chr(c), fold=True)[0] == plain
        }
        assert folded == set(chars), plain


@pytest.mark.parametrize("plain", list(SETS))
def test_every_spelling_matches_and_decodes_to_its_character(plain: str) -> None:
    pattern = escapes.escaped(SETS[plain])
    std, fast = re.compile(pattern), re2.compile(pattern)
    for ch in SETS[plain]:
        for spelling in spellings(ch):
            assert std.fullmatch(spelling) and fast.fullmatch(spelling), spelling
            if spelling.count("%25") < 3:  # ESCAPE leaves out three bytes escaped twice (its comment)
                assert LOOSE.fullmatch(spelling), spelling
            decoded, starts = escapes.decode(f"a{spelling}b")
            assert decoded == f"a{plain}b", spelling
            assert starts == [0, 1, 1 + len(spelling), 2 + len(spelling)], spelling


def test_named_references_match_their_characters() -> None:
    for name, plain in [("&ndash;", "-"), ("&hyphen;", "-"), ("&minus;", "-"), ("&nbsp;", " "),
                        ("&nbsp", " "), ("&amp;nbsp;", " "), ("&period;", "."), ("&commat;", "@"),
                        ("&amp;commat;", "@"),
                        ("&plus;", "+"), ("&sol;", "/"), ("&lowbar;", "_"), ("&UnderBar;", "_")]:
        chars = SETS[plain]
        assert re.fullmatch(escapes.escaped(chars), name), name
        assert escapes.decode(name)[0] == plain, name


@pytest.mark.parametrize(("text", "plain"), [
    ("&#4511", "\u119f"),  # a browser reads every digit: no "-" here
    ("&#x40e", "\u040e"),
    ("&nbsp1", " 1"),  # a legacy name without ";", then a digit
    ("&unknown;x", "&unknown;x"),
    ("%E2%80%93", "-"),  # en dash, UTF-8
    ("%E2%80", "\ufffd"),  # half a character
    ("%zz", "%zz"),
    ("\\ud83d", "\ufffd"),  # half an emoji
    ("50%", "50%"),
    ("a&amp;b", "a&amp;b"),  # an escaped "&" before no reference stays
])
def test_decode_reads_like_a_browser_or_a_parser(text: str, plain: str) -> None:
    decoded, starts = escapes.decode(text)
    assert decoded == plain
    assert len(starts) == len(decoded) + 1 and starts[-1] == len(text)


def test_a_numeric_reference_needs_its_semicolon_before_digits() -> None:
    assert not re.fullmatch(escapes.escaped(escapes.DASHES), "&#45")
    assert re.fullmatch(escapes.escaped(escapes.ATS, bare_numeric=True), "&#64")


POLICY = compile_policy({"version": 1, "rules": [
    {"id": "pii.ssn", "scanner": "ssn", "input": "pseudonymize", "output": "mask"},
    {"id": "pii.card", "scanner": "card", "input": "pseudonymize", "output": "mask"},
    {"id": "pii.iban", "scanner": "iban", "input": "pseudonymize", "output": "mask"},
    {"id": "pii.phone", "scanner": "phone", "input": "pseudonymize", "output": "mask"},
    {"id": "pii.email", "scanner": "email", "input": "pseudonymize", "output": "mask"},
]})
CARD = ("4111", "1111", "1111", "1111")
SSN = ("536", "22", "1234")
IBAN = ("DE89", "3704", "0044", "0532", "0130", "00")
ADDRESS = "nadia.iyer@example.com"
CASES = [  # (rule, the value as written, a frame, a digit run that must not go through)
    ("pii.ssn", "&amp;#45;".join(SSN), "<td>{}</td>", "1234"),  # markup escaped twice
    ("pii.ssn", "%252D".join(SSN), "https://a.example/r?u=https%3A%2F%2Fb.example%3Fssn%3D{}", "1234"),
    ("pii.ssn", "\\\\\\\\u002d".join(SSN), '{{"a": "{}"}}', "1234"),
    ("pii.ssn", "&ndash;".join(SSN), "<td>{}</td>", "1234"),
    ("pii.ssn", "&#8211;".join(SSN), "<td>{}</td>", "1234"),
    ("pii.ssn", "%E2%80%90".join(SSN), "id={}", "1234"),
    ("pii.ssn", "\\x2d".join(SSN), "s = '{}'", "1234"),
    ("pii.ssn", "536-22-1234", "SSN (photo 4&times;6): {}", "1234"),  # another escape near the label
    ("pii.ssn", "536221234", "SSN, see item 3&amp;4: {}", "1234"),
    ("pii.card", " ".join(CARD), "Item 1&#10;{}", "1111"),  # an escape that separates nothing before it
    ("pii.card", " ".join(CARD), "Qty 2&times;{}", "1111"),
    ("pii.card", " ".join(CARD), "{}&#10;2 more", "1111"),
    ("pii.ssn", "\\u{2d}".join(SSN), "let s = `{}`", "1234"),
    ("pii.card", "%2D".join(CARD), "https://shop.example/pay?card={}&cvv=1", "1111"),
    ("pii.card", "&#45;".join(CARD), "<td>{}</td>", "1111"),
    ("pii.card", "\\u002e".join(CARD), '{{"pan": "{}"}}', "1111"),
    ("pii.card", "&#160;".join(CARD), "<td>{}</td>", "1111"),
    ("pii.card", "&#xA0;".join(CARD), "<td>{}</td>", "1111"),
    ("pii.card", "%C2%A0".join(CARD), "card={}", "1111"),
    ("pii.card", "&amp;nbsp;".join(CARD), "<td>{}</td>", "1111"),
    ("pii.card", "%2520".join(CARD), "next=%2Fpay%3Fcard%3D{}", "1111"),
    ("pii.card", "%2F".join(CARD), "card={}", "1111"),
    ("pii.card", "&mdash;".join(CARD), "<td>{}</td>", "1111"),
    ("pii.card", "%09".join(CARD), "card={}", "1111"),
    ("pii.iban", "&#160;".join(IBAN), "<td>{}</td>", "0532"),
    ("pii.iban", "%2520".join(IBAN), "next=%3Fiban%3D{}", "0532"),
    ("pii.phone", "&amp;#43;44&amp;#32;20&amp;#32;7946&amp;#32;0958", "<td>{}</td>", "0958"),
    ("pii.phone", "%252B4915112345678", "next=%3Fphone%3D{}", "5678"),
    ("pii.phone", "+44&#160;20&#160;7946&#160;0958", "<td>{}</td>", "0958"),
    ("pii.phone", "%28212%29%20555-0142", "call {}", "0142"),  # an area code's parentheses escaped
    ("pii.phone", "&#40;212&#41;&#32;555&#45;0142", "<td>{}</td>", "0142"),
    ("pii.phone", "%28030%29%2012345678", "ruf {} an", "5678"),
    ("pii.email", "nadia.iyer&amp;#64;example.com", "<a>{}</a>", "iyer"),
    ("pii.email", "nadia.iyer%2540example.com", "next=%3Fto%3D{}", "iyer"),
    ("pii.email", "nadia.iyer\\x40example.com", "s = '{}'", "iyer"),
    ("pii.email", "nadia.iyer\\u{40}example.com", "s = `{}`", "iyer"),
    ("pii.email", "nadia.iyer%EF%BC%A0example.com", "to={}", "iyer"),  # a fullwidth "@", UTF-8
    # every character a numeric reference: the usual mail-to obfuscation
    ("pii.email", "".join(f"&#{ord(c)};" for c in ADDRESS), "mail {} now", "&#121;&#101;"),
    ("pii.email", "".join(f"&#x{ord(c):x};" for c in ADDRESS), '<a href="mailto:{}">', "&#x79;"),
    ("pii.email", "n&#97;dia.iyer@ex&#97;mple.com", "<b>{}</b>", "iyer"),
    ("pii.email", "".join(f"&#0{ord(c)}" for c in ADDRESS), "<a>{}</a>", "&#0121"),  # padded, no ";"
    ("pii.email", "".join(f"&amp;#{ord(c)};" for c in ADDRESS), "<a>{}</a>", "#121;"),  # escaped twice
    ("pii.email", "".join(f"%{ord(c):02X}" for c in ADDRESS), "to={}&x=1", "%79%65"),
    ("pii.email", "nadia.iyer&#64;example.com", "write me at {}", "iyer"),  # "at" before it
    ("pii.email", "nadia.iyer%40example.com", "reach me at {} today", "iyer"),
]


@pytest.mark.parametrize(("rule", "value", "frame", "digits"), CASES, ids=[c[1] for c in CASES])
def test_pii_written_with_escapes_is_found(rule: str, value: str, frame: str, digits: str) -> None:
    text = frame.format(value)
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    result = scan_request(POLICY, body, route="chat")
    stream_checked(POLICY, None, text, list(range(1, len(text))))
    sent = result.body["messages"][0]["content"]
    assert result.rule_ids == [rule] and digits not in sent
    placeholder = re.search(r"<[A-Z]+_1>", sent)
    assert placeholder is not None
    restored = result.vault.restore(placeholder.group())
    assert restored is not None and restored in value  # the tenant gets back what it wrote
    masked = OutputGuard(POLICY).apply_full(text).text
    assert digits not in masked and "[" in masked


def test_the_default_policy_finds_them_too() -> None:
    text = ("ssn=536%252D22%252D1234 card=4111&#160;1111&#160;1111&#160;1111 "
            "mail=nadia.iyer&amp;#64;example.com")
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    result = scan_request(compile_policy(DEFAULT_GUARDRAIL_POLICY), body, route="chat")
    content = result.body["messages"][0]["content"]
    assert "1234" not in content and "1111" not in content and "iyer" not in content
    assert {"pii.ssn", "pii.card", "pii.email"} <= set(result.rule_ids)


@pytest.mark.parametrize("text", [
    "536&#4522&#451234",  # no ";": a browser reads &#4522, no dash
    "536&mdash;22&mdash;1234",  # an em dash is no SSN separator (plain or escaped)
    "4111&#45;1111&#45;1111&#45;1112",  # Luhn fails
    "nadia.iyer&#x40example.com",  # &#x40e is one character, no "@"
    "100%252B200 items",
    "width: 536&#160;px",
    "R&amp;D 12&amp;#45;34",
    "DE89%25203704%25200044%25200532%25200130%252001",  # mod 97 fails
    "look at example.com&amp;q=1",
    # an escaped space is no SSN's dash: without a label, only ddd-dd-dddd is one
    "search?q=order%20536%2022%201234",
    "x%20536%2E22%2E1234",
    "note\\u0020536\\u002022\\u00201234",
    # any escape may stand where a separator goes (escapes.ESCAPE); one that reads as no separator is none
    "536&amp;22&amp;1234",
    "4111&amp;1111&amp;1111&amp;1111",
    "4111%2A1111%2A1111%2A1111",
    "DE89%2A3704%2A0044%2A0532%2A0130%2A00",
    "+49%41151%4112345678",
    "(212)%41555%2A0142",
    "536\\u002a22\\u002a1234",
])
def test_escapes_that_hide_nothing_leave_the_text_alone(text: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    assert scan_request(POLICY, body, route="chat").rule_ids == []
    assert OutputGuard(POLICY).apply_full(text).text == text


SHAPES = [("4111", "1111", "1111", "1111"), ("+49", "151", "12345678"), ("536", "22", "1234"),
          ("DE89", "3704", "0044", "0532", "0130", "00"), ("(212)", "555", "0142"),
          ("nadia.iyer", "example.com")]
SEPARATORS = ["%2A", "%41", "%20", "%252D", "%3D", "&#45;", "&#4", "&amp;", "&amp;#45;", "&nbsp", "&ndash;",
              "&#64;", "%40", "\\u002d", "\\\\u0020", "\\x41", "\\u{2d}", "\\u00", "&bogus;", "%E2%80"]


@pytest.mark.parametrize("sep", SEPARATORS)
def test_any_escape_where_a_separator_goes_scans_without_error_and_streams_alike(sep: str) -> None:
    """Every shape with the escape as each separator and glued before it: no check raises on an escape
    left as written (one did: `int('49%')`), and a stream cut anywhere agrees with the whole text."""
    for shape in SHAPES:
        for text in (sep.join(shape), sep + "".join(shape), "x" + sep + " ".join(shape)):
            body = {"model": "m", "messages": [{"role": "user", "content": text}]}
            scan_request(POLICY, body, route="chat")
            stream_checked(POLICY, None, text, list(range(1, len(text), 3)))


@pytest.mark.parametrize(("text", "address"), [
    ("R&D;nadia.iyer@example.com", "nadia.iyer@example.com"),  # the address starts after the ";"
    ("a&amp;nadia.iyer&#64;example.com", "nadia.iyer&#64;example.com"),
    ("Q&A#nadia@example.com", "nadia@example.com"),
    ("Contact&nbsp;nadia@example.com", "nadia@example.com"),  # a space escaped before the local part
    ("Please&#32;contact&#160;help@example.com", "help@example.com"),
    ("write%20to%20nadia%40example.com", "nadia%40example.com"),
])
def test_an_address_after_a_reference_or_delimiter_starts_after_it(text: str, address: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    result = scan_request(POLICY, body, route="chat")
    assert result.rule_ids == ["pii.email"] and result.vault.restore("<EMAIL_1>") == address
    stream_checked(POLICY, None, text, list(range(1, len(text))))
