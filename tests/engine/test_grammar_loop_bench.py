"""engine/bench/grammar_loop.py on a small vocabulary: the real step loop runs grammar rows (accepts on
the main thread, fills on the fill thread) and the JSON says where the host time went."""

from __future__ import annotations

import json

import pytest

from engine.bench import grammar_loop

pytestmark = pytest.mark.usefixtures("one_thread")


def test_grammar_loop_times_the_grammar_phases(capsys: pytest.CaptureFixture[str]) -> None:
    assert grammar_loop.main(["--rows", "8", "--vocab", "2048", "--steps", "6", "--clock", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    plain, constrained = out["no_schema"], out["json_schema"]
    assert "accept_xgrammar" in constrained["phases_ms_per_step"]
    assert constrained["phases_ms_per_step"]["accept_xgrammar"] > 0
    assert constrained["fill_thread_ms_per_step"] is not None  # masks filled on the fill thread
    assert plain["fill_thread_ms_per_step"] is None  # no grammar rows: no fill
    assert (
        plain["phases_ms_per_step"]["accept_xgrammar"] < constrained["phases_ms_per_step"]["accept_xgrammar"]
    )
    assert constrained["hidden_ms"] is not None and constrained["exposed_ms"] is not None
    assert out["predicted"] == {"note": "wall clock only"}  # CPU time leaves the waits out
