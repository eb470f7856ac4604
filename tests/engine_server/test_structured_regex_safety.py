"""Regexes a request sends (guided regex, JSON Schema `pattern` and `patternProperties`) never reach the
process's stderr through xgrammar's warnings, and never compile to a grammar that quietly drops part of
them: what xgrammar would ignore is a 400, what has the same meaning is rewritten before compiling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import xgrammar as xgr
from xgrammar.testing import _is_grammar_accept_string

from engine.errors import InvalidParam
from engine.loader.gguf import open_gguf
from engine.structured import GrammarCompilerCache, parse_structured_fields
from engine.structured.regex_check import normalize, normalize_schema, problem

CANARY = "CANARYq7Zt"
# (pattern, what the 400 names): xgrammar would ignore these, or read them differently, with a warning
REFUSED = [
    (f"(?={CANARY})x", "a lookahead or lookbehind"),
    (f"{CANARY}(?!x)", "a lookahead or lookbehind"),
    (f"(?<=a){CANARY}", "a lookahead or lookbehind"),
    (f"(?<!a){CANARY}", "a lookahead or lookbehind"),
    (f"\\A{CANARY}", "the escape '\\A'"),
    (f"{CANARY}\\Z", "the escape '\\Z'"),
    (f"\\Q{CANARY}\\E", "the escape '\\Q'"),
    (f"\\b{CANARY}", "the escape '\\b'"),
    (f"({CANARY})\\1", "a backreference"),
    (f"x$|{CANARY}$x", "'$' in the middle of the expression"),
    (f"a^{CANARY}", "'^' in the middle of the expression"),
    (f"(^{CANARY})", "'^' in the middle of the expression"),
    (f"[a-z]+\\|^{CANARY}$", "'^' in the middle of the expression"),  # an escaped '|' is no alternation
    (f"^{CANARY}$\\|x", "'$' in the middle of the expression"),
]
# (pattern, strings it must accept, strings it must refuse): compiled after normalize()
KEPT = [
    (f"^{CANARY}-a$|^{CANARY}-b$", [f"{CANARY}-a", f"{CANARY}-b"], [f"{CANARY}-ab", "x"]),
    (f"^{CANARY}$", [CANARY], [CANARY + "x"]),
    (f"{CANARY}\\!\\#\\@", [CANARY + "!#@"], [CANARY]),
    ("[\\d]+[$^]", ["1$", "2^"], ["a$"]),
    ("[^$]x", ["ax"], ["$x"]),
]


@pytest.fixture(scope="module")
def cache(bundled_model: Path) -> GrammarCompilerCache:
    hf_config, _, tokenizer = open_gguf(bundled_model)
    return GrammarCompilerCache.for_tokenizer(tokenizer, hf_config["vocab_size"], max_entries=64)


def _schema_fmt(schema: dict[str, Any]) -> dict[str, Any]:
    return {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}}


def _requests(pattern: str) -> list[tuple[dict[str, Any], str]]:
    """The same regex as each kind of field that carries one, with the param a 400 names."""
    schema_param = "response_format.json_schema.schema"
    return [
        ({"guided_regex": pattern}, "guided_regex"),
        ({"structured_outputs": {"regex": pattern}}, "structured_outputs.regex"),
        (_schema_fmt({"type": "string", "pattern": pattern}), schema_param),
        (_schema_fmt({"type": "object", "properties": {"a": {"type": "string", "pattern": pattern}}}),
         schema_param),
        (_schema_fmt({"type": "object", "patternProperties": {pattern: {"type": "integer"}}}), schema_param),
        (_schema_fmt({"type": "array", "items": {"anyOf": [{"type": "string", "pattern": pattern}]}}),
         schema_param),
    ]


@pytest.mark.parametrize(("pattern", "named"), REFUSED, ids=[n for _, n in REFUSED])
def test_what_the_grammar_would_ignore_is_a_400_and_nothing_reaches_stderr(cache, capfd, pattern, named):
    assert problem(pattern) == named
    for fields, param in _requests(pattern):
        with pytest.raises(InvalidParam) as err:
            cache.factory(parse_structured_fields(fields))
        assert err.value.param == param, fields
        assert named in err.value.message and "not be enforced" in err.value.message
        assert err.value.message.startswith(named if "regex" in param else "at /")
        assert CANARY not in err.value.message  # the message names the construct, never the text
    captured = capfd.readouterr()
    assert CANARY not in captured.err and CANARY not in captured.out


@pytest.mark.parametrize(("pattern", "accepts", "refuses"), KEPT, ids=[p[:24] for p, _, _ in KEPT])
def test_what_means_the_same_compiles_quietly_and_still_constrains(cache, capfd, pattern, accepts, refuses):
    assert problem(pattern) is None
    for fields, _ in _requests(pattern):
        assert cache.factory(parse_structured_fields(fields))() is not None
    for text in accepts:
        assert _is_grammar_accept_string(xgr.Grammar.from_regex(normalize(pattern)), text), text
        schema = normalize_schema({"type": "string", "pattern": pattern})
        assert _is_grammar_accept_string(xgr.Grammar.from_json_schema(json.dumps(schema)), json.dumps(text))
    for text in refuses:
        assert not _is_grammar_accept_string(xgr.Grammar.from_regex(normalize(pattern)), text), text
    captured = capfd.readouterr()
    assert "Warning" not in captured.err and CANARY not in captured.err


def test_the_unfixed_patterns_do_warn_with_the_text():
    """Why this exists: xgrammar itself prints the pattern (if this stops failing, xgrammar changed)."""
    import os

    read, write = os.pipe()
    saved = os.dup(2)
    os.dup2(write, 2)
    os.close(write)
    try:
        for pattern in (f"(?={CANARY})x", f"^{CANARY}$|^b$"):
            xgr.Grammar.from_json_schema(json.dumps({"type": "string", "pattern": pattern}))
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    printed = os.read(read, 1 << 16).decode()
    os.close(read)
    assert printed.count(CANARY) >= 2


def test_only_subschemas_are_rewritten_never_values():
    schema = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "pattern": "a\\!"},  # a property named "pattern"
            "c": {"const": {"pattern": "a\\!|^b$"}},
            "e": {"enum": [{"pattern": "\\!"}]},
        },
        "default": {"pattern": "\\!"},
    }
    out = normalize_schema(schema)
    assert out["properties"]["pattern"]["pattern"] == "a!"
    assert out["properties"]["c"] == schema["properties"]["c"]
    assert out["properties"]["e"] == schema["properties"]["e"]
    assert out["default"] == schema["default"]
