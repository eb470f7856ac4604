"""Typed input fields of operator actions, and the one validation every interface runs.

An action's input is a dataclass whose fields are declared with `arg()`: type (from the
annotation), default, help text, constraints (min/max, choices) and how each interface names it
(CLI flag aliases, positional, file-valued). `parse()` turns raw values into the dataclass:
JSON values from the admin API (`source="json"`), strings from `teecube admin` flags and console
forms (`source="text"`, `source="form"`). Whatever the source, a bad value gets the same
`ActionInvalid` message naming the field (`param`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domains.errors import Invalid

INT_LIMIT = 2**31
MAX_JSON_DEPTH = 64  # as the admin API's body parser (proxy/body.py): a policy is a few levels deep
SURROGATE = re.compile("[\ud800-\udfff]")
UNSET: Any = type("Unset", (), {"__repr__": lambda _self: "UNSET", "__bool__": lambda _self: False})()
"""Default of a field an update leaves unchanged when it is not given."""

PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----[A-Za-z0-9+/=\s]+-----END [A-Z ]+-----")
DURATION = re.compile(r"(\d{1,10})([smhd]?)")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class ActionInvalid(Invalid):
    """An input value an action refuses; `param` names the field."""

    def __init__(self, message: str, param: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


@dataclass(frozen=True)
class Meta:
    help: str
    label: str | None = None
    flags: tuple[str, ...] = ()  # extra CLI spellings, e.g. ("--rpm",)
    flag: str | None = None  # the CLI flag, when --NAME is taken (by a common flag such as --actor)
    positional: bool = False  # CLI positional argument
    off_flag: str | None = None  # CLI flag that sets a boolean to False (default: --no-NAME)
    cli_files: bool = False  # CLI values are file paths ('-' = stdin) whose text is the value
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False  # a console password input, never echoed back
    placeholder: str = ""
    kind: str | None = None  # overrides the kind read from the annotation ("duration", "keys")


def arg(help: str, default: Any = dataclasses.MISSING, **meta: Any) -> Any:
    """Declare an input field (`default` omitted = required)."""
    return dataclasses.field(default=default, metadata={"op": Meta(help, **meta)})


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # str, int, bool, str_list, time, object, duration, keys
    nullable: bool
    required: bool
    default: Any
    meta: Meta

    @property
    def label(self) -> str:
        return self.meta.label or self.name.replace("_", " ").capitalize()

    @property
    def flag(self) -> str:
        return self.meta.flag or "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """What a valid value is, as the error messages and help texts say it."""
        if self.kind == "int" or self.kind == "duration":
            low, high = self.meta.minimum, self.meta.maximum
            unit = " seconds (or 30d, 12h, 15m)" if self.kind == "duration" else ""
            if low is not None and high is not None:
                return f"an integer from {low} to {high}{unit}"
            if low == 1:
                return f"a positive integer{unit}"
            return f"an integer below 2^31{unit}"
        if self.choices:
            return "one of " + ", ".join(self.choices)
        return _WHAT[self.kind]

    @property
    def choices(self) -> tuple[str, ...]:
        return self.meta.choices


_WHAT = {
    "str": "a string",
    "bool": "a boolean",
    "str_list": "a list of strings",
    "time": "an ISO 8601 timestamp",
    "object": "a JSON object",
    "keys": "a list of PEM strings or JWK objects",
}
_KINDS: dict[Any, str] = {str: "str", int: "int", bool: "bool", datetime: "time"}


def _kind(annotation: Any) -> tuple[str, bool]:
    args = typing.get_args(annotation)
    nullable = isinstance(annotation, types.UnionType) and type(None) in args
    if nullable:
        (annotation,) = [a for a in args if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is list:
        return ("str_list" if typing.get_args(annotation) == (str,) else "keys"), nullable
    if origin is dict:
        return "object", nullable
    return _KINDS[annotation], nullable


def specs(cls: type[Any]) -> list[FieldSpec]:
    """The fields of an action's input dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata["op"]
        kind, nullable = _kind(hints[f.name])
        required = f.default is dataclasses.MISSING
        out.append(
            FieldSpec(f.name, meta.kind or kind, nullable, required, None if required else f.default, meta)
        )
    return out


def _bad(spec: FieldSpec) -> ActionInvalid:
    return ActionInvalid(f"{spec.name} must be {spec.describe()}.", spec.name)


def _time(spec: FieldSpec, value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 40 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _bad(spec)
    try:  # fromisoformat takes times UTC cannot hold (9999-12-31T23:59:59-23:59): the database would overflow
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise ActionInvalid(f"{spec.name} is outside the times UTC can hold.", spec.name) from None


def _keys_from_text(spec: FieldSpec, chunks: list[str]) -> list[Any]:
    """PEM blocks one after another, a JWK object, or a JSON list of both; one chunk per file."""
    out: list[Any] = []
    for chunk in chunks:
        text = chunk.strip()
        if text.startswith(("[", "{")):
            try:
                loaded = _json(text)
            except (ValueError, RecursionError):
                raise _bad(spec) from None
            out.extend(loaded if isinstance(loaded, list) else [loaded])
        else:
            blocks = PEM_BLOCK.findall(text)
            if not blocks:
                raise _bad(spec)
            out.extend(blocks)
    return out


def _from_text(spec: FieldSpec, raw: Any) -> Any:
    """A string (or what argparse already typed: a bool, a list of file texts) to a JSON-like value."""
    kind = spec.kind
    if isinstance(raw, bool) or kind in ("str", "time"):
        return raw
    if kind == "keys":
        return _keys_from_text(spec, raw if isinstance(raw, list) else [raw])
    text = str(raw).strip()
    if kind == "int":
        if not (text.lstrip("-").isascii() and text.lstrip("-").isdigit() and len(text) <= 11):
            raise _bad(spec)
        return int(text)
    if kind == "duration":
        match = DURATION.fullmatch(text)
        if not match:
            raise _bad(spec)
        return int(match.group(1)) * UNITS[match.group(2)]
    if kind == "bool":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise _bad(spec)
    if kind == "str_list":
        return [v.strip() for v in text.split(",") if v.strip()]
    if kind == "object":
        try:
            return _json(text)
        except (ValueError, RecursionError):  # a thousand brackets deep overflows the C scanner
            raise ActionInvalid(f"{spec.name} is not valid JSON.", spec.name) from None
    raise AssertionError(kind)


def _json(text: str) -> Any:
    """JSON text as the admin API reads a body: NaN and Infinity (not JSON) refused."""
    return json.loads(text, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _plain(spec: FieldSpec, value: Any, depth: int = 0) -> None:
    """What the admin API's body parser refuses in any value (proxy/body.py), refused here for the
    text a form or a CLI file gives: nesting past MAX_JSON_DEPTH, non-finite numbers, lone
    surrogates (no page, database or terminal can encode them)."""
    if depth > MAX_JSON_DEPTH:
        raise ActionInvalid(f"{spec.name} is nested too deeply (at most {MAX_JSON_DEPTH} levels).", spec.name)
    if isinstance(value, str):
        if SURROGATE.search(value):
            raise ActionInvalid(f"{spec.name} holds text that is not valid Unicode.", spec.name)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ActionInvalid(f"{spec.name} holds a number that is not finite.", spec.name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _plain(spec, key, depth + 1)
            _plain(spec, item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _plain(spec, item, depth + 1)


_JSON_CHECKS: dict[str, Any] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) < INT_LIMIT,
    "duration": lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) < INT_LIMIT,
    "bool": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "str_list": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "keys": lambda v: isinstance(v, list) and all(isinstance(x, str | dict) for x in v),
    "time": lambda v: isinstance(v, str),
}


def check(spec: FieldSpec, value: Any) -> Any:
    """One JSON-like value against its field: type, range, choices. Returns the typed value."""
    if value is None:
        if spec.nullable:
            return None
        raise _bad(spec)
    if not _JSON_CHECKS[spec.kind](value):
        raise _bad(spec)
    _plain(spec, value)
    if spec.kind in ("int", "duration"):
        low, high = spec.meta.minimum, spec.meta.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            raise _bad(spec)
    if spec.choices and value not in spec.choices:
        raise _bad(spec)
    return _time(spec, value) if spec.kind == "time" else value


def _field_name(name: str) -> str:
    return name if len(name) <= 64 and name.isprintable() else "(unprintable)"


def parse(cls: type[Any], raw: Mapping[str, Any], source: str = "json", text: Collection[str] = ()) -> Any:
    """Build the input dataclass from raw values; refuses unknown, missing and invalid fields.

    `source`: "json" (typed JSON values), "text" (strings; absent = default) or "form" (strings
    from a console form that shows every field: empty = null for a nullable field, else absent;
    an unchecked box = false). Names in `text` are strings whatever the source (URL path parts).
    """
    fields = {s.name: s for s in specs(cls)}
    for name in raw:
        if name not in fields:
            shown = _field_name(name)
            raise ActionInvalid(f"Unknown field '{shown}'.", shown, "unknown_field")
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        value = raw.get(name, UNSET)
        if source == "form":
            if spec.kind == "bool" and value is UNSET:
                value = False
            elif isinstance(value, str):
                value = value.strip() or (None if spec.nullable else UNSET)
        if value is UNSET:
            if spec.required:
                raise ActionInvalid(f"{name} is required.", name)
            continue
        if (source != "json" or name in text) and value is not None:
            value = _from_text(spec, value)
        if spec.required and value is None:
            raise ActionInvalid(f"{name} is required.", name)
        values[name] = check(spec, value)
    inp = cls(**values)
    validate = getattr(inp, "validate", None)
    if validate is not None:
        validate()
    return inp


def given(inp: Any, *skip: str) -> dict[str, Any]:
    """The fields an input sets (UNSET ones left out), without `skip`."""
    return {
        f.name: getattr(inp, f.name)
        for f in dataclasses.fields(inp)
        if getattr(inp, f.name) is not UNSET and f.name not in skip
    }
