"""Shared by the CPU and GPU grammar-overlap tests: the same requests (JSON schema rows, greedy and
seeded, beside plain rows) through the synchronous loop and through the loop with a step in flight, on
a tiny random Qwen3 checkpoint with its byte-level tokenizer; outputs must be equal and schema-valid."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import jsonschema

from engine import LLM, SamplingParams
from engine.loader import LoadedModel
from engine.structured import GrammarCompilerCache
from engine.structured.spec import json_schema_spec

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": ["alpha", "beta", "gamma"]},
        "name": {"type": "string", "pattern": "^[a-z]{1,6}$"},
        "ok": {"type": "boolean"},
        "n": {"type": "integer", "minimum": 0, "maximum": 999},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["x", "yz"]}, "maxItems": 3},
    },
    "required": ["kind", "name", "ok", "n", "tags"],
    "additionalProperties": False,
}


def requests(
    num: int, vocab: int, seeded: bool = True
) -> tuple[list[list[int]], list[SamplingParams], list[bool]]:
    """Prompts, params and which rows carry the schema: greedy and (seeded: also seeded-sampling) schema
    rows, plain rows. Without seeded rows every row takes the fast sampler (masks filled on a thread)."""
    rng = random.Random(7)
    prompts = [[rng.randrange(3, vocab) for _ in range(rng.randint(4, 40))] for _ in range(num)]
    params, constrained = [], []
    for i in range(num):
        if i % 4 == 3:
            params.append(SamplingParams(temperature=0, max_tokens=24, ignore_eos=True))
            constrained.append(False)
        elif i % 4 == 2 and seeded:
            params.append(SamplingParams(temperature=0.8, seed=i, max_tokens=160))
            constrained.append(True)
        else:
            params.append(SamplingParams(temperature=0, max_tokens=160))
            constrained.append(True)
    return prompts, params, constrained


def run(
    path: Path, loaded: LoadedModel, overlap: bool, num: int = 24, seeded: bool = True, **config: Any
) -> list[tuple[list[int], str, str | None]]:
    """(token ids, text, finish reason) per request, through a loop with or without a step in flight."""
    llm = LLM(str(path), loaded=loaded, async_scheduling=overlap, **config)
    assert llm.core.async_scheduling == overlap
    cache = GrammarCompilerCache.for_tokenizer(llm.tokenizer, llm.spec.vocab_size)
    factory = cache.factory(json_schema_spec(SCHEMA, "response_format"))
    prompts, params, constrained = requests(num, llm.spec.vocab_size, seeded)
    for p, c in zip(params, constrained, strict=True):
        if c:
            p.logits_processor_factory = factory
    outs = llm.generate(prompts, params, use_tqdm=False)
    assert llm.block_manager.num_free_blocks == llm.block_manager.num_blocks
    return [(o.outputs[0].token_ids, o.outputs[0].text, o.outputs[0].finish_reason) for o in outs]


def check(sync: list, overlapped: list, num: int = 24) -> None:
    assert overlapped == sync
    _, _, constrained = requests(num, 512)
    for (_, text, reason), c in zip(overlapped, constrained, strict=True):
        if c:
            assert reason == "stop"
            jsonschema.validate(json.loads(text), SCHEMA)
