"""Prompts to token ids (chat template or plain text) and the context-length check."""

from __future__ import annotations

from typing import Any

import jinja2

from engine.errors import ContextLengthExceeded
from engine.loader.dummy import has_tokenizer
from engine.server.errors import bad_request
from engine.server.tool_prompt import needs_tool_prompt, template_knows_tools, with_tool_prompt

NO_TOKENIZER = "this model is served without a tokenizer (--load-format dummy or --skip-tokenizer-init)"


def chat_prompt_ids(
    tokenizer: Any,
    messages: list[dict[str, Any]],
    add_generation_prompt: bool,
    tools: list[dict[str, Any]] | None = None,
    template_kwargs: dict[str, Any] | None = None,
) -> list[int]:
    """The model's chat template, rendered and tokenized (the template carries the special tokens).
    tools reach the template as `tools`; a template that knows no tools gets them written into the
    messages (engine/server/tool_prompt.py)."""
    if not has_tokenizer(tokenizer):
        raise bad_request("messages", f"{NO_TOKENIZER}: use /v1/completions with token-id prompts")
    kwargs = dict(template_kwargs or {})
    if needs_tool_prompt(messages, tools) and not template_knows_tools(tokenizer.chat_template):
        messages = with_tool_prompt(messages, tools)
    elif tools:
        kwargs["tools"] = tools
    try:
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=add_generation_prompt, **kwargs)
    except (jinja2.TemplateError, TypeError):
        raise bad_request("messages", "messages: the model's chat template rejected these messages") from None
    except ValueError:
        raise bad_request("messages", "this model has no chat template") from None
    return list(tokenizer.encode(text, add_special_tokens=False))


def completion_prompt_ids(tokenizer: Any, prompt: str | list[int]) -> list[int]:
    if isinstance(prompt, str):
        if not has_tokenizer(tokenizer):
            raise bad_request("prompt", f"{NO_TOKENIZER}: give the prompt as token ids (a list of ints)")
        return list(tokenizer.encode(prompt, add_special_tokens=True))
    return list(prompt)


def resolve_max_tokens(prompt_len: int, max_tokens: int | None, max_model_len: int) -> int:
    """max_tokens, or what is left of the context when None; raises ContextLengthExceeded."""
    resolved = max_tokens if max_tokens is not None else max_model_len - prompt_len
    if prompt_len + max(resolved, 1) > max_model_len:
        raise ContextLengthExceeded(prompt_len, max(resolved, 1), max_model_len)
    return resolved
