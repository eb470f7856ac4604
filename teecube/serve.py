"""`teecube serve`: interim. Until the proxy exists, `--demo` prepares the demo database and exits.

It migrates the default SQLite database (or --database-url), generates var/pepper (0600) if
absent, seeds the demo domain idempotently, and prints what it did.
"""

from __future__ import annotations

import argparse
import os
import sys

from domains import db
from domains.config import DEFAULT_PEPPER_FILE, database_url, ensure_pepper_file, load_pepper
from domains.demo import DEMO_ALIAS, DEMO_DOMAIN, seed_demo
from domains.errors import DomainError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="teecube serve", description=__doc__)
    parser.add_argument("--demo", action="store_true", help="migrate and seed the demo database")
    parser.add_argument("--database-url", help="default: $TEECUBE_DATABASE_URL or sqlite file var/teecube.db")
    args = parser.parse_args(argv)
    if not args.demo:
        print("teecube serve: the proxy is not built yet; only --demo is available", file=sys.stderr)
        return 2
    url = database_url(args.database_url)
    try:
        if os.environ.get("TEECUBE_PEPPER") or os.environ.get("TEECUBE_PEPPER_FILE"):
            pepper = load_pepper()
            print("pepper: from TEECUBE_PEPPER / TEECUBE_PEPPER_FILE")
        else:
            pepper, created = ensure_pepper_file(DEFAULT_PEPPER_FILE)
            print(f"pepper: {'generated' if created else 'using'} {DEFAULT_PEPPER_FILE}")
        engine = db.make_engine(url)
        db.upgrade(engine)
        print(f"database: {engine.url.render_as_string(hide_password=True)} at revision {db.current(engine)}")
        with db.session_factory(engine).begin() as session:
            done, secret = seed_demo(session, "cli:serve-demo", pepper)
        engine.dispose()
    except DomainError as exc:
        print(f"teecube serve: error: {exc}", file=sys.stderr)
        return 1
    for line in done or [f"demo domain {DEMO_DOMAIN!r} already seeded; nothing to do"]:
        print(line)
    if secret:
        print(f"demo API key (shown once, not stored): {secret}")
        print(f"  use it with model {DEMO_ALIAS!r} once the proxy is running")
    print("the proxy is not built yet: nothing is served (exit 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
