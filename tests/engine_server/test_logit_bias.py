"""OpenAI's logit_bias through the openai SDK against the engine on the bundled model: -100 bans the
greedy answer's tokens, +100 forces one token, on chat and completions, streamed and not; bad values
are 400s naming the field."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from server_harness import API_KEY, AUTH, MODEL, RunningServer, http

PROMPT = "One, two, three, four, five,"


@pytest.fixture(scope="module")
def client(api_server: RunningServer) -> Iterator[openai.OpenAI]:
    base_url = api_server.base_url + "/v1"
    with openai.OpenAI(base_url=base_url, api_key=API_KEY, max_retries=0, timeout=120) as c:
        yield c


def greedy(client: openai.OpenAI, **kw: object) -> list[str]:
    """The greedy completion's tokens, as text."""
    resp = client.completions.create(
        model=MODEL, prompt=PROMPT, max_tokens=6, temperature=0, logprobs=0, **kw  # type: ignore[arg-type]
    )
    return list(resp.choices[0].logprobs.tokens)  # type: ignore[union-attr]


def token_id(server: RunningServer, text: str) -> int:
    """The id of the vocabulary entry that decodes to `text` (one token)."""
    status, _, body = http(server.base_url + "/tokenize", {"model": MODEL, "prompt": text,
                                                          "add_special_tokens": False}, AUTH)
    assert status == 200 and len(body["tokens"]) == 1, body
    return int(body["tokens"][0])


def test_a_banned_token_is_never_chosen_and_a_favoured_one_always(
    client: openai.OpenAI, api_server: RunningServer
) -> None:
    plain = greedy(client)
    first = token_id(api_server, plain[0])
    assert greedy(client, logit_bias={str(first): -100})[0] != plain[0]
    status, _, body = http(api_server.base_url + "/detokenize", {"model": MODEL, "tokens": [42]}, AUTH)
    assert status == 200
    assert greedy(client, logit_bias={"42": 100}) == [body["prompt"]] * 6


def test_chat_streamed_and_not_agree_under_a_bias(client: openai.OpenAI) -> None:
    kw = dict(model=MODEL, messages=[{"role": "user", "content": "Name a colour."}], max_tokens=8,
              temperature=0, logit_bias={"42": 100})
    whole = client.chat.completions.create(**kw)  # type: ignore[call-overload]
    streamed = "".join(
        c.choices[0].delta.content or "" for c in client.chat.completions.create(stream=True, **kw)  # type: ignore[call-overload]
        if c.choices
    )
    assert whole.choices[0].message.content == streamed
    assert whole.usage.completion_tokens == 8 and whole.choices[0].finish_reason == "length"


@pytest.mark.parametrize(
    "bias",
    [
        {"42": 101},
        {"42": -100.5},
        {"42": "x"},
        {"42": True},
        {"x": 1},
        {"-1": 1},
        {"99999999": 1},
        {str(i): 1 for i in range(301)},
        [1, 2],
    ],
)
def test_bad_logit_bias_is_a_400_naming_it(client: openai.OpenAI, bias: object) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=2, logit_bias=bias)  # type: ignore[arg-type]
    assert err.value.body["param"] == "logit_bias"  # type: ignore[index]
