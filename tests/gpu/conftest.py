"""GPU tests run standalone on a lent machine where the repo may not be pip-installed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("engine") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
