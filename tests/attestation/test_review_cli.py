"""Review: `teecube verify` exits non-zero with a one-line reason, never a traceback, for each way
its input can be wrong. (Before, a malformed --now escaped as a ValueError traceback.)"""

from __future__ import annotations

import pytest
from attest_vectors import SNP_VECTORS

from attestation.cli import verify_main

VEC = {v.name: v for v in SNP_VECTORS}["virtee_milan_v2"]


def _raw(*extra: str) -> list[str]:
    return ["--evidence", str(VEC.dir / "report.bin"), "--cert", str(VEC.dir / "vcek.der"), *extra]


@pytest.mark.parametrize("now", ["yesterday", "2025-13-01", "2025-06-01T25:00"])
def test_malformed_now_is_a_usage_error(now, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        verify_main(_raw("--now", now, "--no-policy"))
    assert e.value.code == 2
    assert "--now" in capsys.readouterr().err


def test_good_now_still_verifies(capsys) -> None:
    assert verify_main(_raw("--now", VEC.now.isoformat(), "--no-policy")) == 0
    assert verify_main(_raw("--now", "2025-06-01", "--no-policy")) == 0  # naive: UTC


@pytest.mark.parametrize("argv, reason", [
    (["http://127.0.0.1:9/"], "https://"),
    (["https://127.0.0.1:9/", "--timeout", "2"], "cannot fetch"),
    (["--evidence", "/nonexistent/report.bin"], "No such file"),
])
def test_failures_are_one_line_reasons(argv, reason, capsys) -> None:
    assert verify_main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("✗ NOT TRUSTED") and reason in err and "Traceback" not in err


@pytest.mark.parametrize("text", ['["sev-snp"]\nallow_debug = "no"\n', "not = [toml", '{"sev-snp": 5}'])
def test_malformed_policy_file_is_refused(tmp_path, capsys, text) -> None:
    path = tmp_path / ("p.json" if text.startswith("{") else "p.toml")
    path.write_text(text)
    assert verify_main(_raw("--policy", str(path))) == 1
    assert capsys.readouterr().err.startswith("✗ NOT TRUSTED")


def test_an_expired_chain_exits_one(capsys) -> None:
    assert verify_main(_raw("--now", "2031-01-01T00:00:00Z", "--no-policy")) == 1
    assert "NOT TRUSTED" in capsys.readouterr().out
