"""Screenshots of every console page into docs/console/: `python -m tests.console.screenshots`.

Runs the same stand as the browser tests (real proxy with attested TLS, SQLite, the fake
upstream, the system's headless Chromium), signs in as the operator and as a tenant, and
writes one PNG per page.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tests.console import harness

OPERATOR_PAGES = {
    "domains": "/console/domains",
    "domain": "/console/domains/acme",
    "policies": "/console/domains/acme/policies",
    "deployments": "/console/deployments",
    "deployment": "/console/deployments/fake",
    "usage": "/console/usage",
    "audit": "/console/audit",
    "engine": "/console/engine",
    "attestation": "/console/attestation",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.console.screenshots", description=__doc__)
    parser.add_argument("--out", default="docs/console", help="directory for the PNG files")
    args = parser.parse_args(argv)
    chromium = harness.chromium_path()
    if chromium is None:
        print("no system Chromium: apt-get install chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/teecube.db"
        upstream = harness.fake_upstream()
        keys = harness.seed(url, f"http://127.0.0.1:{upstream.port}")
        served, _ = harness.proxy(Path(tmp) / "state", url)
        base = f"https://127.0.0.1:{served.port}"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
                shots = _operator(browser, base, out) + _tenant(browser, base, out, keys["acme"])
                browser.close()
        finally:
            served.stop()
            upstream.stop()
    for path in shots:
        print(path)
    return 0


def _context(browser, base: str):  # type: ignore[no-untyped-def]
    return browser.new_context(base_url=base, ignore_https_errors=True,
                               viewport={"width": 1280, "height": 800})


def _login(page, credential: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/console/login")
    page.fill("#credential", credential)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _operator(browser, base: str, out: Path) -> list[Path]:  # type: ignore[no-untyped-def]
    context = _context(browser, base)
    page = context.new_page()
    page.goto("/console/login")
    shots = [out / "login.png"]
    page.screenshot(path=shots[0])
    _login(page, harness.OPERATOR_TOKEN)
    page.goto("/console/engine")  # a first sample, so the second visit shows throughput
    for name, path in OPERATOR_PAGES.items():
        page.goto(path)
        shots.append(out / f"{name}.png")
        page.screenshot(path=shots[-1], full_page=True)
    page.goto("/console/domains/acme/policies")
    page.fill("textarea[name=sample]", "Mail alice@example.com or call +1 415 555 0100 from 10.0.0.7")
    page.click("form[action$='/policies/try'] button")
    page.wait_for_load_state()
    page.locator("#findings").scroll_into_view_if_needed()
    shots.append(out / "policy-try.png")
    page.screenshot(path=shots[-1])
    context.close()
    return shots


def _tenant(browser, base: str, out: Path, key: str) -> list[Path]:  # type: ignore[no-untyped-def]
    context = _context(browser, base)
    page = context.new_page()
    _login(page, key)
    shots = [out / "tenant.png"]
    page.screenshot(path=shots[0], full_page=True)
    context.close()
    return shots


if __name__ == "__main__":
    sys.exit(main())
