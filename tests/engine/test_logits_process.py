"""The per-sequence logits-processor hook (grammar-constrained decoding's contract) on the bundled model:
outputs obey small real processors with n > 1, seeds, penalties, min_tokens, streaming through
AsyncEngine with a step in flight, and preemption; a processor always sees its previous token before it
fills the next mask."""

from __future__ import annotations

import asyncio
import random

import pytest
import torch

from engine import LLM, AsyncEngine, EngineConfig, SamplingParams
from engine.loader import LoadedModel, load_model
from engine.logits_process import allocate_bitmask, apply_bitmask, unpack_bitmask
from tests.conftest import bundled_gguf_path

pytestmark = pytest.mark.usefixtures("one_thread")


class AllowedTokens:
    """Only a fixed set of tokens, forever (xgrammar-style: bits cleared for everything else)."""

    def __init__(self, allowed: list[int]) -> None:
        self.allowed = allowed
        self.fills = 0
        self.accepted: list[int] = []

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None:
        assert self.fills == len(self.accepted), "a mask was asked for before the previous token was seen"
        self.fills += 1
        words = [0] * bitmask.shape[1]
        for t in self.allowed:
            words[t // 32] |= 1 << (t % 32)
        bitmask[row] = torch.tensor([w - (1 << 32) if w >= 1 << 31 else w for w in words], dtype=torch.int32)

    def accept(self, token_id: int) -> bool:
        self.accepted.append(token_id)
        return token_id in self.allowed

    def is_terminated(self) -> bool:
        return False


class ForcedTokens(AllowedTokens):
    """Exactly one sequence of tokens, then the end."""

    def __init__(self, forced: list[int]) -> None:
        super().__init__([])
        self.forced = forced

    def fill_bitmask(self, bitmask: torch.Tensor, row: int) -> None:
        self.allowed = [self.forced[len(self.accepted)]]
        super().fill_bitmask(bitmask, row)

    def is_terminated(self) -> bool:
        return len(self.accepted) == len(self.forced)


def test_bitmask_unpacks_xgrammar_layout() -> None:
    rng = random.Random(0)
    vocab = 77  # not a multiple of 32
    mask = allocate_bitmask(3, vocab)
    assert mask.shape == (3, 3) and mask.dtype == torch.int32 and unpack_bitmask(mask, vocab).all()
    words = [[rng.randrange(-(2**31), 2**31) for _ in range(3)] for _ in range(3)]
    mask = torch.tensor(words, dtype=torch.int32)
    expected = [[bool(words[r][t // 32] >> (t % 32) & 1) for t in range(vocab)] for r in range(3)]
    assert unpack_bitmask(mask, vocab).tolist() == expected
    logits = apply_bitmask(torch.zeros(3, vocab), mask)
    assert (logits == float("-inf")).tolist() == [[not a for a in row] for row in expected]


@pytest.fixture(scope="module")
def smol() -> tuple[str, LoadedModel]:
    path = bundled_gguf_path()
    return str(path), load_model(model_path=path, dtype="float32", device="cpu")


def with_processors(params: SamplingParams, make: type, *args: object) -> tuple[SamplingParams, list]:
    made: list = []

    def factory() -> object:
        made.append(make(*args))
        return made[-1]

    params.logits_processor_factory = factory
    return params, made


@pytest.mark.slow
def test_outputs_obey_the_processor_with_n_seeds_and_penalties(smol: tuple[str, LoadedModel]) -> None:
    llm = LLM(smol[0], loaded=smol[1], num_kv_blocks=64, async_scheduling=True)
    tok = llm.tokenizer
    allowed = sorted({t for w in (" yes", " no", " maybe", ".") for t in tok.encode(w)})
    sampled, made = with_processors(
        SamplingParams(
            n=3, temperature=1.0, seed=4, max_tokens=8, repetition_penalty=1.3, presence_penalty=0.5
        ),
        AllowedTokens,
        allowed,
    )
    forced_ids = tok.encode(" The answer is 42.")
    forced, forced_made = with_processors(
        SamplingParams(temperature=0.9, top_p=0.9, max_tokens=30, min_tokens=2), ForcedTokens, forced_ids
    )
    plain = SamplingParams(temperature=0, max_tokens=8, ignore_eos=True)
    outs = llm.generate(["Answer:", "Say it:", "Hello"], [sampled, forced, plain], use_tqdm=False)
    assert len(made) == 3 and len(forced_made) == 1  # one processor per sequence
    for c in outs[0].outputs:
        assert c.token_ids and set(c.token_ids) <= set(allowed)
        assert c.finish_reason == "length"
    assert len({tuple(c.token_ids) for c in outs[0].outputs}) > 1
    assert [p.accepted for p in made] == [c.token_ids for c in outs[0].outputs]
    done = outs[1].outputs[0]
    assert done.token_ids == forced_ids and done.text == " The answer is 42."
    assert (done.finish_reason, done.stop_reason) == ("stop", None)
    assert len(outs[2].outputs[0].token_ids) == 8
    again = llm.generate(
        "Answer:",
        with_processors(
            SamplingParams(
                n=3, temperature=1.0, seed=4, max_tokens=8, repetition_penalty=1.3, presence_penalty=0.5
            ),
            AllowedTokens,
            allowed,
        )[0],
        use_tqdm=False,
    )[0]
    assert [c.token_ids for c in again.outputs] == [c.token_ids for c in outs[0].outputs]  # seeds hold
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks


@pytest.mark.slow
def test_processors_under_preemption(smol: tuple[str, LoadedModel]) -> None:
    llm = LLM(smol[0], loaded=smol[1], num_kv_blocks=6, async_scheduling=True)
    tok = llm.tokenizer
    forced_ids = tok.encode(" one two three four five six seven eight nine ten")
    prompts = [f"Count with me, friend number {i}, and do not stop before ten:" for i in range(4)]
    params = [with_processors(SamplingParams(temperature=0, max_tokens=40), ForcedTokens, forced_ids)[0]] * 2
    params += [SamplingParams(temperature=0, max_tokens=len(forced_ids), ignore_eos=True)] * 2
    outs = llm.generate(prompts, params, use_tqdm=False)
    assert llm.stats().num_preemptions > 0
    for o in outs[:2]:
        assert o.outputs[0].token_ids == forced_ids and o.outputs[0].finish_reason == "stop"
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks


@pytest.mark.slow
def test_streaming_through_async_engine(smol: tuple[str, LoadedModel]) -> None:
    async def main() -> None:
        config = EngineConfig(model=smol[0], num_kv_blocks=64)
        engine = AsyncEngine(config, loaded=smol[1], async_scheduling=True)
        await engine.start()
        try:
            tok = engine.tokenizer
            forced_ids = tok.encode(' {"name": "teecube", "ok": true}')
            params, made = with_processors(
                SamplingParams(temperature=0.7, max_tokens=50), ForcedTokens, forced_ids
            )
            plain = SamplingParams(temperature=0, max_tokens=24, ignore_eos=True)

            async def collect(request_id: str, prompt: str, p: SamplingParams) -> list:
                return [out async for out in engine.generate(request_id, prompt, p)]

            forced_stream, plain_stream = await asyncio.gather(
                collect("json", "Reply in JSON:", params), collect("plain", "Once upon a time", plain)
            )
            assert len(forced_stream) > 1 and forced_stream[-1].finished
            assert [t for o in forced_stream for t in o.outputs[0].token_ids] == forced_ids
            assert "".join(o.outputs[0].text for o in forced_stream) == ' {"name": "teecube", "ok": true}'
            assert forced_stream[-1].outputs[0].finish_reason == "stop"
            assert made[0].fills == len(forced_ids)
            assert sum(len(o.outputs[0].token_ids) for o in plain_stream) == 24
            stats = engine.stats()
            assert stats.free_blocks == stats.total_blocks
        finally:
            await engine.shutdown()

    asyncio.run(main())
