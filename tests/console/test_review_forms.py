"""Console review: a form the console cannot read was a 500, or went through past its cap.

A form body that is not UTF-8, or names a charset Python does not know, was a 500
(UnicodeDecodeError / LookupError out of `request.post()`) on every console POST, sign-in and
sign-out included; a form past MAX_FORM_BYTES (256 KiB, declared and unused) went through up to
the app's 1 MiB cap. Now a 400 / 413 page. And 404, 405 and 413 answers under /console had none
of the console's headers (CSP, no-store, framing denied): every /console answer has them now.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from proxy.console.web import MAX_FORM_BYTES
from tests.console.review import FORM, TOKEN, secured, sign_in
from tests.proxy.test_review_undecodable_body import send_split


@pytest.mark.parametrize("body, content_type", [
    (b"name=caf\xe9", "application/x-www-form-urlencoded"),  # Latin-1 bytes, not UTF-8
    (b"name=x", "application/x-www-form-urlencoded; charset=no-such-charset"),
])
def test_a_form_that_is_not_utf8_is_a_400_page(http, operator, body, content_type) -> None:
    cookie, csrf = operator
    r = http.post("/console/domains", content=f"csrf={csrf}&".encode() + body,
                  headers={**cookie, "Content-Type": content_type})
    assert r.status_code == 400 and "must be UTF-8" in r.text and "<h1>Request refused</h1>" in r.text
    secured(r)
    assert "caf" not in http.get("/console/domains", headers=cookie).text  # nothing was created


def testsign_in_and_sign_out_with_unreadable_forms(http) -> None:
    login_cookie = http.get("/console/login").cookies["teecube_console_login"]
    r = http.post("/console/login", content=b"credential=\xff\xfe",
                  headers={**FORM, "Cookie": f"teecube_console_login={login_cookie}"})
    assert r.status_code == 400 and "must be UTF-8" in r.text and 'name="credential"' in r.text
    secured(r)
    cookie = sign_in(http, TOKEN)
    r = http.post("/console/logout", content=b"csrf=\xff", headers={**cookie, **FORM})
    assert r.status_code == 400
    assert http.get("/console/domains", headers=cookie).status_code == 200  # still signed in


def test_a_form_past_the_cap_is_a_413_page(http, operator) -> None:
    cookie, csrf = operator
    big = f"csrf={csrf}&name=".encode() + b"a" * MAX_FORM_BYTES
    r = http.post("/console/domains", content=big, headers={**cookie, **FORM})
    assert r.status_code == 413 and "too large" in r.text
    secured(r)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds on what arrives
        yield f"csrf={csrf}&name=".encode()
        for _ in range(MAX_FORM_BYTES // 4096 + 1):
            yield b"a" * 4096

    r = http.post("/console/domains", content=chunks(), headers={**cookie, **FORM})
    assert r.status_code == 413
    r = http.post("/console/domains", content=b"b" * (2 * 1024 * 1024), headers={**cookie, **FORM})
    assert r.status_code == 413 and "too large" in r.text  # past the app's own cap too
    secured(r)


def test_error_answers_under_console_carry_its_headers(http, operator) -> None:
    cookie, _ = operator
    for r in (http.get("/console/no-such-page", headers=cookie),
              http.get("/console/domains/acme/disable", headers=cookie),  # a POST route: 405
              http.get("/console/static/../web.py")):
        assert r.status_code in (404, 405)
        secured(r)


def test_a_compressed_form_is_a_415_page(http, operator) -> None:
    """Browsers never compress a form, and garbage sent as `deflate` after the headers left aiohttp's
    decoder waiting with the connection held (the tenant routes' fix: tests/proxy/
    test_review_undecodable_body.py). Refused before the body is read."""
    cookie, csrf = operator
    headers = {**cookie, **FORM, "Content-Encoding": "deflate"}
    status, answer = send_split(str(http.base_url), "/console/domains", headers, b"junk" * 10)
    assert status == 415 and b"must not be compressed" in answer
    r = http.post("/console/domains", content=f"csrf={csrf}&name=plain".encode(), headers={**cookie, **FORM})
    assert r.status_code != 415  # an uncompressed form is read as before
