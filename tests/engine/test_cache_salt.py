"""cache_salt: prefix-cache chains differ per salt (vLLM's name), so requests share cached blocks only
with requests of the same salt; the salt is mixed into the first block's hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import LLM, SamplingParams
from engine.block_manager import BlockManager
from engine.errors import InvalidParam
from engine.loader import LoadedModel, load_model
from engine.sampling_params import MAX_CACHE_SALT
from engine.sequence import Sequence
from tests.engine.tiny_models import build_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")

PROMPT = list(range(10, 40))  # 7 full blocks of 4


def test_the_salt_changes_every_block_hash() -> None:
    bm = BlockManager(64, 4)
    hashes = {}
    for salt in (None, "a", "b"):
        seq = Sequence("r", 0, list(PROMPT), SamplingParams(cache_salt=salt))
        hashes[salt] = bm.block_hashes(seq, 7)
    assert len({h for hs in hashes.values() for h in hs}) == 3 * 7  # no block shared across salts


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LoadedModel]:
    path = build_tiny_model("llama", tmp_path_factory.mktemp("llama"))
    return path, load_model(model_path=path, dtype="float32", device="cpu")


def test_same_prompt_hits_only_with_the_same_salt(tiny: tuple[Path, LoadedModel]) -> None:
    llm = LLM(str(tiny[0]), loaded=tiny[1], num_kv_blocks=128, block_size=4, async_scheduling=True)
    params = SamplingParams(temperature=0, max_tokens=3, ignore_eos=True)

    def cached(request_id: str, salt: str | None) -> tuple[int, list[int]]:
        before = llm.stats().prefix_cache_hits
        llm.add_request(request_id, PROMPT, params, cache_salt=salt)
        outs = []
        while llm.has_unfinished():
            outs += llm.step(stream=False)
        assert llm.stats().prefix_cache_hits - before == outs[0].num_cached_tokens
        return outs[0].num_cached_tokens, outs[0].outputs[0].token_ids

    first, tokens = cached("a1", "tenant-a")
    assert first == 0
    assert cached("b1", "tenant-b") == (0, tokens)  # another tenant: no hit, same answer
    assert cached("none1", None) == (0, tokens)
    assert cached("a2", "tenant-a") == (28, tokens)  # 7 full blocks; the last token is recomputed
    assert cached("none2", None) == (28, tokens)
    salted = SamplingParams(temperature=0, max_tokens=3, ignore_eos=True, cache_salt="tenant-b")
    out = llm.generate([PROMPT], salted, use_tqdm=False)[0]
    assert out.num_cached_tokens == 28  # the salt in SamplingParams, as the server sets it


@pytest.mark.parametrize("salt", ["", "x" * (MAX_CACHE_SALT + 1)])
def test_bad_salts_are_refused(salt: str) -> None:
    with pytest.raises(InvalidParam) as err:
        SamplingParams(cache_salt=salt).validate()
    assert err.value.param == "cache_salt"
