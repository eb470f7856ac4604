"""Typed reads of a JSON object's fields. Each error names the param; none quotes a value's text."""

from __future__ import annotations

import math
from typing import Any

from engine.server.errors import ApiError, bad_request

_MAX_NAME = 64


def _type_error(param: str, expected: str) -> ApiError:
    return bad_request(param, f"{param}: expected {expected}", code="invalid_type")


def is_inert(value: Any) -> bool:
    """A value that asks for nothing: null, an empty string, list or object."""
    return value is None or value == "" or value == [] or value == {}


class Fields:
    """Reads fields of one JSON object; remembers which were read so the rest can be refused."""

    def __init__(self, obj: Any, where: str = "") -> None:
        if not isinstance(obj, dict):
            raise _type_error(where or "body", "a JSON object")
        self.obj: dict[str, Any] = obj
        self.where = where
        self.seen: set[str] = set()

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def raw(self, key: str) -> Any:
        self.seen.add(key)
        return self.obj.get(key)

    def has(self, key: str) -> bool:
        return self.obj.get(key) is not None

    def int(self, key: str, default: int | None = None, lo: int | None = None, hi: int | None = None) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(self.name(key), "an integer")
        _check_range(self.name(key), value, lo, hi)
        return value

    def float(self, key: str, default: float | None = None) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(self.name(key), "a number")
        try:
            number = float(value)  # an int past float's range raises OverflowError
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise _type_error(self.name(key), "a number")
        return number

    def bool(self, key: str, default: bool | None = None) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise _type_error(self.name(key), "a boolean")
        return value

    def str(self, key: str, default: str | None = None, required: bool = False) -> Any:
        value = self.raw(key)
        if value is None:
            if required:
                raise bad_request(self.name(key), f"{self.name(key)}: required", code="missing_required")
            return default
        if not isinstance(value, str):
            raise _type_error(self.name(key), "a string")
        return value

    def int_list(self, key: str, lo: int = 0, hi: int | None = None) -> list[int] | None:
        value = self.raw(key)
        if value is None:
            return None
        return int_list(self.name(key), value, lo, hi)

    def str_or_str_list(self, key: str, max_items: int) -> list[str] | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _type_error(self.name(key), "a string or a list of strings")
        if len(value) > max_items:
            raise bad_request(self.name(key), f"{self.name(key)}: at most {max_items} items")
        return value

    def only_inert(self, *keys: str) -> None:
        """Fields we know but do not implement: fine when they ask for nothing."""
        for key in keys:
            if not is_inert(self.raw(key)):
                name = self.name(key)
                raise bad_request(name, f"{name}: not supported", code="unsupported_parameter")

    def ignore(self, *keys: str) -> None:
        self.seen.update(keys)

    def reject_unknown(self) -> None:
        for key in self.obj:
            if key not in self.seen:
                name = self.name(key[:_MAX_NAME])
                raise bad_request(
                    name, f"Unrecognized request argument supplied: {name}", code="unknown_parameter"
                )


def int_list(param: str, value: Any, lo: int = 0, hi: int | None = None) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise _type_error(param, "a list of integers")
    for v in value:
        _check_range(param, v, lo, hi)
    return value


def _check_range(param: str, value: int, lo: int | None, hi: int | None) -> None:
    if lo is not None and value < lo:
        raise bad_request(param, f"{param}: must be at least {lo}", code="invalid_value")
    if hi is not None and value > hi:
        raise bad_request(param, f"{param}: must be at most {hi}", code="invalid_value")
