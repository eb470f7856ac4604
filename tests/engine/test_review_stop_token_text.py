"""A sequence stopped by a stop token (EOS or one of stop_token_ids) keeps the token's id but not its text,
unless include_stop_str_in_output (vLLM's detokenizer: `stop_terminated` leaves the last token out of the
text); a length finish keeps all of it. Streamed deltas join to the same text."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import torch

from engine import LLM, AsyncEngine, EngineConfig, SamplingParams
from engine.loader import LoadedModel, load_model
from tests.engine.tiny_models import build_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")

PROMPT = [5, 6, 7]
TEXT = "Hello, world! café"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadedModel]:
    path = build_tiny_model("qwen3", tmp_path_factory.mktemp("qwen3"))
    return path, load_model(model_path=path, dtype="float32", device="cpu")


class Forced:
    """Allows only the next token of `ids` (the last one repeats)."""

    def __init__(self, ids: list[int]) -> None:
        self.ids, self.i = ids, 0

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None:
        token = self.ids[min(self.i, len(self.ids) - 1)]
        bitmask[row] = 0
        word, bit = divmod(token, 32)
        bitmask[row, word] = (1 << bit) - (1 << 32 if bit == 31 else 0)

    def accept(self, token_id: int) -> bool:
        self.i += 1
        return True

    def is_terminated(self) -> bool:
        return False


def forced(ids: list[int], **kw: object) -> SamplingParams:
    kw.setdefault("max_tokens", len(ids) + 4)
    return SamplingParams(temperature=0, logits_processor_factory=lambda: Forced(ids), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("overlapped", [False, True], ids=["sync", "step-in-flight"])
def test_the_stop_token_text_is_left_out(tiny: tuple[Path, LoadedModel], overlapped: bool) -> None:
    llm = LLM(str(tiny[0]), loaded=tiny[1], num_kv_blocks=64, block_size=4, async_scheduling=overlapped)
    tok = llm.tokenizer
    ids = tok.encode(TEXT, add_special_tokens=False)
    stop_id, eos = ids[-1], llm.eos_token_ids[0]
    head = tok.decode(ids[:-1], True)
    cases = [
        (forced(ids, stop_token_ids=[stop_id]), ids, head),
        (forced(ids, stop_token_ids=[stop_id], include_stop_str_in_output=True), ids, TEXT),
        (forced([*ids, eos], skip_special_tokens=False), [*ids, eos], TEXT),
        (
            forced([*ids, eos], skip_special_tokens=False, include_stop_str_in_output=True),
            [*ids, eos],
            TEXT + tok.decode([eos], False),
        ),
        (forced(ids, ignore_eos=True, max_tokens=len(ids)), ids, TEXT),  # length: all of it
    ]
    for params, want_ids, want_text in cases:
        out = llm.generate([PROMPT], params, use_tqdm=False)[0].outputs[0]
        assert (out.token_ids, out.text) == (want_ids, want_text)
        llm.add_request("s", PROMPT, params)
        streamed = ""
        while llm.has_unfinished():
            streamed += "".join(o.outputs[0].text for o in llm.step())
        assert streamed == want_text


def test_async_engine_streams_the_same_text(tiny: tuple[Path, LoadedModel]) -> None:
    async def main() -> list[str]:
        config = EngineConfig(model=str(tiny[0]), num_kv_blocks=64, block_size=4, engine_core_process="off")
        engine = AsyncEngine(config, loaded=tiny[1], async_scheduling=True)
        await engine.start()
        try:
            ids = engine.tokenizer.encode(TEXT, add_special_tokens=False)
            texts = []
            for stream in (True, False):
                text = ""
                async for out in engine.generate(
                    f"r{stream}", PROMPT, forced(ids, stop_token_ids=[ids[-1]]), stream
                ):
                    text += out.outputs[0].text
                texts.append(text)
            return texts
        finally:
            await engine.shutdown()

    loaded = tiny[1]
    ids = loaded.tokenizer.encode(TEXT, add_special_tokens=False)
    head = loaded.tokenizer.decode(ids[:-1], True)
    assert asyncio.run(main()) == [head, head]
