"""The OpenAI SDK against a real server on the bundled model: chat, completions, streaming, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from server_harness import API_KEY, AUTH, MODEL, RunningServer, http

MESSAGES = [{"role": "user", "content": "Name three colours."}]
PROMPT = "One, two, three, four, five,"


@pytest.fixture(scope="module")
def server(api_server: RunningServer) -> RunningServer:
    return api_server


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url + "/v1", api_key=API_KEY, max_retries=0, timeout=120) as c:
        yield c


def post(server: RunningServer, path: str, body: Any) -> Any:
    return http(server.base_url + path, body, AUTH)[2]


def greedy_chat(client: openai.OpenAI, **kw: Any) -> Any:
    kw.setdefault("max_tokens", 12)
    return client.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0, **kw)


def test_chat_completion_text_usage_and_finish_reason(client: openai.OpenAI, server: RunningServer) -> None:
    resp = greedy_chat(client)
    choice = resp.choices[0]
    assert resp.object == "chat.completion" and resp.model == MODEL
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert resp.usage.prompt_tokens == post(server, "/tokenize", {"messages": MESSAGES})["count"]
    assert 0 < resp.usage.completion_tokens <= 12
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    if choice.finish_reason == "length":
        assert resp.usage.completion_tokens == 12
    assert resp._request_id


@pytest.mark.slow
def test_chat_stream_matches_non_stream_and_carries_usage(client: openai.OpenAI) -> None:
    whole = greedy_chat(client)
    chunks = list(greedy_chat(client, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage


def test_chat_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(greedy_chat(client, stream=True))
    assert chunks and all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


@pytest.mark.slow
def test_text_parts_and_max_completion_tokens(client: openai.OpenAI) -> None:
    parts = [{"role": "user", "content": [{"type": "text", "text": MESSAGES[0]["content"]}]}]
    a = client.chat.completions.create(model=MODEL, messages=parts, temperature=0, max_completion_tokens=12)
    b = greedy_chat(client)
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.usage == b.usage


@pytest.mark.slow
def test_n_2_with_seed_is_reproducible(client: openai.OpenAI) -> None:
    def sample() -> list[str]:
        r = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, n=2, seed=1234, temperature=1.0, max_tokens=10
        )
        assert [c.index for c in r.choices] == [0, 1]
        assert all(c.message.content for c in r.choices)
        return [c.message.content for c in r.choices]

    assert sample() == sample()


@pytest.mark.slow
def test_stop_string_cuts_the_text(client: openai.OpenAI) -> None:
    full = client.completions.create(model=MODEL, prompt=PROMPT, temperature=0, max_tokens=16)
    text = full.choices[0].text
    words = text.split()
    assert len(words) >= 3, "need some words to pick a stop string from"
    stop = words[2]
    cut = client.completions.create(model=MODEL, prompt=PROMPT, temperature=0, max_tokens=16, stop=[stop])
    assert cut.choices[0].text == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


@pytest.mark.slow
def test_chat_logprobs(client: openai.OpenAI) -> None:
    resp = greedy_chat(client, logprobs=True, top_logprobs=2)
    content = resp.choices[0].logprobs.content
    assert len(content) == resp.usage.completion_tokens
    assert "".join(t.token for t in content) == resp.choices[0].message.content
    for t in content:
        assert len(t.top_logprobs) == 2 and t.logprob <= 0
        assert t.top_logprobs[0].token == t.token  # greedy: the chosen token is the most likely
        assert t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob


def complete(client: openai.OpenAI, **kw: Any) -> Any:
    kw.setdefault("prompt", PROMPT)
    kw.setdefault("max_tokens", 6)
    return client.completions.create(model=MODEL, temperature=0, **kw)


@pytest.mark.slow
def test_completions_prompt_forms_echo_and_logprobs(client: openai.OpenAI, server: RunningServer) -> None:
    ids = post(server, "/tokenize", {"prompt": PROMPT})["tokens"]
    by_text = complete(client, prompt=[PROMPT, "Hello"], n=2)
    assert [c.index for c in by_text.choices] == [0, 1, 2, 3]
    by_ids = complete(client, prompt=ids, logprobs=3)
    assert by_ids.choices[0].text == by_text.choices[0].text == by_text.choices[1].text
    lp = by_ids.choices[0].logprobs
    assert "".join(lp.tokens) == by_ids.choices[0].text and len(lp.top_logprobs[0]) == 3
    assert lp.text_offset[0] == 0
    echo = complete(client, prompt=[ids, ids[:2]], echo=True)
    assert echo.choices[0].text == PROMPT + by_text.choices[0].text
    assert echo.usage.prompt_tokens == len(ids) + 2


def test_completions_echo_with_logprobs_scores_the_prompt(
    client: openai.OpenAI, server: RunningServer
) -> None:
    """echo + logprobs (how evaluation harnesses score a text): every prompt token gets its logprob given
    the ones before it (the first none), then the completion's, whole and streamed alike."""
    ids = post(server, "/tokenize", {"prompt": PROMPT})["tokens"]
    plain = complete(client, logprobs=2, max_tokens=3).choices[0]
    whole = complete(client, echo=True, logprobs=2, max_tokens=3).choices[0]
    lp, n = whole.logprobs, len(ids)
    assert whole.text == PROMPT + plain.text
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == n + 3
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert all(-9999.0 <= v <= 0.0 for v in lp.token_logprobs[1:])
    assert all(1 <= len(top) <= 2 for top in lp.top_logprobs[1:])
    for token, value, top in zip(lp.tokens[1:n], lp.token_logprobs[1:n], lp.top_logprobs[1:n], strict=True):
        assert value <= max(top.values()) + 1e-4  # nothing beats the top alternative
        if token in top:
            assert top[token] == pytest.approx(value, abs=1e-4)
    assert lp.tokens[n:] == plain.logprobs.tokens
    assert lp.token_logprobs[n:] == pytest.approx(plain.logprobs.token_logprobs, abs=1e-3)
    assert lp.text_offset[n] == len(PROMPT) and lp.text_offset[:2] == [0, len(lp.tokens[0])]
    chunks = list(complete(client, echo=True, logprobs=2, max_tokens=3, stream=True))
    first = chunks[0].choices[0]
    assert first.text == PROMPT and first.logprobs.token_logprobs == lp.token_logprobs[:n]
    streamed = [t for c in chunks for t in (c.choices[0].logprobs.tokens if c.choices[0].logprobs else [])]
    assert streamed == lp.tokens
    assert "".join(c.choices[0].text for c in chunks) == whole.text


def test_vllm_prompt_logprobs_field(client: openai.OpenAI, server: RunningServer) -> None:
    """vLLM's `prompt_logprobs`: per prompt token (the first null) {id: {logprob, rank, decoded_token}}
    for the token itself and the top k; on each completions choice and on the chat response; the
    same values echo + logprobs gives; a 400 when streamed."""
    ids = post(server, "/tokenize", {"prompt": PROMPT})["tokens"]
    echoed = complete(client, echo=True, logprobs=1, max_tokens=2).choices[0].logprobs
    out = complete(client, max_tokens=2, extra_body={"prompt_logprobs": 2})
    plp = out.choices[0].model_extra["prompt_logprobs"]
    assert len(plp) == len(ids) and plp[0] is None
    for p, position in enumerate(plp[1:], start=1):
        assert 1 <= len(position) <= 3
        own = position[str(ids[p])]
        assert own["logprob"] == pytest.approx(echoed.token_logprobs[p], abs=1e-4)
        assert own["rank"] >= 1 and own["decoded_token"] == echoed.tokens[p]
        assert {1, 2} <= {e["rank"] for e in position.values()}  # the top two, whichever the token is
    chat = client.chat.completions.create(
        model=MODEL, messages=MESSAGES, max_tokens=2, extra_body={"prompt_logprobs": 0}
    )
    chat_plp = chat.model_extra["prompt_logprobs"]
    assert len(chat_plp) == chat.usage.prompt_tokens and chat_plp[0] is None
    assert all(len(position) == 1 for position in chat_plp[1:])  # the prompt token alone
    for bad in ({"prompt_logprobs": 1, "stream": True}, {"prompt_logprobs": 21}):
        with pytest.raises(openai.BadRequestError) as exc:
            client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=2, extra_body=bad)
        assert exc.value.param == "prompt_logprobs"


@pytest.mark.slow
def test_completion_stream_with_usage(client: openai.OpenAI) -> None:
    whole = complete(client, max_tokens=8)
    chunks = list(complete(client, max_tokens=8, stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole.choices[0].text
    assert chunks[-1].usage == whole.usage


def test_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as exc:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert exc.value.code == "model_not_found" and exc.value.param == "model"


def test_context_length_exceeded(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=600)
    assert exc.value.code == "context_length_exceeded" and exc.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as exc:
        client.completions.create(model=MODEL, prompt="word " * 600, max_tokens=1)
    assert exc.value.code == "context_length_exceeded" and exc.value.param == "prompt"


def test_wrong_api_key_is_rejected(server: RunningServer) -> None:
    with openai.OpenAI(base_url=server.base_url + "/v1", api_key="wrong", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as exc:
            bad.models.list()
    assert exc.value.code == "invalid_api_key"
    assert http(server.base_url + "/tokenize", {"prompt": "x"})[0] == 401
    assert http(server.base_url + "/health")[0] == 200
    assert http(server.base_url + "/metrics")[0] == 200


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"temperature": -1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"n": 0}, "n"),
        ({"max_tokens": "ten"}, "max_tokens"),
        ({"top_logprobs": 30, "logprobs": True}, "top_logprobs"),
        ({"stop": 5}, "stop"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tool_choice"),  # auto: no parser
        ({"frobnicate": 1}, "frobnicate"),
    ],
)
def test_bad_values_name_the_param(client: openai.OpenAI, extra: dict[str, Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=2, extra_body=extra)
    assert exc.value.param == param


def test_ignored_openai_fields_are_accepted(client: openai.OpenAI) -> None:
    resp = greedy_chat(
        client,
        max_tokens=2,
        user="u-1",
        metadata={"k": "v"},
        store=False,
        tools=[],
        response_format={"type": "text"},
    )
    assert resp.usage.completion_tokens <= 2


def test_models_tokenize_detokenize_version(client: openai.OpenAI, server: RunningServer) -> None:
    assert [m.id for m in client.models.list()] == [MODEL]
    tok = post(server, "/tokenize", {"prompt": "Hello world", "return_token_strs": True})
    assert tok["count"] == len(tok["tokens"]) == len(tok["token_strs"]) and tok["max_model_len"] == 512
    assert post(server, "/detokenize", {"tokens": tok["tokens"]}) == {"prompt": "Hello world"}
    assert post(server, "/detokenize", {"tokens": [10**9]})["error"]["param"] == "tokens"
    assert "version" in http(server.base_url + "/version")[2]


def test_tokenizer_route_decodes_exactly_like_detokenize(server: RunningServer) -> None:
    """GET /tokenizer (teecube): the HF tokenizer JSON, its sha256 (also the ETag: 304 on a match),
    the model's vocab size and /detokenize's decode options; decoding random id lists through it
    (special tokens, single bytes of multi-byte characters) equals /detokenize's text."""
    import hashlib
    import random

    from tokenizers import Tokenizer

    status, headers, doc = http(server.base_url + f"/tokenizer?model={MODEL}", headers=AUTH)
    assert status == 200 and doc["object"] == "tokenizer" and doc["format"] == "hf-tokenizers"
    assert doc["sha256"] == hashlib.sha256(doc["tokenizer"].encode()).hexdigest()
    assert headers["ETag"] == f'"{doc["sha256"]}"' and doc["decode"] == {"skip_special_tokens": False}
    assert http(server.base_url + "/tokenizer", headers=AUTH)[2] == doc  # ?model= is optional
    status, _, _ = http(server.base_url + "/tokenizer", headers=AUTH | {"If-None-Match": headers["ETag"]})
    assert status == 304
    local = Tokenizer.from_str(doc["tokenizer"])
    vocab = doc["vocab_size"]
    special = [i for i, t in local.get_added_tokens_decoder().items() if t.special]
    assert special and vocab >= local.get_vocab_size()
    text = "é ü 😀 日本語 \u200b"
    multibyte = post(server, "/tokenize", {"prompt": text, "add_special_tokens": False})["tokens"]
    rng = random.Random(13)
    cases = [multibyte, multibyte[1:], multibyte[:-1], special, [vocab - 1, 0]]
    for _ in range(40):
        ids = [rng.randrange(vocab) for _ in range(rng.randrange(1, 40))]
        ids[rng.randrange(len(ids)) :] += rng.sample(special, 2) + rng.sample(multibyte, 2)
        cases.append(ids)
    for ids in cases:
        expected = post(server, "/detokenize", {"tokens": ids})["prompt"]
        assert local.decode(ids, **doc["decode"]) == expected, ids
    assert any("\ufffd" in local.decode(ids, **doc["decode"]) for ids in cases)  # partial UTF-8 pieces


def test_tokenizer_route_errors(server: RunningServer) -> None:
    status, _, body = http(server.base_url + "/tokenizer?model=nope", headers=AUTH)
    assert status == 404 and body["error"]["code"] == "model_not_found" and body["error"]["param"] == "model"
    assert http(server.base_url + "/tokenizer")[0] == 401  # behind --api-key like /detokenize
    assert http(server.base_url + "/tokenizer", raw=b"", method="POST", headers=AUTH)[0] == 405


@pytest.mark.slow
def test_streamed_n_2_chat_and_multi_prompt_completions(client: openai.OpenAI) -> None:
    chunks = list(greedy_chat(client, n=2, max_tokens=4, stream=True))
    texts: dict[int, str] = {0: "", 1: ""}
    finishes: dict[int, list[str]] = {0: [], 1: []}
    for c in chunks:
        for ch in c.choices:
            texts[ch.index] += ch.delta.content or ""
            if ch.finish_reason:
                finishes[ch.index].append(ch.finish_reason)
    assert texts[0] == texts[1] == greedy_chat(client, max_tokens=4).choices[0].message.content
    assert all(len(f) == 1 for f in finishes.values())
    whole = complete(client, prompt=[PROMPT, "Hello"], n=2, max_tokens=4)
    streamed = {i: "" for i in range(4)}
    for c in complete(client, prompt=[PROMPT, "Hello"], n=2, max_tokens=4, stream=True):
        for ch in c.choices:
            streamed[ch.index] += ch.text
    assert [streamed[i] for i in range(4)] == [c.text for c in whole.choices]
