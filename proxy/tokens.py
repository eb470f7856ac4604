"""How many tokens a request may cost, decided before it is forwarded (admission).

The reservation must be an upper bound on what the request can make the model do:
every prompt of a multi-prompt completion, every sample (`n`, `best_of`), every
embedding input, and `max_tokens` for each generated sequence. Settling afterwards
charges the real usage, so an over-estimate only delays, never over-serves.

Prompt text is counted without the model's tokenizer, twice:
- the bound: one token per UTF-8 byte (plus one per prompt for a BOS token). Byte-level BPE and
  byte-fallback SentencePiece tokenizers never use more, so no text (emoji, CJK, digits, rare
  letter sequences) can beat it. This is what a request reserves.
- the likely count: a non-ASCII character costs its UTF-8 bytes, an ASCII digit, punctuation
  mark or control character 1, a run of letters and spaces one per 3 characters (English
  averages ~4). It is the floor for a request whose bound exceeds a whole budget (see
  `Limiter.reserve`: such a request runs alone, on a full bucket) and what `max_prompt_tokens`
  is checked against, so honest long prompts are not refused for the bound's pessimism.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Generated tokens per sequence reserved when the request names no max_tokens and no cap applies;
# the proxy also forwards it as `max_tokens`, so the model cannot generate more.
DEFAULT_COMPLETION_TOKENS = 4096
# Legacy /v1/completions without max_tokens (or with null) generates 16 tokens: OpenAI's documented
# default, and vLLM's and the engine's.
LEGACY_COMPLETION_DEFAULT_TOKENS = 16
CHAT_BASE_TOKENS = 32  # chat template, default system prompt, generation prompt
MESSAGE_TOKENS = 8  # role markers around each message
_LETTERS_AND_SPACE = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ "


def usage_count(value: Any) -> int:
    """A token count an upstream reported: a positive int, else 0 (not a bool, a subclass of int)."""
    return value if type(value) is int and value > 0 else 0


def text_tokens(text: str) -> int:
    """The upper bound on the tokens of `text`: its UTF-8 bytes (see the module docstring)."""
    return len(text.encode("utf-8", "surrogatepass"))


def likely_text_tokens(text: str) -> int:
    """A generous but not guaranteed count for `text` (see the module docstring)."""
    if not text:
        return 0
    ascii_bytes = text.encode("ascii", "ignore")
    non_ascii_bytes = len(text.encode("utf-8", "surrogatepass")) - len(ascii_bytes)
    symbols = len(ascii_bytes.translate(None, _LETTERS_AND_SPACE))
    letters = len(ascii_bytes) - symbols
    return non_ascii_bytes + symbols + (letters + 2) // 3


Counter = Callable[[str], int]


def _strings(node: Any, count: Counter, depth: int = 0) -> int:
    """Tokens of every string (keys included) inside a JSON value."""
    if depth > 64:
        return 0
    if isinstance(node, str):
        return count(node)
    if isinstance(node, dict):
        return sum(count(k) + _strings(v, count, depth + 1) for k, v in node.items() if isinstance(k, str))
    if isinstance(node, list):
        return sum(_strings(item, count, depth + 1) for item in node)
    return len(str(node)) if node is not None else 0


def prompt_list_tokens(prompt: Any, count: Counter = text_tokens) -> tuple[int, int]:
    """(tokens, number of prompts) of a completions `prompt` or embeddings `input`: a string, a
    list of strings, a list of token ids or a list of token-id lists. One BOS token per prompt."""
    if isinstance(prompt, str):
        return count(prompt) + 1, 1
    if not isinstance(prompt, list):
        return 0, 1
    if prompt and all(isinstance(p, int) for p in prompt):
        return len(prompt), 1
    total = 0
    for item in prompt:
        if isinstance(item, str):
            total += count(item) + 1
        elif isinstance(item, list):
            total += len(item)
    return total, max(1, len(prompt))


def chat_prompt_tokens(body: dict[str, Any], count: Counter = text_tokens) -> int:
    """Messages (every text they hold, tool calls included) plus tool definitions and overhead."""
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []
    total = CHAT_BASE_TOKENS + MESSAGE_TOKENS * len(messages) + _strings(messages, count)
    for name in ("tools", "functions", "tool_choice", "response_format"):
        if body.get(name) is not None:
            total += _strings(body[name], count)
    return total


def estimate_prompt_tokens(body: dict[str, Any], route: str, count: Counter = text_tokens) -> int:
    """Prompt tokens of a chat, completions or embeddings request (all prompts together): the
    bound by default, the likely count with `count=likely_text_tokens`."""
    if route == "chat":
        return chat_prompt_tokens(body, count)
    field = "input" if route == "embeddings" else "prompt"
    return prompt_list_tokens(body.get(field, ""), count)[0]


def sequences_per_prompt(body: dict[str, Any]) -> int:
    """How many sequences the model generates for each prompt: max(n, best_of)."""
    values = (body.get("n"), body.get("best_of"))
    counts = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    return max([1, *counts])


def generated_sequences(body: dict[str, Any], route: str) -> int:
    """Every sequence the request can generate: prompts × max(n, best_of); 0 for embeddings."""
    if route == "embeddings":
        return 0
    prompts = 1 if route == "chat" else prompt_list_tokens(body.get("prompt", ""))[1]
    return prompts * sequences_per_prompt(body)
