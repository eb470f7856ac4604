"""POST /v1/chat/completions and /v1/completions: parse, tokenize, check, constrain, admit, generate,
answer (tool calls and reasoning read from the output)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from aiohttp import web

from engine.engine_core import check_request
from engine.errors import ContextLengthExceeded, EngineDead, InvalidParam
from engine.reasoning import get_reasoning_parser
from engine.sampling_params import SamplingParams
from engine.server.body import read_json
from engine.server.chat import chat_response, chat_stream
from engine.server.chat_outputs import OutputParsers
from engine.server.completions import completion_response, completion_stream
from engine.server.errors import ApiError, bad_request
from engine.server.generation import Generation
from engine.server.generation_defaults import with_generation_defaults
from engine.server.grammar import attach_grammar
from engine.server.job import Job
from engine.server.prompting import chat_prompt_ids, completion_prompt_ids, resolve_max_tokens
from engine.server.protocol import ChatRequest, parse_chat, parse_completion
from engine.server.state import STATE, ServerState
from engine.server.streaming import continuous_usage_requested
from engine.server.tools import check_tool_schemas, tool_grammar, tool_parser

routes = web.RouteTableDef()


def check_model(state: ServerState, body: Any) -> None:
    model = body.get("model") if isinstance(body, dict) else None
    if isinstance(model, str) and model not in state.model_names:
        message = f"The model `{model[:256]}` does not exist."
        raise ApiError(404, message, param="model", code="model_not_found")


def _max_tokens(state: ServerState, prompts: list[list[int]], max_tokens: int | None, param: str) -> int:
    try:
        return min(resolve_max_tokens(len(p), max_tokens, state.engine.max_model_len) for p in prompts)
    except ContextLengthExceeded as exc:
        raise ApiError(400, str(exc), param=param, code="context_length_exceeded") from None


def _check_requests(state: ServerState, prompts: list[list[int]], params: SamplingParams, param: str) -> None:
    """The engine's own checks, before anything is answered: params are final only now (max_tokens
    resolved, generation defaults applied), and a stream that fails them would already be a 200."""
    engine = state.engine
    if engine.is_dead:  # else a stream would answer 200 and then carry the engine_dead error
        raise EngineDead("the engine loop is not running")
    try:
        for prompt in prompts:
            check_request(prompt, params, engine.spec.vocab_size, engine.max_model_len)
    except ContextLengthExceeded as exc:
        raise ApiError(400, str(exc), param=param, code="context_length_exceeded") from None
    except InvalidParam as exc:
        raise bad_request(exc.param, f"{exc.param}: {exc.message}", code="invalid_value") from None


def _admit(state: ServerState) -> None:
    if not state.admission.try_enter():
        retry = str(state.config.retry_after_s)
        message = "The server is busy; retry later"
        raise ApiError(503, message, code="queue_full", headers={"Retry-After": retry})


def check_generates(state: ServerState) -> None:
    if state.features.embed:
        message = "This model serves embeddings (--task embed); use /v1/embeddings"
        raise ApiError(400, message, code="unsupported_task")


def _output_parsers(state: ServerState, req: ChatRequest) -> OutputParsers:
    """Tool and reasoning parsers for this request; the grammar `required` and named choices need."""
    features = state.features
    tools = req.tools
    parser = tool_parser(tools, features)
    if tools.active:
        check_tool_schemas(tools)
        spec = tool_grammar(tools)
        if spec is not None:
            if req.grammar is not None:
                message = f"{req.grammar.param}: cannot be combined with tool_choice {tools.choice}"
                raise bad_request(req.grammar.param, message, code="invalid_value")
            req.grammar = spec
    if parser is not None and not parser.skip_special_tokens:
        req.params.skip_special_tokens = False  # the call marker is a special token (Mistral)
    # A grammar (response_format, guided_*, a forced tool call) shapes the whole output from its first
    # token: there is no think block to split off, and a reasoning parser would take it all as reasoning.
    reasoning = None
    if features.reasoning_parser and req.grammar is None:
        reasoning = get_reasoning_parser(features.reasoning_parser)
    return OutputParsers(parser, reasoning, "stop" if tools.choice == "function" else "tool_calls")


@routes.post("/v1/chat/completions")
async def chat_completions(request: web.Request) -> web.StreamResponse:
    arrival = time.monotonic()
    state = request.app[STATE]
    body = await read_json(request)
    check_model(state, body)
    check_generates(state)
    req = parse_chat(body, state.engine.spec.vocab_size)
    req.params = with_generation_defaults(req.params, body, state.engine.config.default_sampling)
    parsers = _output_parsers(state, req)
    prompt = chat_prompt_ids(
        state.engine.tokenizer,
        req.messages,
        req.add_generation_prompt,
        req.tools.tools or None,
        req.chat_template_kwargs,
    )
    req.continuous_usage = req.stream and continuous_usage_requested(body)
    req.params.max_tokens = _max_tokens(state, [prompt], req.params.max_tokens, "messages")
    _check_requests(state, [prompt], req.params, "messages")
    await attach_grammar(state, req.params, req.grammar)
    response_id = f"chatcmpl-{uuid.uuid4().hex}"
    _admit(state)
    try:
        async with Generation(
            state.engine, state.metrics, response_id, [prompt], req.params, arrival, req.stream
        ) as gen:
            job = Job(request, state, gen, response_id, [prompt], req.params.n)
            if req.stream:
                return await chat_stream(job, req, parsers)
            return await chat_response(job, req, parsers)
    finally:
        state.admission.leave()


@routes.post("/v1/completions")
async def completions(request: web.Request) -> web.StreamResponse:
    arrival = time.monotonic()
    state = request.app[STATE]
    body = await read_json(request)
    check_model(state, body)
    check_generates(state)
    req = parse_completion(body, state.engine.spec.vocab_size)
    req.params = with_generation_defaults(req.params, body, state.engine.config.default_sampling)
    req.continuous_usage = req.stream and continuous_usage_requested(body)
    prompts = [completion_prompt_ids(state.engine.tokenizer, p) for p in req.prompts]
    req.params.max_tokens = _max_tokens(state, prompts, req.params.max_tokens, "prompt")
    _check_requests(state, prompts, req.params, "prompt")
    await attach_grammar(state, req.params, req.grammar)
    response_id = f"cmpl-{uuid.uuid4().hex}"
    _admit(state)
    try:
        async with Generation(
            state.engine, state.metrics, response_id, prompts, req.params, arrival, req.stream
        ) as gen:
            job = Job(request, state, gen, response_id, prompts, req.params.n)
            return await (completion_stream(job, req) if req.stream else completion_response(job, req))
    finally:
        state.admission.leave()
