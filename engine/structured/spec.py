"""What a request asks its output to follow, from OpenAI's `response_format` or vLLM's fields.

Accepted forms (at most one per request):
  response_format: {"type": "json_object"} | {"type": "json_schema", "json_schema": {name, schema, strict}}
  guided_json / guided_regex / guided_choice / guided_grammar   (vLLM, top level)
  structured_outputs: {"json" | "regex" | "choice" | "grammar" | "json_object": ...}   (vLLM >= 0.10)
Errors are InvalidParam naming the field; none quotes the schema's text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from engine.errors import InvalidParam

Kind = Literal["json_schema", "json_object", "regex", "choice", "grammar"]

MAX_SPEC_BYTES = 64 * 1024
MAX_CHOICES = 256
MAX_NAME = 64

GUIDED_FIELDS = ("guided_json", "guided_regex", "guided_choice", "guided_grammar")
STRUCTURED_KEYS = {"json": "json_schema", "regex": "regex", "choice": "choice", "grammar": "grammar"}


@dataclass(frozen=True, slots=True)
class GrammarSpec:
    """kind and its canonical text (a schema as compact JSON, keys in the order given: xgrammar emits
    properties in that order; a regex; choices as a JSON list; EBNF)."""

    kind: Kind
    value: str = ""
    param: str = "response_format"  # the request field it came from, for error messages

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.value)

    def schema(self) -> dict[str, Any]:
        return json.loads(self.value) if self.kind == "json_schema" else {}


def json_schema_spec(schema: Any, param: str) -> GrammarSpec:
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError:
            raise InvalidParam(param, "expected a JSON Schema (an object, or a string holding one)") from None
    if isinstance(schema, bool):
        schema = {} if schema else {"not": {}}
    if not isinstance(schema, dict):
        raise InvalidParam(param, "expected a JSON Schema object")
    return GrammarSpec("json_schema", _canonical(schema, param), param)


def _canonical(value: Any, param: str) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > MAX_SPEC_BYTES:
        raise InvalidParam(param, f"must be at most {MAX_SPEC_BYTES} bytes")
    return text


def _text(value: Any, param: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidParam(param, f"expected a non-empty string ({what})")
    if len(value.encode()) > MAX_SPEC_BYTES:
        raise InvalidParam(param, f"must be at most {MAX_SPEC_BYTES} bytes")
    return value


def choice_spec(value: Any, param: str) -> GrammarSpec:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise InvalidParam(param, "expected a non-empty list of non-empty strings")
    if len(value) > MAX_CHOICES:
        raise InvalidParam(param, f"at most {MAX_CHOICES} choices")
    return GrammarSpec("choice", _canonical(list(dict.fromkeys(value)), param), param)


def response_format_spec(value: Any) -> GrammarSpec | None:
    param = "response_format"
    if not isinstance(value, dict):
        raise InvalidParam(param, "expected an object with a type")
    kind = value.get("type")
    extra = set(value) - {"type", "json_schema"}
    if extra:
        raise InvalidParam(f"{param}.{sorted(extra)[0][:MAX_NAME]}", "unknown field")
    if kind == "text":
        return None
    if kind == "json_object":
        return GrammarSpec("json_object", "", param)
    if kind != "json_schema":
        raise InvalidParam(f"{param}.type", "must be one of text, json_object, json_schema")
    js = value.get("json_schema")
    where = f"{param}.json_schema"
    if not isinstance(js, dict):
        raise InvalidParam(where, "expected an object with name and schema")
    unknown = set(js) - {"name", "schema", "strict", "description"}
    if unknown:
        raise InvalidParam(f"{where}.{sorted(unknown)[0][:MAX_NAME]}", "unknown field")
    name = js.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= MAX_NAME):
        raise InvalidParam(f"{where}.name", f"expected a string of 1 to {MAX_NAME} characters")
    if js.get("strict") is not None and not isinstance(js["strict"], bool):
        raise InvalidParam(f"{where}.strict", "expected a boolean")
    schema = js.get("schema")
    if schema is None:  # OpenAI: a missing schema means any JSON object
        return GrammarSpec("json_object", "", param)
    return json_schema_spec(schema, f"{where}.schema")


def structured_outputs_spec(value: Any) -> GrammarSpec | None:
    param = "structured_outputs"
    if not isinstance(value, dict):
        raise InvalidParam(param, "expected an object")
    given = {k: v for k, v in value.items() if v is not None and v is not False}
    unknown = set(given) - {
        *STRUCTURED_KEYS,
        "json_object",
        "disable_fallback",
        "disable_any_whitespace",
        "disable_additional_properties",
        "whitespace_pattern",
    }
    if unknown:
        raise InvalidParam(f"{param}.{sorted(unknown)[0][:MAX_NAME]}", "not supported")
    kinds = [k for k in (*STRUCTURED_KEYS, "json_object") if k in given]
    if len(kinds) > 1:
        raise InvalidParam(param, "give only one of json, regex, choice, grammar, json_object")
    if not kinds:
        return None
    return _guided(kinds[0], given[kinds[0]], f"{param}.{kinds[0]}")


def _guided(key: str, value: Any, param: str) -> GrammarSpec:
    if key == "json":
        return json_schema_spec(value, param)
    if key == "json_object":
        return GrammarSpec("json_object", "", param)
    if key == "choice":
        return choice_spec(value, param)
    if key == "regex":
        return GrammarSpec("regex", _text(value, param, "a regular expression"), param)
    return GrammarSpec("grammar", _text(value, param, "an EBNF or Lark grammar"), param)


def parse_structured_fields(fields: dict[str, Any]) -> GrammarSpec | None:
    """The one constraint asked for by response_format, guided_* or structured_outputs (None: none)."""
    specs: list[GrammarSpec | None] = []
    if fields.get("response_format") is not None:
        specs.append(response_format_spec(fields["response_format"]))
    for name in GUIDED_FIELDS:
        if fields.get(name) is not None:
            specs.append(_guided(name.removeprefix("guided_"), fields[name], name))
    if fields.get("structured_outputs") is not None:
        specs.append(structured_outputs_spec(fields["structured_outputs"]))
    found = [s for s in specs if s is not None]
    if len(found) > 1:
        raise InvalidParam(found[1].param, f"conflicts with {found[0].param}; give one output constraint")
    return found[0] if found else None
