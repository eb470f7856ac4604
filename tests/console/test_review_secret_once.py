"""Console review: a new key's secret waited in the session for the next domain page, whichever
domain that was (two tabs, or a redirect not followed): acme's secret could be shown, under the
title "New API key secret", on globex's page. Now it is shown on its own domain's page only, and
dropped by any domain page (shown once or never, never elsewhere)."""

from __future__ import annotations

import re


def test_a_new_secret_is_shown_on_its_own_domain_page_only(http, operator) -> None:
    cookie, csrf = operator
    r = http.post("/console/domains/acme/keys", data={"csrf": csrf, "name": "once"}, headers=cookie)
    assert r.status_code == 303 and r.headers["Location"] == "/console/domains/acme"
    other = http.get("/console/domains/globex", headers=cookie)  # before following the redirect
    assert other.status_code == 200 and 'id="new-secret"' not in other.text and "sk-" not in other.text
    again = http.get("/console/domains/acme", headers=cookie)
    assert 'id="new-secret"' not in again.text  # not kept for later either: shown never rather than elsewhere

    r = http.post("/console/domains/acme/keys", data={"csrf": csrf, "name": "once2"}, headers=cookie)
    page = http.get(r.headers["Location"], headers=cookie)
    assert page.headers["Cache-Control"] == "no-store"
    assert re.search(r'id="new-secret"[^>]*value="sk-', page.text)
    assert 'id="new-secret"' not in http.get("/console/domains/acme", headers=cookie).text
