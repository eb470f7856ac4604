"""A chat completion stream (already through the output guardrails) as Responses API events.

The relay hands each chunk it would have sent to `encode` and, at the end, calls `finish`:
    response.created, response.in_progress
    a message item (one for all the text, as in a whole Response): output_item.added,
        content_part.added, output_text.delta...
    a function_call item per tool call: output_item.added, function_call_arguments.delta...
    at the end, every item in output order: output_text.done, content_part.done, output_item.done, or
        function_call_arguments.done, output_item.done
    response.completed (or .incomplete: max_output_tokens, content_filter; or .failed after an error)
Every event carries `type` and `sequence_number`; the SSE `event:` line names it too. No `[DONE]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.forward.relay import compact_json
from proxy.responses_api import response as shapes
from proxy.responses_api.request import Echo


@dataclass(slots=True)
class _Call:
    output_index: int
    item_id: str
    call_id: str
    name: str
    arguments: str = ""


class ResponsesStream:
    """One stream's encoder (one choice: the Responses API has no `n`)."""

    def __init__(self, echo: Echo, alias: str) -> None:
        self.response = shapes.skeleton(echo, alias, shapes.new_id("resp"))
        self.sequence = 0
        self.started = False
        self.text_item: tuple[int, str] | None = None  # (output index, item id) of the open message
        self.text = ""
        self.calls: dict[int, _Call] = {}  # the call each chat tool-call index is adding to
        self.call_items: dict[int, _Call] = {}  # every call, by its output index
        self.finish_reason: str | None = None
        self.error: dict[str, Any] | None = None
        self.finished = False

    def _event(self, kind: str, **fields: Any) -> bytes:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + compact_json(event).encode() + b"\n\n"

    def _start(self) -> list[bytes]:
        if self.started:
            return []
        self.started = True
        return [self._event("response.created", response=self.response),
                self._event("response.in_progress", response=self.response)]

    def encode(self, chunk: dict[str, Any]) -> bytes:
        """Events for one chat chunk: deltas, a usage chunk (kept for the end) or an error event."""
        if self.finished:
            return b""
        out = self._start()
        if "error" in chunk:
            error = chunk["error"] if isinstance(chunk["error"], dict) else {}
            code, message = error.get("code") or "server_error", str(error.get("message", ""))
            self.error = {"code": code, "message": message}
            out.append(self._event("error", code=code, message=message, param=None))
            return b"".join(out)
        if chunk.get("usage") is not None:
            self.response["usage"] = shapes.usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            content = delta.get("content")
            if isinstance(content, str) and content:
                out += self._text_delta(content)
            calls = delta.get("tool_calls")
            for position, call in enumerate(calls if isinstance(calls, list) else []):
                if isinstance(call, dict):
                    out += self._call_delta(call, position)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return b"".join(out)

    def _open_text(self) -> list[bytes]:
        if self.text_item is not None:
            return []
        self.text_item = (len(self.response["output"]), shapes.new_id("msg"))
        index, item_id = self.text_item
        item = shapes.message_item(item_id, "", "in_progress")
        item["content"] = []
        self.response["output"].append(None)  # its place; filled when the item is done
        return [self._event("response.output_item.added", output_index=index, item=item),
                self._event("response.content_part.added", item_id=item_id, output_index=index,
                            content_index=0, part=shapes.text_part(""))]

    def _text_delta(self, content: str) -> list[bytes]:
        out = self._open_text()
        assert self.text_item is not None
        index, item_id = self.text_item
        self.text += content
        out.append(self._event("response.output_text.delta", item_id=item_id, output_index=index,
                               content_index=0, delta=content, logprobs=[]))
        return out

    def _close_text(self, status: str) -> list[bytes]:
        if self.text_item is None:
            return []
        index, item_id = self.text_item
        self.text_item = None
        item = shapes.message_item(item_id, self.text, status)
        self.response["output"][index] = item
        self.text = ""
        part = item["content"][0]
        return [
            self._event("response.output_text.done", item_id=item_id, output_index=index, content_index=0,
                        text=part["text"], logprobs=[]),
            self._event("response.content_part.done", item_id=item_id, output_index=index, content_index=0,
                        part=part),
            self._event("response.output_item.done", output_index=index, item=item),
        ]

    def _call_delta(self, call: dict[str, Any], position: int) -> list[bytes]:
        index = call["index"] if type(call.get("index")) is int else position
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        out: list[bytes] = []
        state = self.calls.get(index)
        new_id = call.get("id")
        if state is None or (isinstance(new_id, str) and new_id and new_id != state.call_id):
            # a new call; a server that numbers every call 0 (Ollama) tells them apart by their ids
            state = _Call(len(self.response["output"]), shapes.new_id("fc"),
                          str(new_id or shapes.new_id("call")), str(function.get("name") or ""))
            self.calls[index] = self.call_items[state.output_index] = state
            self.response["output"].append(None)
            item = shapes.call_item(state.item_id, state.call_id, state.name, "", "in_progress")
            out.append(self._event("response.output_item.added", output_index=state.output_index, item=item))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            state.arguments += arguments
            out.append(self._event("response.function_call_arguments.delta", item_id=state.item_id,
                                   output_index=state.output_index, delta=arguments))
        return out

    def finish(self) -> bytes:
        """The closing events and the final Response (completed, incomplete or failed); nothing the
        second time."""
        if self.finished:
            return b""
        self.finished = True
        out = self._start()
        incomplete = self.finish_reason in ("length", "content_filter") or self.error is not None
        if not self.response["output"] and self.error is None:
            out += self._open_text()  # no text and no call: an empty message, as in a whole Response
        last = len(self.response["output"]) - 1  # the item a cut or a block ended: the others are whole

        def status(index: int) -> str:
            return "incomplete" if incomplete and index == last else "completed"

        text_index = self.text_item[0] if self.text_item is not None else None
        for index in range(last + 1):  # every item closes, in output order
            if index == text_index:
                out += self._close_text(status(index))
                continue
            state = self.call_items[index]
            item = shapes.call_item(state.item_id, state.call_id, state.name, state.arguments, status(index))
            self.response["output"][index] = item
            out.append(self._event("response.function_call_arguments.done", item_id=state.item_id,
                                   output_index=index, name=state.name, arguments=state.arguments))
            out.append(self._event("response.output_item.done", output_index=index, item=item))
        self.response["output"] = [item for item in self.response["output"] if item is not None]
        if self.error is not None:
            # a Response's error code is one of OpenAI's (the `error` event carried ours)
            self.response["status"] = "failed"
            self.response["error"] = {"code": "server_error", "message": self.error["message"]}
            return b"".join([*out, self._event("response.failed", response=self.response)])
        finish_reason = "stop" if self.finish_reason == "tool_calls" else self.finish_reason
        shapes.finish(self.response, finish_reason)
        kind = "response.completed" if self.response["status"] == "completed" else "response.incomplete"
        return b"".join([*out, self._event(kind, response=self.response)])
