"""Fixtures shared by the engine tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from tests.conftest import bundled_gguf_path


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a module: OpenMP threads spin against each other on a shared 2-core
    box, where one thread runs these small models faster than two."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def bundled_hf() -> Any:
    """HF transformers' model of the bundled SmolLM2 GGUF (fp32, eval): the reference several
    modules compare against, built once per session (it takes tens of seconds here)."""
    from engine.loader.gguf import read_gguf
    from tests.engine.tiny_models import hf_reference_model

    hf_config, state_dict, _ = read_gguf(bundled_gguf_path())
    return hf_reference_model(hf_config, state_dict)
