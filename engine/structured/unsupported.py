"""JSON Schema keywords the grammar would silently not enforce (xgrammar 0.2 drops them while compiling
without a word), found before compiling so the request gets a 400 naming the place and the keyword,
never an output that ignores a constraint it asked for. Checked by feeding xgrammar instances that
break only that keyword (tests/engine_server/test_review_agents_structured.py). vLLM refuses the same
family with its xgrammar backend ("features not supported by xgrammar").
"""

from __future__ import annotations

from typing import Any

# keywords that only annotate: harmless beside `$ref`, `anyOf` / `oneOf`
ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$comment",
        "$schema",
        "$id",
        "$anchor",
        "$defs",
        "definitions",
        "discriminator",  # OpenAPI / pydantic's discriminated unions: the branches tell them apart
        "nullable",
        "strict",
    }
)
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SCHEMA_VALUES = (
    "items",
    "additionalItems",
    "additionalProperties",
    "unevaluatedProperties",
    "unevaluatedItems",
    "propertyNames",
    "contains",
    "not",
    "if",
    "then",
    "else",
)
SCHEMA_LISTS = ("prefixItems", "anyOf", "oneOf", "allOf", "items")
NEVER = ("not", "if", "dependentRequired", "dependentSchemas", "dependencies", "contains")
TYPED = frozenset(  # keywords that constrain only values of one type: ignored by xgrammar without `type`
    {
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
    }
)
INFERRED = ("type", "enum", "const", "$ref", "anyOf", "oneOf", "allOf", "properties", "items")


def unsupported_keyword(schema: Any) -> tuple[str, str] | None:
    """(JSON pointer, keyword) of the first constraint the grammar would not enforce; None if none."""
    return _check(schema, [])


def _check(s: Any, path: list[str]) -> tuple[str, str] | None:
    if not isinstance(s, dict):
        return None
    found = _own(s)
    if found is not None:
        return _pointer(path), found
    for key in SCHEMA_MAPS:
        sub = s.get(key)
        if isinstance(sub, dict):
            for name, value in sub.items():
                if (hit := _check(value, [*path, key, str(name)])) is not None:
                    return hit
    for key in SCHEMA_VALUES:
        sub = s.get(key)
        if key == "propertyNames" and isinstance(sub, dict) and "type" not in sub:
            sub = {**sub, "type": "string"}  # a property name is a string: its string keywords are typed
        if (hit := _check(sub, [*path, key])) is not None:
            return hit
    for key in SCHEMA_LISTS:
        sub = s.get(key)
        if isinstance(sub, list):
            for i, value in enumerate(sub):
                if (hit := _check(value, [*path, key, str(i)])) is not None:
                    return hit
    return None


def _own(s: dict[str, Any]) -> str | None:
    """The keyword of this schema object (not its subschemas) that would not be enforced."""
    for key in NEVER:
        if key in s:
            return key
    if s.get("uniqueItems") is True:
        return "uniqueItems"
    all_of = s.get("allOf")
    if isinstance(all_of, list) and len(all_of) > 1:
        return "allOf"
    ref = s.get("$ref")
    if "$ref" in s and not (isinstance(ref, str) and (ref == "#" or ref.startswith("#/"))):
        return "$ref' not of the form '#/..."  # another document or an anchor: xgrammar allows any value
    for key in ("$ref", "anyOf", "oneOf"):
        if key in s:
            siblings = sorted(set(s) - ANNOTATIONS - {key})
            if siblings:
                return f"{siblings[0]}' beside '{key}"
    if "pattern" in s or "format" in s:
        for key in ("minLength", "maxLength"):
            if key in s:
                return f"{key}' with '{'pattern' if 'pattern' in s else 'format'}"
    if "multipleOf" in s and not (s.get("type") == "integer" and isinstance(s["multipleOf"], int)):
        return "multipleOf"
    if not any(k in s for k in INFERRED):
        typed = sorted(TYPED & set(s))
        if typed:
            return f"{typed[0]}' without 'type"
    return None


def _pointer(path: list[str]) -> str:
    return "/" + "/".join(p[:64] for p in path) if path else "the root"
