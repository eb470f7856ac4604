"""A request's output constraint → the per-sequence logits-processor factory on its SamplingParams.

Compiles (cached) off the event loop. A spec that cannot compile is a 400 naming the field, before
anything reaches the step loop. Until the step loop has the hook (engine/logits_process.py and
SamplingParams.logits_processor_factory) constrained requests get a 400 rather than unconstrained text.
"""

from __future__ import annotations

import asyncio
from dataclasses import fields

from engine.errors import InvalidParam
from engine.sampling_params import SamplingParams
from engine.server.errors import ApiError, bad_request
from engine.server.state import ServerState
from engine.structured import GrammarCompilerCache, GrammarSpec


def too_deep(param: str) -> ApiError:
    return bad_request(param, f"{param}: the schema is nested too deeply", code="invalid_value")


def hook_available() -> bool:
    return any(f.name == "logits_processor_factory" for f in fields(SamplingParams))


async def grammar_cache(state: ServerState) -> GrammarCompilerCache:
    if state.grammars is None:
        engine = state.engine
        state.grammars = await asyncio.to_thread(
            GrammarCompilerCache.for_tokenizer, engine.tokenizer, engine.spec.vocab_size
        )
    return state.grammars


async def attach_grammar(state: ServerState, params: SamplingParams, spec: GrammarSpec | None) -> None:
    if spec is None:
        return
    cache = await grammar_cache(state)
    try:
        factory = await asyncio.to_thread(cache.factory, spec)
    except InvalidParam as exc:
        raise bad_request(exc.param, f"{exc.param}: {exc.message}", code="invalid_value") from None
    except RecursionError:  # the JSON Schema check (jsonschema) recurses once per level of the schema
        raise too_deep(spec.param) from None
    if not hook_available():
        raise ApiError(
            400,
            f"{spec.param}: constrained decoding needs the step loop's logits-processor hook, "
            "which this engine build lacks",
            param=spec.param,
            code="unsupported_parameter",
        )
    params.logits_processor_factory = factory  # type: ignore[attr-defined]
