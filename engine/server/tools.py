"""`tools`, `tool_choice` and `parallel_tool_calls` of a chat request: validated, then turned into
the parser that reads the output and, for `required` or a named function, the grammar that makes the
output a valid call whatever the model (so a tiny model still returns valid arguments)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidParam
from engine.server.errors import bad_request
from engine.server.features import Features
from engine.server.fields import Fields
from engine.structured.spec import GrammarSpec, json_schema_spec
from engine.tool_parsers import (
    FirstCallOnly,
    JsonArrayToolParser,
    NamedToolParser,
    ToolParser,
    get_tool_parser,
)

MAX_TOOLS = 128
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
ANY_OBJECT: dict[str, Any] = {"type": "object"}


@dataclass(slots=True)
class ToolRequest:
    tools: list[dict[str, Any]]  # as given (OpenAI shape), for the chat template
    choice: str  # "none", "auto", "required" or "function"
    function: str | None = None  # the named function when choice == "function"
    parallel: bool = True

    def parameters(self, name: str) -> dict[str, Any]:
        for tool in self.tools:
            if tool["function"]["name"] == name:
                return tool["function"].get("parameters") or ANY_OBJECT
        raise KeyError(name)

    @property
    def active(self) -> bool:
        return bool(self.tools) and self.choice != "none"


def parse_tools(f: Fields) -> ToolRequest:
    raw = f.raw("tools")
    tools: list[dict[str, Any]] = []
    if raw is not None:
        if not isinstance(raw, list):
            raise bad_request("tools", "tools: expected a list of tools", code="invalid_type")
        if len(raw) > MAX_TOOLS:
            raise bad_request("tools", f"tools: at most {MAX_TOOLS} tools", code="invalid_value")
        tools = [_tool(t, i) for i, t in enumerate(raw)]
        names = [t["function"]["name"] for t in tools]
        if len(set(names)) != len(names):
            raise bad_request("tools", "tools: function names must be unique", code="invalid_value")
    parallel = f.bool("parallel_tool_calls", True)
    choice, function = _choice(f.raw("tool_choice"), tools)
    return ToolRequest(tools, choice, function, parallel)


def _tool(raw: Any, i: int) -> dict[str, Any]:
    t = Fields(raw, f"tools[{i}]")
    if t.str("type", required=True) != "function":
        raise bad_request(
            t.name("type"),
            f"{t.name('type')}: only function tools are supported",
            code="unsupported_parameter",
        )
    fn = Fields(t.raw("function"), t.name("function"))
    t.reject_unknown()
    name = fn.str("name", required=True)
    if not FUNCTION_NAME.match(name):
        raise bad_request(
            fn.name("name"), f"{fn.name('name')}: 1 to 64 of a-z, A-Z, 0-9, _ . -", code="invalid_value"
        )
    description = fn.str("description")
    params = fn.raw("parameters")
    if params is not None and not isinstance(params, dict):
        raise bad_request(
            fn.name("parameters"),
            f"{fn.name('parameters')}: expected a JSON Schema object",
            code="invalid_type",
        )
    strict = fn.bool("strict")
    fn.reject_unknown()
    function: dict[str, Any] = {"name": name}
    if description is not None:
        function["description"] = description
    if params is not None:
        function["parameters"] = params
    if strict is not None:
        function["strict"] = strict
    return {"type": "function", "function": function}


def _choice(raw: Any, tools: list[dict[str, Any]]) -> tuple[str, str | None]:
    if raw is None:
        return ("auto" if tools else "none"), None
    if isinstance(raw, str):
        if raw not in ("none", "auto", "required"):
            raise bad_request(
                "tool_choice", "tool_choice: none, auto, required or a named function", code="invalid_value"
            )
        if raw == "required" and not tools:
            raise bad_request("tool_choice", "tool_choice: required needs tools", code="invalid_value")
        return raw, None
    c = Fields(raw, "tool_choice")
    if c.str("type", required=True) != "function":
        raise bad_request("tool_choice.type", "tool_choice.type: must be function", code="invalid_value")
    fn = Fields(c.raw("function"), "tool_choice.function")
    c.reject_unknown()
    name = fn.str("name", required=True)
    fn.reject_unknown()
    if name not in {t["function"]["name"] for t in tools}:
        raise bad_request(
            "tool_choice.function.name",
            "tool_choice.function.name: not one of the tools",
            code="invalid_value",
        )
    return "function", name


def tool_grammar(req: ToolRequest) -> GrammarSpec | None:
    """The grammar `required` and named choices are enforced with (None for none and auto)."""
    if req.choice == "function":
        assert req.function is not None
        return json_schema_spec(req.parameters(req.function), "tools")
    if req.choice != "required":
        return None
    calls = [
        {
            "type": "object",
            "properties": {
                "name": {"const": t["function"]["name"]},
                "arguments": t["function"].get("parameters") or ANY_OBJECT,
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in req.tools
    ]
    schema: dict[str, Any] = {"type": "array", "items": {"anyOf": calls}, "minItems": 1}
    if not req.parallel:
        schema["maxItems"] = 1
    return json_schema_spec(schema, "tools")


def tool_parser(req: ToolRequest, features: Features) -> ToolParser | None:
    """The parser of this request's output; 400 for auto without --enable-auto-tool-choice (vLLM)."""
    if not req.active:
        return None
    if req.choice == "function":
        assert req.function is not None
        return NamedToolParser(req.function)
    if req.choice == "required":
        return JsonArrayToolParser()
    if not features.enable_auto_tool_choice or features.tool_call_parser is None:
        raise bad_request(
            "tool_choice",
            'tool_choice: "auto" needs the server started with --enable-auto-tool-choice and '
            "--tool-call-parser",
            code="unsupported_parameter",
        )
    parser = get_tool_parser(features.tool_call_parser)
    return parser if req.parallel else FirstCallOnly(parser)


def check_tool_schemas(req: ToolRequest) -> None:
    """Each tool's parameters, when given, must be a valid JSON Schema (400 naming the tool)."""
    from engine.structured.compiler import check_json_schema

    for i, t in enumerate(req.tools):
        params = t["function"].get("parameters")
        if params is not None:
            try:
                check_json_schema(params, f"tools[{i}].function.parameters")
            except InvalidParam as exc:
                raise bad_request(exc.param, f"{exc.param}: {exc.message}", code="invalid_value") from None
            except RecursionError:
                param = f"tools[{i}].function.parameters"
                message = f"{param}: the schema is nested too deeply"
                raise bad_request(param, message, code="invalid_value") from None
