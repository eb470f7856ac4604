"""Request bodies of /v1/chat/completions and /v1/completions → typed requests with SamplingParams.

Unknown fields: OpenAI fields that ask for nothing we do not implement are ignored (`user`,
`metadata`, `store`, ...); fields we do not implement are accepted only with inert values
(`functions: []`, `suffix: ""`); anything else is a 400 naming the field (a typo must not
silently change what the client gets). Tools (engine/server/tools.py), output constraints
(response_format, guided_*, structured_outputs: engine/structured/spec.py) and
chat_template_kwargs are parsed here into the request. vLLM's sampling
extensions (top_k, min_p, repetition_penalty, stop_token_ids, ignore_eos, min_tokens,
include_stop_str_in_output, skip_special_tokens) are accepted as top-level fields, as the
OpenAI SDK's `extra_body` sends them, and so is vLLM's `cache_salt` (requests share prefix-cache
blocks only with requests of the same salt; the proxy sets one per domain). OpenAI's logit_bias
is a SamplingParams field (engine/sampler.py adds it to the logits).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InvalidParam
from engine.sampling_params import MAX_LOGIT_BIAS, MAX_LOGPROBS, MAX_N, SamplingParams
from engine.server.body import lone_surrogate
from engine.server.errors import bad_request
from engine.server.fields import Fields, int_list, is_inert
from engine.server.tools import ToolRequest, parse_tools
from engine.structured.spec import GUIDED_FIELDS, GrammarSpec, parse_structured_fields

MAX_STOP = 16
MAX_PROMPTS = 128
COMPLETION_DEFAULT_MAX_TOKENS = 16

IGNORED = (
    "user",
    "metadata",
    "store",
    "service_tier",
    "parallel_tool_calls",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
)
CHAT_ROLES = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
}
STRUCTURED_FIELDS = ("response_format", *GUIDED_FIELDS, "structured_outputs")
MAX_TEMPLATE_KWARGS = 32
RESERVED_TEMPLATE_KWARGS = {"messages", "tools", "add_generation_prompt", "bos_token", "eos_token"}


@dataclass(slots=True)
class ChatRequest:
    model: str
    # role and content (text); tool_calls, tool_call_id where given. Tenant text: kept out of repr().
    messages: list[dict[str, Any]] = field(repr=False)
    params: SamplingParams  # max_tokens None: fill the context
    stream: bool
    include_usage: bool
    logprobs: bool
    top_logprobs: int
    add_generation_prompt: bool
    tools: ToolRequest = field(default_factory=lambda: ToolRequest([], "none"))
    grammar: GrammarSpec | None = None  # response_format / guided_* / structured_outputs
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    continuous_usage: bool = False  # usage on every streamed chunk (set from stream_options)
    prompt_logprobs: int | None = None  # vLLM's field: the response's prompt_logprobs (not streamed)


@dataclass(slots=True)
class CompletionRequest:
    model: str
    prompts: list[str | list[int]] = field(repr=False)  # tenant text: kept out of repr()
    params: SamplingParams
    stream: bool
    include_usage: bool
    echo: bool
    logprobs: int | None
    grammar: GrammarSpec | None = None
    continuous_usage: bool = False  # usage on every streamed chunk (set from stream_options)
    prompt_logprobs: int | None = None  # vLLM's field: each choice's prompt_logprobs (not streamed)


def parse_chat(body: Any, vocab_size: int) -> ChatRequest:
    f = Fields(body)
    model = f.str("model", required=True)
    messages = parse_messages(f.raw("messages"))
    if f.has("max_tokens") and f.has("max_completion_tokens"):
        raise bad_request("max_completion_tokens", "give max_tokens or max_completion_tokens, not both")
    max_tokens = f.int("max_completion_tokens") if f.has("max_completion_tokens") else f.int("max_tokens")
    f.ignore("max_tokens", "max_completion_tokens")
    logprobs = f.bool("logprobs", False)
    top_logprobs = f.int("top_logprobs", 0, lo=0, hi=MAX_LOGPROBS)
    if top_logprobs and not logprobs:
        raise bad_request("top_logprobs", "top_logprobs: requires logprobs to be true")
    params = _sampling(f, vocab_size, max_tokens, top_logprobs if logprobs else None)
    stream, include_usage = _stream(f)
    prompt_logprobs = _prompt_logprobs(f, params, stream)
    add_generation_prompt = f.bool("add_generation_prompt", True)
    tools = parse_tools(f)
    f.only_inert("functions", "audio", "prediction", "web_search_options")
    _only_value(f, "function_call", ("none", "auto"))
    grammar = parse_grammar(f)
    _only_value(f, "modalities", (["text"],))
    template_kwargs = parse_template_kwargs(f)
    f.ignore(*IGNORED, "reasoning_effort", "verbosity")
    f.reject_unknown()
    return ChatRequest(
        model,
        messages,
        params,
        stream,
        include_usage,
        logprobs,
        top_logprobs,
        add_generation_prompt,
        tools,
        grammar,
        template_kwargs,
        prompt_logprobs=prompt_logprobs,
    )


def parse_completion(body: Any, vocab_size: int) -> CompletionRequest:
    f = Fields(body)
    model = f.str("model", required=True)
    prompts = parse_prompt(f.raw("prompt"), vocab_size)
    max_tokens = f.int("max_tokens", COMPLETION_DEFAULT_MAX_TOKENS)
    logprobs = f.int("logprobs", None, lo=0, hi=MAX_LOGPROBS)
    params = _sampling(f, vocab_size, max_tokens, logprobs)
    if len(prompts) * params.n > MAX_N:
        raise bad_request("n", f"n times the number of prompts must be at most {MAX_N}", code="invalid_value")
    echo = f.bool("echo", False)
    best_of = f.int("best_of")
    if best_of is not None and best_of != params.n:
        raise bad_request("best_of", "best_of: only best_of == n is supported", code="unsupported_parameter")
    stream, include_usage = _stream(f)
    prompt_logprobs = _prompt_logprobs(f, params, stream)
    if echo and logprobs is not None:  # the prompt's tokens get logprobs too (the first one none)
        params.prompt_logprobs = max(logprobs, prompt_logprobs or 0)
    grammar = parse_grammar(f)
    f.only_inert("suffix")
    f.ignore(*IGNORED)
    f.reject_unknown()
    request = CompletionRequest(model, prompts, params, stream, include_usage, echo, logprobs, grammar)
    request.prompt_logprobs = prompt_logprobs
    return request


def parse_grammar(f: Fields) -> GrammarSpec | None:
    """The output constraint of response_format, vLLM's guided_* or structured_outputs (one at most)."""
    values = {key: f.raw(key) for key in STRUCTURED_FIELDS}
    f.ignore("guided_decoding_backend", "guided_whitespace_pattern")
    try:
        return parse_structured_fields(values)
    except InvalidParam as exc:
        raise bad_request(exc.param, f"{exc.param}: {exc.message}", code="invalid_value") from None
    except UnicodeError:  # a schema given as a string whose escapes spell a lone surrogate
        param = next(key for key, value in values.items() if value is not None)
        message = f"{param}: a string holds a lone UTF-16 surrogate (not valid Unicode text)"
        raise bad_request(param, message, code="invalid_value") from None


def parse_template_kwargs(f: Fields) -> dict[str, Any]:
    """vLLM's chat_template_kwargs (e.g. enable_thinking), passed to the chat template."""
    value = f.raw("chat_template_kwargs")
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise bad_request(
            "chat_template_kwargs", "chat_template_kwargs: expected an object", code="invalid_type"
        )
    if len(value) > MAX_TEMPLATE_KWARGS:
        raise bad_request("chat_template_kwargs", f"chat_template_kwargs: at most {MAX_TEMPLATE_KWARGS} keys")
    reserved = sorted(RESERVED_TEMPLATE_KWARGS & set(value))
    if reserved:
        name = f"chat_template_kwargs.{reserved[0]}"
        raise bad_request(name, f"{name}: set by the request itself", code="invalid_value")
    return dict(value)


def parse_messages(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise bad_request("messages", "messages: expected a non-empty list of messages", code="invalid_type")
    out = []
    for i, raw in enumerate(value):
        m = Fields(raw, f"messages[{i}]")
        role = m.str("role", required=True)
        if role not in CHAT_ROLES:
            raise bad_request(
                m.name("role"),
                f"{m.name('role')}: must be one of system, developer, user, assistant, tool",
                code="invalid_value",
            )
        message: dict[str, Any] = {"role": CHAT_ROLES[role], "content": _content(m, role)}
        if role == "assistant" and not is_inert(m.obj.get("tool_calls")):
            message["tool_calls"] = _tool_calls(m.raw("tool_calls"), m.name("tool_calls"))
        if role == "tool":
            message["tool_call_id"] = m.str("tool_call_id", required=True)
        m.ignore("name")
        for key in m.obj:  # replayed assistant messages carry null or empty extras (refusal, tool_calls)
            if key not in m.seen and not is_inert(m.obj[key]):
                raise bad_request(
                    m.name(key[:64]), f"{m.name(key[:64])}: not supported", code="unsupported_parameter"
                )
        out.append(message)
    return out


def _tool_calls(value: Any, param: str) -> list[dict[str, Any]]:
    """A replayed assistant turn's calls; arguments become an object where they parse (as templates
    expect, and as vLLM passes them)."""
    if not isinstance(value, list):
        raise bad_request(param, f"{param}: expected a list of tool calls", code="invalid_type")
    calls = []
    for j, raw in enumerate(value):
        c = Fields(raw, f"{param}[{j}]")
        call_id = c.str("id", required=True)
        if c.str("type", "function") != "function":
            raise bad_request(c.name("type"), f"{c.name('type')}: must be function", code="invalid_value")
        fn = Fields(c.raw("function"), c.name("function"))
        c.reject_unknown()
        name = fn.str("name", required=True)
        arguments = fn.str("arguments", "{}")
        fn.reject_unknown()
        try:
            parsed = json.loads(arguments)
        except (json.JSONDecodeError, RecursionError):
            parsed = None
        # a parsed object goes to the template; the string where it is not one, or where its escapes
        # spell a lone surrogate (not text: the tokenizer would fail on it)
        args = parsed if isinstance(parsed, dict) and not lone_surrogate(parsed) else arguments
        calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": args}})
    return calls


def _content(m: Fields, role: str) -> str:
    content = m.raw("content")
    param = m.name("content")
    if content is None and role == "assistant":
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad_request(param, f"{param}: expected a string or a list of text parts", code="invalid_type")
    texts = []
    for j, raw in enumerate(content):
        part = Fields(raw, f"{param}[{j}]")
        if part.str("type", required=True) != "text":
            raise bad_request(
                part.name("type"),
                f"{part.name('type')}: only text parts are supported",
                code="unsupported_parameter",
            )
        texts.append(part.str("text", required=True))
        part.reject_unknown()
    return "\n".join(texts)


def parse_prompt(value: Any, vocab_size: int) -> list[str | list[int]]:
    """A string, a list of strings, a list of token ids, or a list of lists of token ids."""
    if isinstance(value, str):
        prompts: list[Any] = [value]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        prompts = list(value)
    elif isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        prompts = [int_list(f"prompt[{i}]", v, 0, vocab_size - 1) for i, v in enumerate(value)]
    elif isinstance(value, list) and value:
        prompts = [int_list("prompt", value, 0, vocab_size - 1)]
    else:
        raise bad_request(
            "prompt",
            "prompt: expected a string, a list of strings, a list of token ids or "
            "a list of lists of token ids",
            code="invalid_type",
        )
    if len(prompts) > MAX_PROMPTS:
        raise bad_request("prompt", f"prompt: at most {MAX_PROMPTS} prompts", code="invalid_value")
    if any(len(p) == 0 for p in prompts):
        raise bad_request("prompt", "prompt: must not be empty", code="invalid_value")
    return prompts


def _sampling(f: Fields, vocab_size: int, max_tokens: int | None, logprobs: int | None) -> SamplingParams:
    d = SamplingParams()
    stop_token_ids = f.int_list("stop_token_ids", 0, vocab_size - 1)
    params = SamplingParams(
        n=f.int("n", 1),
        temperature=f.float("temperature", d.temperature),
        top_p=f.float("top_p", d.top_p),
        top_k=f.int("top_k", d.top_k, lo=-1),
        min_p=f.float("min_p", d.min_p),
        presence_penalty=f.float("presence_penalty", d.presence_penalty),
        frequency_penalty=f.float("frequency_penalty", d.frequency_penalty),
        repetition_penalty=f.float("repetition_penalty", d.repetition_penalty),
        seed=f.int("seed"),
        stop=f.str_or_str_list("stop", MAX_STOP),
        stop_token_ids=stop_token_ids,
        ignore_eos=f.bool("ignore_eos", d.ignore_eos),
        max_tokens=max_tokens,
        min_tokens=f.int("min_tokens", d.min_tokens),
        logprobs=logprobs,
        include_stop_str_in_output=f.bool("include_stop_str_in_output", d.include_stop_str_in_output),
        skip_special_tokens=f.bool("skip_special_tokens", d.skip_special_tokens),
        cache_salt=f.str("cache_salt"),
        logit_bias=_logit_bias(f, vocab_size),
    )
    try:
        params.validate()
    except InvalidParam as exc:
        raise bad_request(exc.param, f"{exc.param}: {exc.message}", code="invalid_value") from None
    return params


def _prompt_logprobs(f: Fields, params: SamplingParams, stream: bool) -> int | None:
    """vLLM's `prompt_logprobs` (0..20 alternatives): the engine computes them (params); the response
    carries them, so a stream cannot (vLLM refuses that too)."""
    k = f.int("prompt_logprobs", None, lo=0, hi=MAX_LOGPROBS)
    if k is not None and stream:
        raise bad_request(
            "prompt_logprobs", "prompt_logprobs: not available when streaming", code="unsupported_parameter"
        )
    params.prompt_logprobs = k
    return k


def _logit_bias(f: Fields, vocab_size: int) -> dict[int, float] | None:
    """OpenAI's logit_bias: {"token id": bias in [-100, 100]} (JSON keys are strings), at most
    MAX_LOGIT_BIAS entries; ids checked against the vocabulary."""
    value = f.raw("logit_bias")
    if is_inert(value):
        return None
    name = f.name("logit_bias")
    if not isinstance(value, dict):
        raise bad_request(name, f"{name}: expected an object of token ids to numbers", code="invalid_type")
    if len(value) > MAX_LOGIT_BIAS:
        raise bad_request(name, f"{name}: at most {MAX_LOGIT_BIAS} tokens", code="invalid_value")
    bias: dict[int, float] = {}
    for key, number in value.items():
        if not (key.isascii() and key.isdigit() and len(key) <= 10 and int(key) < vocab_size):
            message = f"{name}: keys must be token ids in [0, {vocab_size})"
            raise bad_request(name, message, code="invalid_value")
        if isinstance(number, bool) or not isinstance(number, int | float) or not -100 <= number <= 100:
            raise bad_request(name, f"{name}: values must be numbers in [-100, 100]", code="invalid_value")
        bias[int(key)] = float(number)
    return bias


def _stream(f: Fields) -> tuple[bool, bool]:
    stream = f.bool("stream", False)
    options = f.raw("stream_options")
    if options is None:
        return stream, False
    o = Fields(options, "stream_options")
    include_usage = o.bool("include_usage", False)
    o.ignore("continuous_usage_stats", "include_obfuscation")
    o.reject_unknown()
    if not stream:
        raise bad_request("stream_options", "stream_options: only allowed when stream is true")
    return stream, include_usage


def _only_value(f: Fields, key: str, allowed: tuple[Any, ...]) -> None:
    value = f.raw(key)
    if value is not None and value not in allowed:
        raise bad_request(key, f"{key}: not supported", code="unsupported_parameter")
