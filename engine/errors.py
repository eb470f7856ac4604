"""Exceptions raised by the engine. Each names what went wrong; none is a bare RuntimeError."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every engine error."""


class InvalidParam(EngineError, ValueError):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


class ContextLengthExceeded(EngineError, ValueError):
    def __init__(self, prompt_tokens: int, max_tokens: int, max_model_len: int) -> None:
        super().__init__(
            f"This model's maximum context length is {max_model_len} tokens; the request has "
            f"{prompt_tokens} prompt tokens and asks for {max_tokens} more"
        )
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.max_model_len = max_model_len


class EngineDead(EngineError):
    """The engine loop died; no further requests can be served."""


class UnsupportedModel(EngineError):
    """The model's architecture or configuration is not one the engine implements."""


class ModelLoadError(EngineError):
    """A model file is missing, corrupt or truncated."""
