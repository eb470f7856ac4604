"""The ops tests use the session's live demo (tests/conftest.py) as `demo`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))  # demo_process


@pytest.fixture(scope="session")
def demo(live_demo: Any) -> Any:
    return live_demo
