"""Benign probe for the injection heuristics: the long descriptions (READMEs) of the installed
packages' METADATA, split into paragraphs, each scored with `score_text`; prints how many reach the
default threshold 1.0 (should be 0) and those paragraphs' first characters.

Run: PYTHONPATH=. python tests/data/guardrails/probe_package_readmes.py [site-packages dir]
"""

from __future__ import annotations

import sys
import sysconfig
from email import message_from_string
from pathlib import Path

from proxy.guardrails.injection import score_text


def paragraphs(site: Path) -> list[tuple[str, str]]:
    out = []
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        body = message_from_string(meta.read_text(encoding="utf-8", errors="replace")).get_payload()
        if isinstance(body, str):
            out += [(meta.parent.name, p[:4000]) for p in body.split("\n\n") if p.strip()]
    return out


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else Path(sysconfig.get_paths()["purelib"])
    paras = paragraphs(site)
    hits = [(name, text) for name, text in paras if score_text(text)[0] >= 1.0]
    print(f"{len(paras)} paragraphs, {len(hits)} at >= 1.0")
    for name, text in hits:
        print(name, text[:200].replace("\n", " "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
