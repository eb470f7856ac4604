"""Stream chunks as SSE bytes without building a dict per token (the common case of every stream).

A streamed request writes one chunk per engine step; at 256 concurrent streams that is tens of
thousands of chunks a second on the event loop, which shares the GIL with the step thread. The
envelope (id, object, created, model) is encoded once per request; each chunk only encodes its
choices. Output is byte-identical to `SseWriter.send(envelope(...))` for choices without logprobs
(tests/engine/server/test_chunks.py).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # as json.dumps(ensure_ascii=False)
from typing import Any


def _value(v: Any) -> str:
    return "null" if v is None else json.dumps(v, ensure_ascii=False)


class ChunkEncoder:
    """SSE events of one streamed response: `data: {"id":...,"choices":[...](,"usage":null)}\n\n`."""

    __slots__ = ("_head", "_key", "_tail")

    def __init__(
        self, obj: str, response_id: str, created: int, model: str, *, include_usage: bool, key: str
    ) -> None:
        """key: "text" (completions) or "delta" (chat, whose delta is {"content": text})."""
        head = {"id": response_id, "object": obj, "created": created, "model": model}
        self._head = (
            "data: " + json.dumps(head, separators=(",", ":"), ensure_ascii=False)[:-1] + ',"choices":['
        ).encode()
        self._tail = (',"usage":null}\n\n' if include_usage else "}\n\n").encode()
        self._key = key

    def choice(
        self,
        index: int,
        text: str | None,
        finish_reason: str | None,
        stop_reason: int | str | None = None,
        token_ids: list[int] | None = None,
    ) -> str:
        """One choice without logprobs; text None: an empty chat delta ({})."""
        if self._key == "text":
            body = f'{{"index":{index},"text":{encode_basestring(text or "")}'
        elif text is None:
            body = f'{{"index":{index},"delta":{{}}'
        else:
            body = f'{{"index":{index},"delta":{{"content":{encode_basestring(text)}}}'
        body += ',"logprobs":null,"finish_reason":'
        if finish_reason is None:
            body += "null"
        else:
            body += f'{encode_basestring(finish_reason)},"stop_reason":{_value(stop_reason)}'
        if token_ids is not None:
            body += ',"token_ids":[' + ",".join(map(str, token_ids)) + "]"
        return body + "}"

    def event(self, choices: list[str], usage: dict[str, int] | None = None) -> bytes:
        """usage: continuous usage stats (the response was built with include_usage)."""
        if usage is None:
            return self._head + (",".join(choices) + "]").encode() + self._tail
        tail = ',"usage":' + json.dumps(usage, separators=(",", ":")) + "}\n\n"
        return self._head + (",".join(choices) + "]" + tail).encode()
