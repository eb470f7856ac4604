"""`teecube serve` forwards engine flags, checked by the engine's own parser before loading."""

from __future__ import annotations

import pytest

from teecube.engine_flags import DEFAULT_MAX_QUEUE_SIZE, EngineFlagError, engine_flags


def test_engine_flags_pass_through_with_a_bounded_queue_added() -> None:
    flags = ["--max-num-seqs", "8", "-tp", "2", "--gpu-memory-utilization", "0.8",
             "--max-model-len=2048", "--max-num-batched-tokens", "4096"]
    assert engine_flags(flags) == [*flags, "--max-queue-size", str(DEFAULT_MAX_QUEUE_SIZE)]


def test_an_explicit_queue_size_is_kept() -> None:
    assert engine_flags(["--max-queue-size", "7"]) == ["--max-queue-size", "7"]
    assert engine_flags(["--max-queue-size=7"]) == ["--max-queue-size=7"]


@pytest.mark.parametrize("flags", [["--max-num-seqz", "4"], ["--max-num-seqs", "many"], ["stray"]])
def test_unknown_or_malformed_flags_are_refused(flags: list[str]) -> None:
    with pytest.raises(EngineFlagError, match="not a teecube serve or engine flag"):
        engine_flags(flags)


@pytest.mark.parametrize("flag", ["--uds", "--api-key", "--model", "--port=9", "--served-model-name"])
def test_flags_serve_owns_are_refused(flag: str) -> None:
    with pytest.raises(EngineFlagError, match="set by teecube serve itself"):
        engine_flags([flag, "x"])
