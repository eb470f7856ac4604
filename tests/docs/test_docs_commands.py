"""Every command shown in README.md and docs/ is either run here against a live demo or marked
as not runnable here with a reason (see doc_blocks.py), so the docs cannot rot unnoticed.

Run against the demo: its URL replaces https://127.0.0.1:8443, its API key replaces the example
key, the working directory's `var` is the demo's state directory, and `teecube`/`python` are
this installation's (PATH), with TEECUBE_DATABASE_URL, TEECUBE_PEPPER_FILE and
TEECUBE_OPERATOR_TOKEN set as an operator of that demo would have them.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from demo_process import DemoServer
from doc_blocks import MARKER, REPO, Block, blocks, doc_files

ALL = [b for f in doc_files() for b in blocks(f)]
COMMAND_BLOCKS = [b for b in ALL if b.shows_commands]
RUN = [b for b in COMMAND_BLOCKS if b.marker == "run"]
EXAMPLE_KEY = re.compile(r"sk-tc-[A-Za-z0-9_-]{32}")


def test_every_command_block_is_run_or_says_why_not() -> None:
    unmarked = [b.where for b in COMMAND_BLOCKS if b.marker is None]
    assert not unmarked, f"mark these with <!-- docs-test --> or <!-- docs-test: skip REASON -->: {unmarked}"
    assert RUN, "no docs block runs"


def test_markers_stand_right_before_a_fence() -> None:
    for path in doc_files():
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.startswith("<!-- docs-test"):
                assert MARKER.match(line.strip()), f"{path.name}:{i + 1}: malformed marker {line!r}"
                assert i + 1 < len(lines) and lines[i + 1].startswith("```"), f"{path.name}:{i + 1}"


def test_no_doc_links_to_a_missing_file() -> None:
    for path in doc_files():
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).exists(), f"{path.relative_to(REPO)} links to missing {target}"


def _script(block: Block, demo: DemoServer) -> str:
    port = demo.url.rsplit(":", 1)[1]
    steps = []
    for cmd, expected in block.commands:
        cmd = cmd.replace("https://127.0.0.1:8443", demo.url).replace("127.0.0.1:8443", f"127.0.0.1:{port}")
        cmd = EXAMPLE_KEY.sub(demo.key, cmd)
        shown = shlex.quote(cmd.splitlines()[0][:160])
        steps.append(f"{cmd}\nrc=$?; if [ $rc -ne {expected} ]; then "
                     f"echo \"docs-test: exit $rc, expected {expected}: \"{shown} >&2; exit 1; fi")
    return "\n".join(steps)


@pytest.mark.slow  # a live demo (~25 s to start here) and up to ~15 s per block
@pytest.mark.parametrize("block", RUN, ids=[b.where for b in RUN])
def test_docs_block_runs_against_a_live_demo(block: Block, live_demo: DemoServer, tmp_path: Path) -> None:
    (tmp_path / "var").symlink_to(live_demo.state_dir.resolve())
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "KEY": live_demo.key,
        "TEECUBE_DATABASE_URL": live_demo.database_url,
        "TEECUBE_PEPPER_FILE": str(live_demo.state_dir / "pepper"),
        "TEECUBE_OPERATOR_TOKEN": live_demo.extra_env["TEECUBE_OPERATOR_TOKEN"],
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    p = subprocess.run(["bash", "-c", _script(block, live_demo)], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, f"{block.where}\n{p.stderr[-3000:]}\n{p.stdout[-2000:]}"
