"""engine/structured without a model: request fields → specs, specs → grammars (cached), and the
processor's masks walked to the end over a corpus of JSON schemas, every output checked by jsonschema."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import torch
from grammar_walk import Walker, allowed_ids
from structured_corpus import ci_corpus, corpus, schema_id

from engine.errors import InvalidParam
from engine.loader.gguf import open_gguf
from engine.structured import GrammarCompilerCache, parse_structured_fields, processor_factory
from engine.structured.processor import allocate_bitmask
from engine.structured.spec import GrammarSpec

full_corpus = pytest.mark.skipif(
    not os.environ.get("TEECUBE_RUN_SLOW"), reason="the full corpus: set TEECUBE_RUN_SLOW=1"
)


@pytest.fixture(scope="module")
def smol(bundled_model: Path):
    hf_config, _, tokenizer = open_gguf(bundled_model)
    return tokenizer, hf_config["vocab_size"]


@pytest.fixture(scope="module")
def cache(smol) -> GrammarCompilerCache:
    tokenizer, vocab = smol
    return GrammarCompilerCache.for_tokenizer(tokenizer, vocab, max_entries=512)


@pytest.fixture(scope="module")
def walker(smol) -> Walker:
    return Walker(*smol)


def _valid(schema: dict, value: object) -> None:
    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())


def _invalid_walks(cache: GrammarCompilerCache, walker: Walker, schema: dict, seeds: int = 2) -> list[str]:
    """Random walks through the schema's grammar, one per seed: each output that is not valid JSON for
    the schema, with the reason (none when the grammar holds)."""
    spec = parse_structured_fields({"guided_json": schema})
    make = cache.factory(spec)
    invalid = []
    for seed in range(seeds):
        walker.rng.seed(seed)
        text = walker.text(walker.walk(make()))
        try:
            _valid(schema, json.loads(text))
        except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
            invalid.append(f"{schema_id(schema)}: {text!r}: {exc}")
    return invalid


@pytest.mark.parametrize("schema", ci_corpus(40), ids=schema_id)
@pytest.mark.slow
def test_corpus_outputs_are_schema_valid(cache, walker, schema) -> None:
    assert _invalid_walks(cache, walker, schema) == []


@pytest.mark.slow
@pytest.mark.timeout(3600)
@full_corpus
def test_full_corpus_outputs_are_schema_valid(cache, walker) -> None:
    schemas = corpus()
    assert len(schemas) >= 300
    invalid = [line for schema in schemas for line in _invalid_walks(cache, walker, schema, seeds=3)]
    assert invalid == []


def test_response_format_forms() -> None:
    assert parse_structured_fields({"response_format": {"type": "text"}}) is None
    assert parse_structured_fields({}) is None
    obj = parse_structured_fields({"response_format": {"type": "json_object"}})
    assert obj == GrammarSpec("json_object", "", "response_format")
    schema = {"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "string"}}}
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    a = parse_structured_fields({"response_format": rf})
    b = parse_structured_fields({"guided_json": json.dumps(schema)})
    c = parse_structured_fields({"structured_outputs": {"json": schema}})
    assert a.kind == b.kind == c.kind == "json_schema"
    assert a.key == b.key == c.key  # one cache entry whichever field carried it
    assert parse_structured_fields({"guided_choice": ["x", "y"]}).kind == "choice"
    assert parse_structured_fields({"structured_outputs": {"regex": "[0-9]+"}}).kind == "regex"
    assert parse_structured_fields({"guided_grammar": 'root ::= "a"'}).kind == "grammar"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"schema": 3}}},
            "response_format.json_schema.schema",
        ),
        ({"response_format": {"type": "json_object", "bogus": 1}}, "response_format.bogus"),
        ({"guided_choice": []}, "guided_choice"),
        ({"guided_choice": ["a", 2]}, "guided_choice"),
        ({"guided_regex": ""}, "guided_regex"),
        ({"guided_json": "{not json"}, "guided_json"),
        ({"guided_json": {"type": "object"}, "guided_regex": "a"}, "guided_regex"),
        ({"structured_outputs": {"json": {}, "regex": "a"}}, "structured_outputs"),
        ({"structured_outputs": {"xml": "a"}}, "structured_outputs.xml"),
    ],
)
def test_malformed_fields_name_the_param(fields, param) -> None:
    with pytest.raises(InvalidParam) as info:
        parse_structured_fields(fields)
    assert info.value.param == param


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (
            {"guided_json": {"type": "object", "properties": {"a": {"type": "intger"}}}},
            ["/properties/a/type", "not a valid JSON Schema"],
        ),
        ({"guided_json": {"type": "object", "required": "a"}}, ["/required"]),
        ({"guided_json": {"$ref": "#/$defs/missing"}}, ["JSON Schema"]),
        ({"guided_regex": "(unclosed"}, ["regular expression"]),
        ({"guided_grammar": "this is not ebnf"}, ["grammar"]),
    ],
)
def test_invalid_schemas_are_refused_naming_the_problem(cache, fields, words) -> None:
    spec = parse_structured_fields(fields)
    with pytest.raises(InvalidParam) as info:
        cache.compile(spec)
    message = str(info.value.message)
    assert info.value.param == spec.param
    for word in words:
        assert word in message
    assert "intger" not in message and "missing" not in message and "unclosed" not in message


def test_cache_compiles_once_per_spec_and_evicts_lru(smol) -> None:
    cache = GrammarCompilerCache.for_tokenizer(*smol, max_entries=2)
    specs = [parse_structured_fields({"guided_choice": [f"c{i}"]}) for i in range(3)]
    first = cache.compile(specs[0])
    assert cache.compile(specs[0]) is first and (cache.hits, cache.misses) == (1, 1)
    cache.compile(specs[1])
    cache.compile(specs[0])  # now most recent
    cache.compile(specs[2])  # evicts specs[1]
    assert cache.compile(specs[0]) is first
    cache.compile(specs[1])
    assert cache.misses == 4


def test_choice_regex_and_grammar_walks(cache, walker) -> None:
    choices = ["yes", 'no "quoted"', "maybe\\later", "été"]
    make = processor_factory(cache.compile(parse_structured_fields({"guided_choice": choices})))
    seen = {walker.text(walker.walk(make(), budget=0 if s % 2 else 99)) for s in range(8)}
    assert seen <= set(choices) and seen
    regex = r"[A-Z]{2}-\d{3}"
    make = processor_factory(cache.compile(parse_structured_fields({"guided_regex": regex})))
    assert re.fullmatch(regex, walker.text(walker.walk(make())))
    grammar = 'root ::= "(" num ("+" num)* ")"\nnum ::= [0-9]+'
    make = processor_factory(cache.compile(parse_structured_fields({"guided_grammar": grammar})))
    assert re.fullmatch(r"\(\d+(\+\d+)*\)", walker.text(walker.walk(make())))


def test_json_object_walk_is_an_object(cache, walker) -> None:
    make = cache.factory(parse_structured_fields({"response_format": {"type": "json_object"}}))
    for seed in range(3):
        walker.rng.seed(seed)
        assert isinstance(json.loads(walker.text(walker.walk(make()))), dict)


def test_processor_rejects_a_token_the_mask_forbids(cache, smol) -> None:
    tokenizer, vocab = smol
    make = processor_factory(cache.compile(parse_structured_fields({"guided_choice": ["yes"]})))
    p, q = make(), make()  # one matcher per sequence: independent states
    mask = allocate_bitmask(1, vocab)
    p.fill_bitmask(mask, 0)
    allowed = allowed_ids(mask, vocab)
    forbidden = tokenizer.token_to_id("}")
    assert forbidden not in allowed
    assert not p.accept(forbidden) and not p.is_terminated()
    for t in tokenizer.encode("yes") + tokenizer.eos_token_ids:
        assert p.accept(t)
    assert p.is_terminated() and not q.is_terminated()


def test_fill_batch_equals_row_by_row_fills(cache, walker, smol) -> None:
    from engine.structured.processor import fill_batch

    _, vocab = smol
    specs = [
        parse_structured_fields(
            {"guided_json": {"type": "object", "properties": {"a": {"type": "integer"}}}}
        ),
        parse_structured_fields({"guided_choice": ["red", "blue"]}),
        parse_structured_fields({"response_format": {"type": "json_object"}}),
    ]
    procs = [cache.factory(s)() for s in specs]
    for p, prefix in zip(procs, ['{"a": 1', "re", "{"], strict=True):
        for t in walker.tokenizer.encode(prefix):
            assert p.accept(t)
    one, many = allocate_bitmask(6, vocab), allocate_bitmask(6, vocab)
    rows = [4, 0, 2]
    for p, r in zip(procs, rows, strict=True):
        p.fill_bitmask(one, r)
    fill_batch(procs, many, rows)
    assert torch.equal(one, many)


def test_tracked_termination_and_batched_accepts_follow_the_matcher(cache, walker, smol) -> None:
    """is_terminated() is tracked in Python (no foreign call per row): it equals xgrammar's own state at
    every step of walks that end, through accept() and accept_batch(), refusals included."""
    from engine.structured.processor import GrammarProcessor

    _, vocab = smol
    make = cache.factory(parse_structured_fields({"guided_json": {"type": "array", "maxItems": 2}}))
    for seed in range(3):
        walker.rng.seed(seed)
        tokens = walker.walk(make())
        p, q = make(), make()
        mask = allocate_bitmask(1, vocab)
        for t in tokens:
            p.fill_bitmask(mask, 0)
            forbidden = next(i for i in range(vocab) if i not in set(allowed_ids(mask, vocab)))
            assert not GrammarProcessor.accept_batch([p], [forbidden])[0] and p.rejected
            assert GrammarProcessor.accept_batch([p], [t]) == [True]
            assert q.accept(t)
            assert p.is_terminated() == p.matcher.is_terminated() == q.is_terminated()
        assert p.is_terminated()
        assert GrammarProcessor.accept_batch([p, q], tokens[:2]) == [False, False] and not q.accept(tokens[0])


def test_accept_rows_matches_row_by_row_accepts(cache, walker, smol) -> None:
    """The batched accept's results (accepted, terminated) equal accept() + is_terminated() row by row in
    the usual step (every row advances) and in the rare ones: a row refusing its token, a row taking its
    stop token, a row that had ended already; mixed processor classes go through accept_tokens too."""
    from engine.logits_process import accept_tokens
    from engine.structured.processor import GrammarProcessor

    tokenizer, _ = smol
    make = cache.factory(parse_structured_fields({"guided_choice": ["yes", "no"]}))
    yes = tokenizer.encode("yes")
    eos = tokenizer.eos_token_ids[0]
    forbidden = tokenizer.token_to_id("}")

    def fresh(n: int) -> tuple[list[GrammarProcessor], list[GrammarProcessor]]:
        return [make() for _ in range(n)], [make() for _ in range(n)]

    batched, single = fresh(4)
    for t in yes:
        got = GrammarProcessor.accept_rows(batched, [t] * 4)
        assert got == [(p.accept(t), p.is_terminated()) for p in single] == [(True, False)] * 4
    ended = GrammarProcessor.accept_rows(batched[:1], [eos])
    assert ended == [(True, True)] and single[0].accept(eos)
    tokens = [eos, forbidden, eos, yes[0]]  # row 0 ended already; 1 refuses; 2 stops; 3 refuses (done)
    expected = []
    for p, t in zip(single, tokens, strict=True):
        was_done = p.is_terminated()
        ok = p.accept(t)
        expected.append((ok, p.is_terminated() or was_done))
    assert GrammarProcessor.accept_rows(batched, tokens) == expected
    assert [p.rejected for p in batched] == [False, True, False, True]

    class Plain:  # a processor without batch calls, beside grammar rows
        def accept(self, token_id: int) -> bool:
            return token_id != forbidden

        def is_terminated(self) -> bool:
            return False

    mixed_rows, _ = fresh(2)
    procs = [mixed_rows[0], Plain(), mixed_rows[1]]
    assert accept_tokens(procs, [yes[0], forbidden, forbidden]) == [
        (True, False),
        (False, False),
        (False, False),
    ]


def test_and_masks_on_scattered_rows_equal_row_by_row(cache, walker, smol) -> None:
    """The JSON-safe AND is applied per run of consecutive rows: scattered rows, mixed kinds (a choice has
    no AND mask) and one long run give what fill_bitmask gives row by row; other rows stay all ones."""
    from engine.structured.processor import fill_batch

    _, vocab = smol
    schema = {"type": "object", "properties": {"k": {"type": "string", "maxLength": 5}}}
    json_spec = parse_structured_fields({"guided_json": schema})  # bounded strings let controls through
    choice = parse_structured_fields({"guided_choice": ["a", "c"]})
    procs = [cache.factory(s)() for s in [json_spec, json_spec, choice, json_spec, json_spec, json_spec]]
    for p in procs:
        if p.and_mask is not None:
            for t in walker.tokenizer.encode('{"k": "'):
                assert p.accept(t)
    rows = [1, 2, 3, 5, 6, 7]
    one, many = allocate_bitmask(9, vocab), allocate_bitmask(9, vocab)
    for p, r in zip(procs, rows, strict=True):
        p.fill_bitmask(one, r)
    fill_batch(procs, many, rows)
    assert torch.equal(one, many)
    assert (many[[0, 4, 8]] == -1).all()
    raw = allocate_bitmask(1, vocab)
    procs[0].matcher.fill_next_token_bitmask(raw, 0)
    assert not torch.equal(raw[0], many[1]) and not (many[1] & ~raw[0]).any()  # the AND cleared bits


def test_and_mask_applied_in_the_mask_pass_keeps_control_tokens_out(cache, walker, smol) -> None:
    """The engine's AND in the mask pass (ModelRunner._and_mask + apply_bitmask, the host fill told to
    skip it): a raw control-character token the grammar lets into a JSON string is -inf on the grammar's
    row, and a row without a processor (not flagged) keeps it; several distinct masks fall back to the
    host AND (None)."""
    from types import SimpleNamespace

    from engine.logits_process import apply_bitmask, fill_rows
    from engine.model_runner import ModelRunner

    _, vocab = smol
    spec = parse_structured_fields(
        {"guided_json": {"type": "object", "properties": {"k": {"type": "string", "maxLength": 5}}}}
    )
    proc = cache.factory(spec)()
    for t in walker.tokenizer.encode('{"k": "'):
        assert proc.accept(t)
    raw = allocate_bitmask(2, vocab)
    fill_rows([proc], raw, [0], skip_and=True)  # the grammar alone: control characters allowed
    grammar_ok = set(allowed_ids(raw[:1], vocab))
    safe = set(allowed_ids(proc.and_mask.reshape(1, -1), vocab))
    control = sorted(grammar_ok - safe)
    assert control, "the grammar lets no control token through: nothing to test"
    runner = SimpleNamespace(_and_masks={}, device=torch.device("cpu"))
    mask, flags = ModelRunner._and_mask(runner, [proc], [0], 2)
    assert flags is not None and flags.tolist() == [1, 0]
    assert ModelRunner._and_mask(runner, [proc], [0], 1)[1] is None  # every row: no flags
    logits = torch.zeros(2, vocab)
    logits[:, control[0]] = 10.0
    out = apply_bitmask(logits, raw, mask, flags)
    assert out[0, control[0]] == float("-inf") and out[0].argmax().item() in grammar_ok & safe
    assert out[1].argmax().item() == control[0]
    other = cache.factory(spec)()
    other.and_mask = proc.and_mask.clone()  # a second, distinct mask object
    assert ModelRunner._and_mask(runner, [proc, other], [0, 1], 2) is None


def test_staging_resets_only_rows_not_filled_whole() -> None:
    from engine.model_runner import BitmaskStaging

    staging = BitmaskStaging(torch.device("cpu"))
    buf = staging.host(5, 3)
    assert (buf == -1).all()
    buf.zero_()
    staging.to_device(buf)
    staging.to_device(staging.host(5, 3))  # the other buffer's turn
    again = staging.host(5, 3, [0, 3])
    assert again.data_ptr() == buf.data_ptr()
    assert (again[[1, 2, 4]] == -1).all() and (again[[0, 3]] == 0).all()
    again.zero_()
    staging.to_device(again)
    staging.to_device(staging.host(5, 3))
    assert (staging.host(5, 3, [4, 3, 2, 1, 0]) == 0).all()  # every row filled whole: no reset at all


def test_accepts_split_over_threads_equal_one_by_one(cache, walker, smol, monkeypatch) -> None:
    """accept_batch over 96 rows on 3 threads (chunks of 32) gives what accept() gives row by row: the
    same results in row order (forbidden tokens refused where they were sent), the same masks after."""
    import random

    import engine.structured.processor as processor

    monkeypatch.setenv("TEECUBE_GRAMMAR_ACCEPT_THREADS", "3")
    monkeypatch.setattr(processor, "_accept_pool", None)
    _, vocab = smol
    spec = parse_structured_fields(
        {
            "guided_json": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"n": {"type": "string", "maxLength": 6}, "k": {"type": "integer"}},
                },
            }
        }
    )
    make = cache.factory(spec)
    split, single = [make() for _ in range(96)], [make() for _ in range(96)]
    rng = random.Random(0)
    a, b = allocate_bitmask(96, vocab), allocate_bitmask(96, vocab)
    split_calls = []
    pool_submit = processor.ThreadPoolExecutor.submit
    monkeypatch.setattr(
        processor.ThreadPoolExecutor, "submit", lambda s, *x: split_calls.append(1) or pool_submit(s, *x)
    )
    for step in range(12):
        for r, (p, q) in enumerate(zip(split, single, strict=True)):
            if not p.is_terminated():
                p.fill_bitmask(a, r)
                q.fill_bitmask(b, r)
        assert torch.equal(a, b)
        tokens = []
        for r in range(96):
            ids = allowed_ids(a[r : r + 1], vocab)
            if split[r].is_terminated():
                tokens.append(ids[0])  # refused by both: a finished matcher takes nothing
            elif step == 5 and r % 7 == 0:  # a token the mask forbids
                tokens.append(next(i for i in range(vocab) if i not in set(ids)))
            else:
                tokens.append(rng.choice(ids))
        got = processor.GrammarProcessor.accept_batch(split, tokens)
        assert got == [p.accept(t) for p, t in zip(single, tokens, strict=True)]
        assert [p.is_terminated() for p in split] == [p.is_terminated() for p in single]
        if step == 5:
            assert all(not got[r] for r in range(0, 96, 7))
    assert len(split_calls) >= 2  # the first step's 96 live rows: two chunks on the pool, one here
