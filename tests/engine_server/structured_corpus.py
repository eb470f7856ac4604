"""A corpus of JSON schemas (objects, arrays, enums, anyOf, nested $ref, string formats, numeric bounds)
built from a few hundred combinations of small parts, and a driver that walks a grammar to the end."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

LEAVES: list[dict[str, Any]] = [
    {"type": "string"},
    {"type": "string", "maxLength": 8},
    {"type": "string", "minLength": 2, "maxLength": 5},
    {"type": "string", "enum": ["red", "green", "blue"]},
    {"type": "string", "pattern": "^[a-z]{3}-[0-9]{2}$"},
    {"type": "string", "format": "date"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "email"},
    {"type": "string", "format": "uuid"},
    {"type": "string", "format": "ipv4"},
    {"type": "string", "const": "fixed"},
    {"type": "integer"},
    {"type": "integer", "minimum": 0, "maximum": 100},
    {"type": "integer", "minimum": -50, "exclusiveMaximum": 7},
    {"type": "integer", "enum": [1, 2, 3, 5, 8]},
    {"type": "number"},
    {"type": "number", "minimum": 0.5, "maximum": 9.5},
    {"type": "boolean"},
    {"type": "null"},
    {"enum": ["a", 1, None, True]},
    {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 4}]},
    {"type": ["string", "null"], "maxLength": 6},
    {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
    {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}, "minItems": 1, "maxItems": 4},
    {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}], "items": False},
]


def _object(props: dict[str, Any], required: list[str], extra: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}
    if not extra:
        schema["additionalProperties"] = False
    return schema


def corpus() -> list[dict[str, Any]]:
    """Deterministic: the same list each run (a few hundred schemas)."""
    rng = random.Random(1234)
    out: list[dict[str, Any]] = []
    # every leaf alone, as a property (required and optional), and as array items
    for leaf in LEAVES:
        out.append(leaf)
        out.append(_object({"v": leaf}, ["v"]))
        out.append(_object({"v": leaf, "w": {"type": "integer"}}, ["w"]))
        out.append({"type": "array", "items": leaf, "minItems": 1, "maxItems": 2})
    # pairs of leaves in objects
    for a, b in itertools.islice(itertools.combinations(LEAVES, 2), 0, None, 3):
        out.append(_object({"first": a, "second": b}, ["first", "second"]))
    # nested objects via $ref / $defs
    for leaf in LEAVES[::2]:
        out.append(
            {
                "$defs": {"inner": _object({"value": leaf}, ["value"])},
                "type": "object",
                "properties": {
                    "item": {"$ref": "#/$defs/inner"},
                    "items": {"type": "array", "items": {"$ref": "#/$defs/inner"}, "maxItems": 2},
                },
                "required": ["item", "items"],
                "additionalProperties": False,
            }
        )
    # a recursive $ref (a tree, bounded by the walk's budget)
    out.append(
        {
            "$defs": {
                "node": _object(
                    {
                        "name": {"type": "string", "maxLength": 4},
                        "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2},
                    },
                    ["name"],
                )
            },
            "$ref": "#/$defs/node",
        }
    )
    # anyOf between object shapes
    for a, b in itertools.islice(itertools.combinations(LEAVES, 2), 1, None, 7):
        out.append(
            {
                "anyOf": [
                    _object({"kind": {"const": "a"}, "a": a}, ["kind", "a"]),
                    _object({"kind": {"const": "b"}, "b": b}, ["kind", "b"]),
                ]
            }
        )
    # random wider objects
    for i in range(60):
        names = [f"f{j}" for j in range(rng.randint(2, 6))]
        props = {n: rng.choice(LEAVES) for n in names}
        required = [n for n in names if rng.random() < 0.7]
        out.append(_object(props, required))
        if i % 3 == 0:
            out.append(
                {
                    "type": "object",
                    "properties": {"wrap": _object(props, required)},
                    "required": ["wrap"],
                    "additionalProperties": False,
                }
            )
    return out


def ci_corpus(size: int = 40) -> list[dict[str, Any]]:
    """An even spread of `size` schemas from the full corpus."""
    full = corpus()
    step = max(1, len(full) // size)
    return full[::step][:size]


def schema_id(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True)[:60]
