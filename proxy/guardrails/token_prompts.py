"""Token-id prompts (completions `prompt`, embeddings `input` as ids or lists of ids).

For upstreams that can decode ids the proxy gets their text: a teecube engine's own tokenizer,
fetched once from its `GET /tokenizer` and decoded here (id_decoder.py), else the upstream's
`POST /detokenize {"model", "tokens"} -> {"prompt"}` (vLLM, older engines). It scans a copy of
the body with that text in place of the ids, and forwards the ids unchanged when the
scan changed nothing in them. Ids cannot be rewritten: a mask or placeholder that lands in text
decoded from ids refuses the request (`IdPromptRefused`), a block blocks it as usual. Other
upstream kinds get token-id prompts refused whenever the policy scans input.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

DETOKENIZE_KINDS = frozenset({"teecube", "openai"})  # our engine, vLLM (POST /detokenize)
MAX_ID_PROMPTS = 128  # id lists decoded per request


@dataclass(frozen=True, slots=True)
class IdPrompt:
    path: tuple[Any, ...]  # ("prompt",) for one list of ids, ("prompt", i) for item i of a batch
    ids: list[int] = field(repr=False)  # the tenant's prompt as token ids; never in logs


class IdPromptRefused(Exception):
    """A finding the policy masks or pseudonymizes lies in text decoded from token ids."""


def prompt_key(route: str) -> str | None:
    return {"completions": "prompt", "embeddings": "input"}.get(route)


def _ids(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(t, int) and not isinstance(t, bool) for t in value)
    )


def find(body: dict, route: str) -> list[IdPrompt]:
    """The token-id prompts of a completions or embeddings body (empty for chat)."""
    key = prompt_key(route)
    value = body.get(key) if key else None
    if _ids(value):
        return [IdPrompt((key,), value)]
    if isinstance(value, list):
        return [IdPrompt((key, i), item) for i, item in enumerate(value) if _ids(item)]
    return []


def _set(body: dict, path: tuple[Any, ...], value: Any) -> None:
    node: Any = body
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


def _get(body: dict, path: tuple[Any, ...]) -> Any:
    node: Any = body
    for step in path:
        node = node[step]
    return node


def with_texts(body: dict, prompts: list[IdPrompt], texts: list[str]) -> dict:
    """A copy of `body` with each id prompt replaced by its decoded text (what gets scanned)."""
    out = copy.deepcopy(body)
    for prompt, text in zip(prompts, texts, strict=True):
        _set(out, prompt.path, text)
    return out


def with_ids(scanned: dict, prompts: list[IdPrompt], texts: list[str]) -> dict:
    """The scanned body with the ids put back; raises IdPromptRefused if the scan changed any
    decoded text (a mask or placeholder there cannot be expressed as ids)."""
    for prompt, text in zip(prompts, texts, strict=True):
        if _get(scanned, prompt.path) != text:
            raise IdPromptRefused
    out = copy.deepcopy(scanned)
    for prompt in prompts:
        _set(out, prompt.path, prompt.ids)
    return out
