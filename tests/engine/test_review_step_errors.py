"""A step that raises (here a logits processor's error) leaves the engine usable: every request is
aborted, every block is free, the next request runs, and no block published for a forward that never
ran serves a later prefix hit."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import LLM, SamplingParams
from engine.loader import LoadedModel, load_model
from tests.engine.tiny_models import build_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")

GREEDY = SamplingParams(temperature=0, max_tokens=6, ignore_eos=True)
PROMPT = [(7 * i) % 400 + 3 for i in range(24)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadedModel]:
    path = build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3"))
    return path, load_model(model_path=path, dtype="float32", device="cpu")


def make(tiny: tuple[Path, LoadedModel], overlapped: bool) -> LLM:
    return LLM(str(tiny[0]), loaded=tiny[1], num_kv_blocks=64, block_size=4, async_scheduling=overlapped)


class Failing:
    """Raises in fill_bitmask or accept once it has accepted `after` tokens."""

    def __init__(self, where: str, after: int) -> None:
        self.where, self.after, self.accepted = where, after, 0

    def fill_bitmask(self, bitmask: object, row: int) -> None:
        if self.where == "fill" and self.accepted >= self.after:
            raise RuntimeError("processor failed")

    def accept(self, token_id: int) -> bool:
        self.accepted += 1
        if self.where == "accept" and self.accepted >= self.after:
            raise RuntimeError("processor failed")
        return True

    def is_terminated(self) -> bool:
        return False


def assert_idle(llm: LLM) -> None:
    bm = llm.block_manager
    assert bm.num_free_blocks == bm.num_blocks
    assert all(b.ref_count == 0 for b in bm.blocks)
    assert not llm.requests and not llm.has_unfinished()
    assert not llm.output_processor.requests


@pytest.mark.parametrize("overlapped", [False, True], ids=["sync", "step-in-flight"])
@pytest.mark.parametrize("where,after", [("fill", 0), ("fill", 2), ("accept", 1), ("accept", 3)])
def test_a_failing_logits_processor_leaves_the_engine_usable(
    tiny: tuple[Path, LoadedModel], overlapped: bool, where: str, after: int
) -> None:
    llm = make(tiny, overlapped)
    expected = llm.generate([[5] * 7, PROMPT], GREEDY, use_tqdm=False)
    bad = SamplingParams(
        temperature=0, max_tokens=8, ignore_eos=True, logits_processor_factory=lambda: Failing(where, after)
    )
    with pytest.raises(RuntimeError, match="processor failed"):
        llm.generate([[5] * 7, [6] * 9], [GREEDY, bad], use_tqdm=False)
    assert_idle(llm)
    again = llm.generate([[5] * 7, PROMPT], GREEDY, use_tqdm=False)  # before: the step-in-flight engine
    assert [o.outputs[0].token_ids for o in again] == [o.outputs[0].token_ids for o in expected]
    assert_idle(llm)


def test_blocks_of_a_launch_that_failed_before_its_forward_are_not_prefix_hits(
    tiny: tuple[Path, LoadedModel],
) -> None:
    """Step in flight: a mask filled on a thread fails; the next launch, which had already allocated (and
    published) the blocks of a new prompt, raises before its forward. Those blocks were never written."""
    expected = make(tiny, True).generate([PROMPT], GREEDY, use_tqdm=False)[0].outputs[0].token_ids
    llm = make(tiny, True)
    llm.add_request("bad", [5] * 6, SamplingParams(logits_processor_factory=lambda: Failing("fill", 0)))
    llm.step()
    llm.add_request("victim", PROMPT, GREEDY)
    with pytest.raises(RuntimeError, match="processor failed"):
        llm.step()
    assert_idle(llm)
    out = llm.generate([PROMPT], GREEDY, use_tqdm=False)[0]
    assert out.outputs[0].token_ids == expected
