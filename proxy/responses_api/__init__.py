"""OpenAI's Responses API (`POST /v1/responses`) on top of chat completions.

The proxy turns the request into a chat completion (request.py), so every upstream kind serves it
(our engine, vLLM, Ollama) and the chat route's limits, input guardrails, classifier and output
guardrails apply unchanged; the guarded answer is then written as a Response object (response.py)
or as Responses stream events (stream.py).
"""

from proxy.responses_api.request import Echo, renamed, to_chat
from proxy.responses_api.response import from_chat
from proxy.responses_api.stream import ResponsesStream

__all__ = ["Echo", "ResponsesStream", "from_chat", "renamed", "to_chat"]
