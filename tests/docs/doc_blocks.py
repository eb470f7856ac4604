"""Fenced code blocks of README.md and docs/*.md, and how the docs test runs them.

A block that shows commands (```sh, ```console, ```bash, or an untagged block with `$ ` lines or
a `teecube`/`curl`/`make`/`docker`/`kubectl` line) must say what the test does with it, on the
line before its fence:

    <!-- docs-test -->                     run it against a live demo
    <!-- docs-test: skip REASON -->        not runnable here (real TEE, GPU, Docker, ...): say why

In a console transcript only the `$ ` lines run (with `\\` continuations and heredocs); a
`$ echo $?` line followed by N means the command before it must exit with N (else 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- docs-test(?::\s*(?P<skip>skip)\s+(?P<reason>.+?))?\s*-->$")
SHELL_LANGS = {"sh", "console", "bash", "shell"}
COMMAND_START = re.compile(r"^\s*(\$ |teecube |curl |make |docker |kubectl |cp |deploy/)")


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    body: list[str]
    marker: str | None  # "run", "skip: reason", or None
    commands: list[tuple[str, int]] = field(default_factory=list)  # (command, expected exit code)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def shows_commands(self) -> bool:
        if self.lang in SHELL_LANGS:
            return True
        return self.lang == "" and any(COMMAND_START.match(line) for line in self.body)


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)", lines[i])
        if not m:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        marker = None
        prev = lines[i - 1].strip() if i else ""
        if mm := MARKER.match(prev):
            marker = f"skip: {mm['reason']}" if mm["skip"] else "run"
        block = Block(path, i + 1, m.group(1), lines[i + 1 : end], marker)
        block.commands = commands(block)
        found.append(block)
        i = end + 1
    return found


def commands(block: Block) -> list[tuple[str, int]]:
    """The shell commands of a block, each with the exit code the docs expect of it."""
    transcript = any(line.startswith("$ ") for line in block.body)
    out: list[tuple[str, int]] = []
    lines = iter(block.body)
    expect_code_next = False
    for raw in lines:
        if transcript:
            if expect_code_next and raw.strip().isdigit():
                out[-1] = (out[-1][0], int(raw.strip()))
                expect_code_next = False
                continue
            if not raw.startswith("$ "):
                continue  # output shown in the docs
            raw = raw[2:]
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cmd = raw
        while cmd.rstrip().endswith("\\"):
            cmd = cmd.rstrip()[:-1] + " " + next(lines).strip()
        if heredoc := re.search(r"<<'?(\w+)'?", cmd):
            body = []
            for nxt in lines:
                if nxt.strip() == heredoc.group(1):
                    break
                body.append(nxt)
            cmd = "\n".join([cmd, *body, heredoc.group(1)])
        if cmd.strip() == "echo $?":
            expect_code_next = True
            continue
        out.append((cmd, 0))
    return out
