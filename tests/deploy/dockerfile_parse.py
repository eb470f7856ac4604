"""A small Dockerfile reader: instructions with continuations joined, and .dockerignore matching.

Enough for the checks in test_deploy_dockerfiles.py (no variable expansion beyond ARG defaults
in FROM, no heredocs: the Dockerfiles here use neither elsewhere).
"""

from __future__ import annotations

import fnmatch
import json
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Instruction:
    keyword: str  # upper case
    args: str     # the rest, continuations joined

    def exec_form(self) -> list[str]:
        """JSON array form (`["a", "b"]`), the only form the images use for commands."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            text = text.split("CMD", 1)[1]
        value = json.loads(text.strip())
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self.args
        return value

    def flags_and_words(self) -> tuple[dict[str, str], list[str]]:
        """COPY/ADD: `--from=x --chown=y src... dest` split into flags and words."""
        flags, words = {}, []
        for word in shlex.split(self.args):
            if word.startswith("--") and not words:
                key, _, value = word[2:].partition("=")
                flags[key] = value
            else:
                words.append(word)
        return flags, words


def parse(path: Path) -> list[Instruction]:
    out: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, f"{path}: dangling line continuation"
    return out


def arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    out = {}
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.args:
            name, _, value = ins.args.partition("=")
            out[name.strip()] = value.strip().strip('"')
    return out


def env_values(instructions: list[Instruction]) -> dict[str, str]:
    out = {}
    for ins in instructions:
        if ins.keyword == "ENV":
            for word in shlex.split(ins.args):
                if "=" in word:
                    name, _, value = word.partition("=")
                    out[name] = value
    return out


def dockerignore_patterns(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def ignored(rel: str, patterns: list[str]) -> bool:
    """Whether `rel` (or a parent directory of it) matches a .dockerignore pattern (no `!`)."""
    parts = rel.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        p = pattern.strip("/")
        anywhere = p.startswith("**/")
        for prefix in prefixes:
            if fnmatch.fnmatch(prefix, p) or (anywhere and fnmatch.fnmatch(prefix.split("/")[-1], p[3:])):
                return True
    return False
