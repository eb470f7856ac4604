"""JSON Schema keywords that xgrammar drops without a word are a 400 naming the place and keyword, not
an output that breaks the constraint the request asked for; what agents send (pydantic models through
the openai SDK's strict transform, tool parameters) still compiles."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import xgrammar as xgr
from openai.lib._parsing._completions import type_to_response_format_param
from pydantic import BaseModel, Field
from xgrammar.testing import _is_grammar_accept_string

from engine.errors import InvalidParam
from engine.loader.gguf import open_gguf
from engine.structured import GrammarCompilerCache, parse_structured_fields

FOREIGN_REF = "$ref' not of the form '#/..."
OBJ = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
# (schema, an instance it forbids that xgrammar's grammar for it accepts, the keyword named in the 400)
IGNORED: list[tuple[dict[str, Any], Any, str]] = [
    ({"type": "array", "items": {"type": "integer"}, "uniqueItems": True}, [1, 1], "uniqueItems"),
    ({"type": "array", "items": {"type": "integer"}, "contains": {"const": 5}}, [1], "contains"),
    ({"type": "string", "not": {"const": "a"}}, "a", "not"),
    ({**OBJ, "if": {"required": ["a"]}, "then": {"required": ["b"]}}, {"a": 1}, "if"),
    ({**OBJ, "dependentRequired": {"a": ["b"]}}, {"a": 1}, "dependentRequired"),
    ({**OBJ, "dependentSchemas": {"a": {"required": ["b"]}}}, {"a": 1}, "dependentSchemas"),
    ({"allOf": [{"type": "integer"}, {"minimum": 3}]}, 1, "allOf"),
    ({**OBJ, "anyOf": [{"required": ["a"]}, {"required": ["b"]}]}, {}, "properties' beside 'anyOf"),
    (
        {"$ref": "#/$defs/S", "maxLength": 2, "$defs": {"S": {"type": "string"}}},
        "abcdef",
        "maxLength' beside '$ref",
    ),
    ({"type": "string", "pattern": "^[a-z]+$", "maxLength": 3}, "abcdef", "maxLength' with 'pattern"),
    ({"type": "string", "format": "email", "maxLength": 5}, "abcdef@x.io", "maxLength' with 'format"),
    ({"type": "number", "multipleOf": 0.5}, 0.3, "multipleOf"),
    ({"maxLength": 2}, "abcdef", "maxLength' without 'type"),
    # a $ref xgrammar cannot follow (another document, an anchor) compiles to "any JSON value"
    ({"$ref": "http://169.254.169.254/schema.json"}, "abc", FOREIGN_REF),
    ({"$ref": "other.json#/$defs/N", "$defs": {"N": {"type": "integer"}}}, [1], FOREIGN_REF),
    ({"$ref": "#n", "$defs": {"N": {"$anchor": "n", "type": "integer"}}}, "abc", FOREIGN_REF),
]


@pytest.fixture(scope="module")
def cache(bundled_model: Path) -> GrammarCompilerCache:
    hf_config, _, tokenizer = open_gguf(bundled_model)
    return GrammarCompilerCache.for_tokenizer(tokenizer, hf_config["vocab_size"], max_entries=64)


def _xgrammar_accepts(schema: dict[str, Any], instance: Any) -> bool:
    grammar = xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=False, strict_mode=True)
    return _is_grammar_accept_string(grammar, json.dumps(instance))


@pytest.mark.parametrize(("schema", "instance", "keyword"), IGNORED, ids=[k for _, _, k in IGNORED])
def test_keywords_the_grammar_ignores_are_refused(cache, schema, instance, keyword) -> None:
    assert _xgrammar_accepts(schema, instance)  # why: the bare grammar lets the invalid instance through
    nested = {"type": "object", "properties": {"x": schema}, "required": ["x"]}
    for where, s in (("the root", schema), ("/properties/x", nested)):
        if "$defs" in s.get("properties", {}).get("x", {}):
            continue  # $defs belong at the root
        with pytest.raises(InvalidParam) as err:
            cache.factory(parse_structured_fields({"response_format": _fmt(s)}))
        assert err.value.param == "response_format.json_schema.schema"
        assert f"at {where}, '{keyword}" in err.value.message and "not be enforced" in err.value.message


def _fmt(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array", "items": {"type": "integer"}, "uniqueItems": False},
        {"allOf": [{"type": "integer", "minimum": 3}]},
        {"$ref": "#/$defs/S", "description": "d", "$defs": {"S": {"type": "string", "maxLength": 4}}},
        {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None, "title": "X"},
        {"type": "integer", "multipleOf": 7},
        {"type": "string", "pattern": "^[a-z]+$"},
        {"type": "string", "minLength": 2, "maxLength": 4},
        {"properties": {"p": {"type": "string", "title": "not a keyword: a property named uniqueItems"}}},
        {"type": "object", "properties": {"not": {"type": "string"}, "if": {"type": "integer"}}},
    ],
)
def test_supported_schemas_compile(cache, schema) -> None:
    spec = parse_structured_fields({"response_format": _fmt(schema)})
    processor = cache.factory(spec)()  # compiled (no 400), and a fresh matcher at the start of its output
    assert spec is not None and not processor.is_terminated()


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip: Annotated[str, Field(pattern=r"^[0-9]{5}$")]


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Person(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=20)]
    age: Annotated[int, Field(ge=0, le=150)]
    color: Color
    home: Address
    previous: list[Address]
    nickname: str | None
    pet: Annotated[Cat | Dog, Field(discriminator="kind")]
    tags: list[list[str]]
    scores: dict[str, float]


def test_pydantic_models_through_the_sdk_strict_transform_compile(cache) -> None:
    fmt = type_to_response_format_param(Person)  # what client.chat.completions.parse sends
    assert fmt["json_schema"]["strict"] is True
    cache.factory(parse_structured_fields({"response_format": fmt}))
