"""Length-bounded strings unrolled (engine/structured/bounded.py): the rewritten grammar gives exactly
xgrammar's masks at every step of random walks (real BPE vocabulary), over strings as values, array
items, keys and the root, with minLength, maxLength or both; other grammars are left alone."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
import xgrammar as xgr
from grammar_walk import allowed_ids

from engine.loader.gguf import open_gguf
from engine.structured import GrammarCompilerCache, parse_structured_fields
from engine.structured.bounded import unroll_bounded_strings
from engine.structured.processor import allocate_bitmask

S = {"type": "string"}
SCHEMAS = [
    {**S, "maxLength": 5},
    {**S, "minLength": 2, "maxLength": 4},
    {**S, "minLength": 3},
    {**S, "minLength": 3, "maxLength": 3},
    {"type": "array", "items": {**S, "maxLength": 3}, "maxItems": 3},
    {
        "type": "object",
        "properties": {
            "a": {**S, "maxLength": 6},
            "b": {**S, "minLength": 1, "maxLength": 2},
            "c": {"type": "array", "items": {**S, "maxLength": 6}},
            "d": {**S, "minLength": 1},
        },
        "required": ["a", "b", "c"],
        "additionalProperties": False,
    },
    {"type": "object", "propertyNames": {"maxLength": 3}, "additionalProperties": {**S, "maxLength": 2}},
    {"type": "object", "properties": {"x": {"anyOf": [{**S, "maxLength": 2}, {"type": "integer"}]}}},
]


@pytest.fixture(scope="module")
def smol(bundled_model: Path):
    hf_config, _, tokenizer = open_gguf(bundled_model)
    return tokenizer, hf_config["vocab_size"]


@pytest.fixture(scope="module")
def cache(smol) -> GrammarCompilerCache:
    tokenizer, vocab = smol
    return GrammarCompilerCache.for_tokenizer(tokenizer, vocab)


def _walk_both(ours: xgr.GrammarMatcher, theirs: xgr.GrammarMatcher, vocab: int, seed: int) -> int:
    """Random allowed tokens (short ones after a while, so strings fill up and close), both masks
    compared before every token; the number of steps."""
    rng = random.Random(seed)
    a, b = allocate_bitmask(1, vocab), allocate_bitmask(1, vocab)
    for step in range(200):
        ours.fill_next_token_bitmask(a, 0)
        theirs.fill_next_token_bitmask(b, 0)
        assert torch.equal(a, b), f"masks differ at step {step}"
        allowed = allowed_ids(a, vocab)
        token = rng.choice(
            allowed if step < 6 or rng.random() < 0.3 else allowed[: max(1, len(allowed) // 4)]
        )
        assert ours.accept_token(token) and theirs.accept_token(token)
        if ours.is_terminated():
            assert theirs.is_terminated()
            return step
    return 200


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: json.dumps(s)[:60])
def test_unrolled_masks_equal_xgrammar_masks(cache, smol, schema) -> None:
    _, vocab = smol
    spec = parse_structured_fields({"guided_json": schema})
    grammar = xgr.Grammar.from_json_schema(spec.value, any_whitespace=False, strict_mode=True)
    assert unroll_bounded_strings(str(grammar)) is not None  # every schema here has a bounded string
    ours = cache.compile(spec)
    theirs = cache._compiler.compile_grammar(grammar)
    assert str(ours.grammar) != str(theirs.grammar)  # the rewrite is what runs
    steps = [_walk_both(xgr.GrammarMatcher(ours), xgr.GrammarMatcher(theirs), vocab, s) for s in range(3)]
    assert max(steps) >= 2  # at least a quote, a quote and the end


def test_other_grammars_are_left_alone() -> None:
    for schema in [S, {**S, "maxLength": 65}, {**S, "pattern": "^a{0,3}$"}, {"type": "integer"}]:
        grammar = xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False, strict_mode=True)
        assert unroll_bounded_strings(str(grammar)) is None, schema


def test_chains_are_shared_and_bounds_respected() -> None:
    two, three = {**S, "maxLength": 2}, {**S, "maxLength": 3}
    schema = {"type": "array", "prefixItems": [two, two, three], "minItems": 3, "items": False}
    ebnf = unroll_bounded_strings(
        str(xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False, strict_mode=True))
    )
    assert ebnf is not None
    heads = {line.split(" ::= ")[0] for line in ebnf.splitlines() if line.startswith("bounded_string_")}
    assert heads == {f"bounded_string_0_{k}" for k in range(4)}  # one chain for the class, room 3
    matcher = xgr.GrammarMatcher(xgr.GrammarCompiler(_ascii_info()).compile_grammar(ebnf))
    assert matcher.accept_string('["ab", "", "abc"]')
    assert not xgr.GrammarMatcher(xgr.GrammarCompiler(_ascii_info()).compile_grammar(ebnf)).accept_string(
        '["abc"'
    )


def _ascii_info() -> xgr.TokenizerInfo:
    return xgr.TokenizerInfo([chr(i) for i in range(32, 127)] + ["</s>"], stop_token_ids=[95])
