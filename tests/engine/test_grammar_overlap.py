"""Grammar rows with a step in flight (the launch accepts the previous step's tokens, then fills the
mask) give the synchronous loop's outputs, schema-valid, on the CPU (same control flow as on CUDA)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import model_runner
from engine.loader import LoadedModel, load_model
from tests.engine import grammar_overlap
from tests.engine.tiny_models import build_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadedModel]:
    path = build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3"))
    return path, load_model(model_path=path, dtype="float32", device="cpu")


@pytest.mark.slow
@pytest.mark.parametrize("seeded", [True, False], ids=["seeded", "fill-thread"])
def test_overlapped_grammar_rows_equal_the_synchronous_loop(
    tiny: tuple[Path, LoadedModel], seeded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, loaded = tiny
    threaded: list[int] = []
    if not seeded:  # every row takes the fast sampler: masks filled on the thread
        fill = model_runner._fill_rows
        monkeypatch.setattr(model_runner, "_fill_rows", lambda *a: threaded.append(1) or fill(*a))
    config = {"num_kv_blocks": 128, "max_num_seqs": 16, "seeded": seeded}
    sync = grammar_overlap.run(path, loaded, overlap=False, **config)
    assert not threaded
    overlapped = grammar_overlap.run(path, loaded, overlap=True, **config)
    assert bool(threaded) == (not seeded)
    grammar_overlap.check(sync, overlapped)
