"""Kernel tests run on the CPU through the Triton interpreter, which must be on before a kernel is defined."""

from __future__ import annotations

import os
import sys

os.environ["TRITON_INTERPRET"] = "1"
# A kernel module imported earlier in this session was compiled for a GPU: drop it so it is redefined.
for _name in [m for m in sys.modules if m == "engine.kernels" or m.startswith("engine.kernels.")]:
    del sys.modules[_name]
