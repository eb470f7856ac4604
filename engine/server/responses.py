"""OpenAI response bodies and stream chunks for chat and text completions (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class TokenTexts:
    """Text of single tokens for logprobs, cached per token id."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._cache: dict[int, str] = {}

    def __call__(self, token_id: int) -> str:
        text = self._cache.get(token_id)
        if text is None:
            text = self._cache[token_id] = self._tokenizer.decode([token_id], skip_special_tokens=False)
        return text


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chat_logprobs(texts: TokenTexts, logprobs: list[dict[str, Any]], top_n: int) -> dict[str, Any]:
    def entry(token_id: int, logprob: float) -> dict[str, Any]:
        text = texts(token_id)
        return {"token": text, "logprob": max(logprob, -9999.0), "bytes": list(text.encode())}

    content = []
    for lp in logprobs:
        top = [entry(i, v) for i, v in lp["top"][:top_n]]
        content.append({**entry(lp["token_id"], lp["logprob"]), "top_logprobs": top})
    return {"content": content}


def completion_logprobs(texts: TokenTexts, logprobs: list[dict[str, Any]], offset: int) -> dict[str, Any]:
    """Completions-style logprobs; offset: the text offset of the first token."""
    return _completion_lists(texts, [lp["token_id"] for lp in logprobs], logprobs, offset, None)


def echo_logprobs(
    texts: TokenTexts, prompt_ids: list[int], entries: list[dict[str, Any] | None] | None, top_n: int
) -> dict[str, Any]:
    """Completions-style logprobs of an echoed prompt (the engine's prompt logprobs, top_n alternatives):
    the first token has none (null), as in OpenAI's echo; offsets count from the start of the prompt."""
    if entries is None or len(entries) != len(prompt_ids):
        entries = [None] * len(prompt_ids)  # (never from the engine: it gives one entry per prompt token)
    return _completion_lists(texts, prompt_ids, entries, 0, top_n)


def _completion_lists(
    texts: TokenTexts,
    token_ids: list[int],
    entries: Sequence[dict[str, Any] | None],
    offset: int,
    top_n: int | None,
) -> dict[str, Any]:
    """The four parallel lists; a None entry (an echoed prompt's first token) has null logprobs."""
    tokens, token_logprobs, top_logprobs, text_offset = [], [], [], []
    for token_id, lp in zip(token_ids, entries, strict=True):
        text = texts(token_id)
        tokens.append(text)
        token_logprobs.append(None if lp is None else max(lp["logprob"], -9999.0))
        top_logprobs.append(None if lp is None else {texts(i): max(v, -9999.0) for i, v in lp["top"][:top_n]})
        text_offset.append(offset)
        offset += len(text)
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top_logprobs,
        "text_offset": text_offset,
    }


def vllm_prompt_logprobs(
    texts: TokenTexts, entries: list[dict[str, Any] | None] | None, top_n: int
) -> list[dict[str, dict[str, Any]] | None] | None:
    """vLLM's `prompt_logprobs`: per prompt token (the first null), {token id: {logprob, rank,
    decoded_token}} for the prompt token itself and the top_n alternatives (ranks 1..top_n)."""
    if entries is None:
        return None
    out: list[dict[str, dict[str, Any]] | None] = []
    for lp in entries:
        if lp is None:
            out.append(None)
            continue
        token = lp["token_id"]
        position = {str(token): _logprob(texts, token, lp["logprob"], lp.get("rank"))}
        for rank, (i, v) in enumerate(lp["top"][:top_n], start=1):
            position.setdefault(str(i), _logprob(texts, i, v, rank))
        out.append(position)
    return out


def _logprob(texts: TokenTexts, token_id: int, logprob: float, rank: int | None) -> dict[str, Any]:
    return {"logprob": max(logprob, -9999.0), "rank": rank, "decoded_token": texts(token_id)}


def joined_logprobs(first: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
    """Two completions-style logprobs objects as one (an echoed prompt's, then the completion's)."""
    return {key: [*first[key], *then[key]] for key in first}


def choice(
    index: int,
    key: str,
    value: Any,
    logprobs: dict[str, Any] | None,
    finish_reason: str | None,
    stop_reason: int | str | None = None,
) -> dict[str, Any]:
    """key: "message" (chat), "delta" (chat chunk) or "text" (completions)."""
    body: dict[str, Any] = {"index": index, key: value, "logprobs": logprobs, "finish_reason": finish_reason}
    if finish_reason is not None:
        body["stop_reason"] = stop_reason
    return body


def envelope(
    obj: str,
    response_id: str,
    created: int,
    model: str,
    choices: list[dict[str, Any]],
    usage_: dict[str, int] | None = None,
) -> dict[str, Any]:
    """obj: chat.completion, chat.completion.chunk or text_completion."""
    return {
        "id": response_id,
        "object": obj,
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage_,
    }
