"""GET /v1/models, POST /tokenize, POST /detokenize, GET /tokenizer, GET /version, /health, /metrics."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

from aiohttp import web

from engine.loader.dummy import has_tokenizer
from engine.metrics import CONTENT_TYPE
from engine.server.body import read_json
from engine.server.errors import bad_request
from engine.server.fields import Fields
from engine.server.openai_routes import check_model
from engine.server.prompting import NO_TOKENIZER, chat_prompt_ids
from engine.server.protocol import parse_messages, parse_template_kwargs
from engine.server.state import STATE, ServerState
from engine.server.tools import parse_tools

routes = web.RouteTableDef()
_STARTED = int(time.time())


@routes.get("/v1/models")
async def models(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = [
        {
            "id": name,
            "object": "model",
            "created": _STARTED,
            "owned_by": "teecube",
            "max_model_len": state.engine.max_model_len,
        }
        for name in state.model_names
    ]
    return web.json_response({"object": "list", "data": data})


@routes.post("/tokenize")
async def tokenize(request: web.Request) -> web.Response:
    """vLLM's body: {"prompt": str} or {"messages": [...], "add_generation_prompt": bool}."""
    state = request.app[STATE]
    body = await read_json(request)
    check_model(state, body)
    f = Fields(body)
    f.str("model")
    tokenizer = state.engine.tokenizer
    add_special_tokens = f.bool("add_special_tokens")  # default: True for a prompt, False for messages
    if f.has("messages"):
        messages = parse_messages(f.raw("messages"))
        tools = parse_tools(f).tools or None
        kwargs = parse_template_kwargs(f)
        ids = chat_prompt_ids(tokenizer, messages, f.bool("add_generation_prompt", True), tools, kwargs)
    else:
        prompt = f.str("prompt", required=True)
        if not has_tokenizer(tokenizer):
            raise bad_request("prompt", f"{NO_TOKENIZER}: nothing can be tokenized")
        ids = list(tokenizer.encode(prompt, add_special_tokens=add_special_tokens is not False))
    strs = [tokenizer.id_to_token(i) for i in ids] if f.bool("return_token_strs", False) else None
    f.reject_unknown()
    return web.json_response(
        {"count": len(ids), "max_model_len": state.engine.max_model_len, "tokens": ids, "token_strs": strs}
    )


@routes.post("/detokenize")
async def detokenize(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_json(request)
    check_model(state, body)
    f = Fields(body)
    f.str("model")
    ids = f.int_list("tokens", 0, state.engine.spec.vocab_size - 1)
    if ids is None:
        raise bad_request("tokens", "tokens: required", code="missing_required")
    f.reject_unknown()
    return web.json_response({"prompt": state.engine.tokenizer.decode(ids, skip_special_tokens=False)})


TOKENIZER_DECODE = {"skip_special_tokens": False}  # what /detokenize decodes with


IDS_ONLY_FORMAT = "token-ids"  # GET /tokenizer's format for a model served without a tokenizer


def _tokenizer_doc(state: ServerState) -> tuple[bytes, str]:
    """(GET /tokenizer's JSON body, its sha256: of the tokenizer JSON, or of the format and vocabulary
    size for a model without one); built once per server."""
    vocab_size = state.engine.spec.vocab_size  # ids /detokenize accepts: 0 .. vocab_size - 1
    if not has_tokenizer(state.engine.tokenizer):
        # Every id in range decodes to no text (/detokenize's answer); a client decodes it without a trip.
        digest = hashlib.sha256(f"{IDS_ONLY_FORMAT}:{vocab_size}".encode()).hexdigest()
        body = {"object": "tokenizer", "format": IDS_ONLY_FORMAT, "sha256": digest, "vocab_size": vocab_size,
                "decode": TOKENIZER_DECODE, "tokenizer": None}
        return json.dumps(body).encode(), digest
    tokenizer_json = state.engine.tokenizer.to_json()
    digest = hashlib.sha256(tokenizer_json.encode()).hexdigest()
    try:
        from importlib.metadata import version as dist_version

        tokenizers_version = dist_version("tokenizers")
    except Exception:  # informational only
        tokenizers_version = None
    body = {
        "object": "tokenizer",
        "format": "hf-tokenizers",
        "sha256": digest,
        # the model's vocabulary, which may exceed the tokenizer's
        "vocab_size": vocab_size,
        "decode": TOKENIZER_DECODE,
        "tokenizers_version": tokenizers_version,
        "tokenizer": tokenizer_json,
    }
    return json.dumps(body).encode(), digest


@routes.get("/tokenizer")
async def tokenizer_json(request: web.Request) -> web.Response:
    """teecube-specific: the exact HF `tokenizers` JSON /detokenize decodes with, so a client (the
    proxy's guardrails) decodes token ids itself: `Tokenizer.from_str(body["tokenizer"]).decode(ids,
    **body["decode"])` equals /detokenize's `prompt` for ids in 0 .. vocab_size - 1. A model served
    without a tokenizer answers format `token-ids` with no tokenizer: every id in range decodes to "".
    `?model=` is optional (404 for a name not served). ETag: the sha256, so a refresh with
    If-None-Match gets a 304."""
    state = request.app[STATE]
    model = request.query.get("model")
    check_model(state, {"model": model} if model is not None else {})
    if state.tokenizer_doc is None:
        state.tokenizer_doc = await asyncio.to_thread(_tokenizer_doc, state)
    body, digest = state.tokenizer_doc
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


def package_version() -> str:
    """The installed distribution's version (pyproject.toml holds the one version string)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("teecube")
    except PackageNotFoundError:  # a source tree run without an install
        return "0+unknown"


@routes.get("/version")
async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": package_version()})


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """200 with an empty body; 503 once the engine loop has died (vLLM's contract)."""
    return web.Response(status=503 if request.app[STATE].engine.is_dead else 200)


@routes.get("/ping")
async def ping(request: web.Request) -> web.Response:
    return await health(request)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = request.app[STATE].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
