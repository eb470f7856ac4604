"""POST /v1/embeddings (OpenAI's body; vLLM's extras): strings or token ids, one or a list; float or
base64 (little-endian float32, what the SDK asks for by default); `dimensions` truncates (renormalized)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import web

from engine.errors import ContextLengthExceeded
from engine.pooling.pooler import finish
from engine.server.body import read_json
from engine.server.errors import ApiError, bad_request
from engine.server.fields import Fields, int_list
from engine.server.openai_routes import check_model
from engine.server.state import STATE, ServerState

routes = web.RouteTableDef()


@dataclass(slots=True)
class EmbeddingRequest:
    inputs: list[str | list[int]]
    encoding_format: str
    dimensions: int | None
    add_special_tokens: bool
    truncate_prompt_tokens: int | None


def parse_embedding(body: Any, vocab_size: int, max_inputs: int, hidden_size: int) -> EmbeddingRequest:
    f = Fields(body)
    f.str("model", required=True)
    inputs = _inputs(f.raw("input"), vocab_size, max_inputs)
    encoding_format = f.str("encoding_format", "float")
    if encoding_format not in ("float", "base64"):
        raise bad_request("encoding_format", "encoding_format: float or base64", code="invalid_value")
    dimensions = f.int("dimensions", None, lo=1, hi=hidden_size)
    add_special_tokens = f.bool("add_special_tokens", True)
    truncate = f.int("truncate_prompt_tokens", None, lo=-1)
    f.ignore("user")
    normalize = f.bool("normalize")
    if normalize is False:
        raise bad_request(
            "normalize",
            "normalize: only the model's own normalization is served",
            code="unsupported_parameter",
        )
    f.reject_unknown()
    return EmbeddingRequest(inputs, encoding_format, dimensions, add_special_tokens, truncate)


def _inputs(value: Any, vocab_size: int, max_inputs: int) -> list[str | list[int]]:
    if isinstance(value, str):
        inputs: list[Any] = [value]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        inputs = list(value)
    elif isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        inputs = [int_list(f"input[{i}]", v, 0, vocab_size - 1) for i, v in enumerate(value)]
    elif isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        inputs = [int_list("input", value, 0, vocab_size - 1)]
    else:
        raise bad_request(
            "input",
            "input: expected a string, a list of strings, a list of token ids or a list of lists of ids",
            code="invalid_type",
        )
    if len(inputs) > max_inputs:
        raise bad_request("input", f"input: at most {max_inputs} inputs", code="invalid_value")
    if any(len(v) == 0 for v in inputs):
        raise bad_request("input", "input: must not be empty", code="invalid_value")
    return inputs


def _token_ids(state: ServerState, req: EmbeddingRequest) -> list[list[int]]:
    tokenizer = state.engine.tokenizer
    limit = state.engine.max_model_len
    out = []
    for i, item in enumerate(req.inputs):
        ids = (
            list(tokenizer.encode(item, add_special_tokens=req.add_special_tokens))
            if isinstance(item, str)
            else list(item)
        )
        if req.truncate_prompt_tokens is not None:
            keep = limit if req.truncate_prompt_tokens == -1 else req.truncate_prompt_tokens
            ids = ids[-keep:] if keep else ids
        if not ids:
            raise bad_request(f"input[{i}]", f"input[{i}]: no tokens", code="invalid_value")
        if len(ids) > limit:
            exc = ContextLengthExceeded(len(ids), 0, limit)
            raise ApiError(400, str(exc), param="input", code="context_length_exceeded")
        out.append(ids)
    return out


def _encode(vector: np.ndarray, fmt: str) -> list[float] | str:
    if fmt == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode()
    return vector.tolist()


@routes.post("/v1/embeddings")
async def embeddings(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_json(request)
    check_model(state, body)
    if not state.features.embed:
        raise ApiError(
            400, "This model does not serve embeddings (start it with --task embed)", code="unsupported_task"
        )
    engine = state.engine
    req = parse_embedding(
        body, engine.spec.vocab_size, state.config.max_embedding_inputs, engine.spec.hidden_size
    )
    ids = _token_ids(state, req)
    if not state.admission.try_enter():
        raise ApiError(
            503,
            "The server is busy; retry later",
            code="queue_full",
            headers={"Retry-After": str(state.config.retry_after_s)},
        )
    try:
        vectors = await engine.embed(ids)
    finally:
        state.admission.leave()
    vectors = finish(vectors, req.dimensions, engine.pooling.normalize).numpy()
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(v, req.encoding_format)}
        for i, v in enumerate(vectors)
    ]
    tokens = sum(len(i) for i in ids)
    return web.json_response(
        {
            "id": f"embd-{int(time.time() * 1000)}",
            "object": "list",
            "created": int(time.time()),
            "model": state.model_name,
            "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
