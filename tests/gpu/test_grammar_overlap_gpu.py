"""Grammar rows on a CUDA GPU with a step in flight: the launch queues the forward, then accepts the
previous step's tokens and fills the mask (pinned buffers, asynchronous copy) while the GPU runs it. The
outputs must equal the synchronous loop's and validate against the schema, with decode CUDA graphs on and
off and more rows than the graph ladder's smallest sizes; the Triton mask equals the reference unpacking.

Run: `pytest tests/gpu/test_grammar_overlap_gpu.py -m gpu -q` (skipped without CUDA)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

from engine.loader import LoadedModel, load_model  # noqa: E402
from engine.logits_process import apply_bitmask, unpack_bitmask  # noqa: E402
from tests.engine import grammar_overlap  # noqa: E402
from tests.engine.tiny_models import build_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadedModel]:
    path = build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3"))
    return path, load_model(model_path=path, dtype="float32", device="cuda")


@pytest.mark.parametrize(
    ("enforce_eager", "num", "seeded"),
    [(False, 24, True), (False, 96, True), (False, 96, False), (True, 96, False)],
    ids=["graphs-24-seeded", "graphs-96-seeded", "graphs-96-fill-thread", "eager-96-fill-thread"],
)
def test_overlapped_grammar_rows_equal_the_synchronous_loop(
    tiny: tuple[Path, LoadedModel], enforce_eager: bool, num: int, seeded: bool
) -> None:
    """seeded=False: every row takes the fast sampler, so the masks are filled on the thread."""
    path, loaded = tiny
    config = {"num_kv_blocks": 1024, "max_num_seqs": 64, "enforce_eager": enforce_eager, "device": "cuda"}
    config["seeded"] = seeded
    sync = grammar_overlap.run(path, loaded, overlap=False, num=num, **config)
    overlapped = grammar_overlap.run(path, loaded, overlap=True, num=num, **config)
    grammar_overlap.check(sync, overlapped, num)


def test_triton_mask_equals_unpacking() -> None:
    gen = torch.Generator(device="cuda").manual_seed(0)
    for rows, vocab in ((1, 77), (7, 4099), (256, 151936)):
        words = -(-vocab // 32)
        mask = torch.randint(
            -(2**31), 2**31 - 1, (rows, words), dtype=torch.int32, device="cuda", generator=gen
        )
        mask[0] = -1  # a row without a grammar: all ones
        logits = torch.randn(rows, vocab, device="cuda", generator=gen)
        expected = logits.masked_fill(~unpack_bitmask(mask, vocab), float("-inf"))
        got = apply_bitmask(logits.clone(), mask)
        assert torch.equal(got, expected)
        assert torch.isfinite(got[0]).all()
