"""/v1/embeddings (--task embed) on tiny random Qwen3- and Qwen2-style embedding checkpoints (saved bare,
as Qwen3-Embedding and gte-Qwen2 are), compared with HF transformers: cosine >= 0.999 per input.
The official SDK: client.embeddings.create (base64, its default, and float), dimensions, token ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import torch
from server_harness import MODEL, RunningServer, start_server

from engine.server.settings import ServerConfig
from tests.engine.tiny_embedding import build_embedding_model, reference

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Confidential computing keeps data encrypted while in use.",
    "Hello",
    "Paged attention stores keys and values in fixed-size blocks. " * 2,
]


@pytest.fixture(
    scope="module", params=[("qwen3", "last"), ("qwen2", "mean")], ids=["qwen3-last", "qwen2-mean"]
)
def embed_server(request, tmp_path_factory) -> Iterator[tuple[RunningServer, Path, str]]:
    family, pooling = request.param
    path = build_embedding_model(family, tmp_path_factory.mktemp(family), pooling)
    config = ServerConfig(task="embed", max_embedding_inputs=8)
    server, stop = start_server(path, config, max_model_len=128, max_num_batched_tokens=64, max_num_seqs=4)
    yield server, path, pooling
    stop()


@pytest.fixture(scope="module")
def client(embed_server) -> Iterator[openai.OpenAI]:
    server = embed_server[0]
    with openai.OpenAI(base_url=server.base_url + "/v1", api_key="x", max_retries=0, timeout=120) as c:
        yield c


def _ids(server: RunningServer, text: str) -> list[int]:
    from server_harness import http

    return http(server.base_url + "/tokenize", {"prompt": text})[2]["tokens"]


def _cos(a, b) -> float:
    return torch.nn.functional.cosine_similarity(
        torch.tensor(a).float(), torch.as_tensor(b).float(), dim=0
    ).item()


def test_matches_hf_for_strings_in_one_batch(client, embed_server) -> None:
    server, path, pooling = embed_server
    resp = client.embeddings.create(model=MODEL, input=TEXTS)  # base64 on the wire (the SDK's default)
    assert [d.index for d in resp.data] == list(range(len(TEXTS)))
    total = 0
    for text, item in zip(TEXTS, resp.data, strict=True):
        ids = _ids(server, text)
        total += len(ids)
        assert _cos(item.embedding, reference(path, ids, pooling)) >= 0.999
        assert abs(torch.tensor(item.embedding).norm().item() - 1) < 1e-4
    assert resp.usage.prompt_tokens == resp.usage.total_tokens == total


def test_float_format_token_ids_and_dimensions(client, embed_server) -> None:
    server, path, pooling = embed_server
    ids = _ids(server, TEXTS[1])
    as_float = client.embeddings.create(model=MODEL, input=[ids], encoding_format="float").data[0].embedding
    as_text = client.embeddings.create(model=MODEL, input=TEXTS[1]).data[0].embedding
    assert len(as_float) == 64 and _cos(as_float, as_text) >= 0.9999
    assert _cos(as_float, reference(path, ids, pooling)) >= 0.999
    short = client.embeddings.create(model=MODEL, input=TEXTS[1], dimensions=16).data[0].embedding
    assert len(short) == 16 and abs(torch.tensor(short).norm().item() - 1) < 1e-4
    assert _cos(short, torch.nn.functional.normalize(torch.tensor(as_float[:16]), dim=0)) >= 0.9999


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"input": []}, "input"),
        ({"input": [""]}, "input"),
        ({"input": ["a"] * 9}, "input"),
        ({"input": [[1, 2], [10**6]]}, "input[1]"),
        ({"input": "word " * 400}, "input"),
        ({"input": "a", "dimensions": 65}, "dimensions"),
        ({"input": "a", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "a", "extra_body": {"pooling": "max"}}, "pooling"),
    ],
)
def test_bad_inputs_name_the_param(client, kwargs, param) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.embeddings.create(model=MODEL, **kwargs)
    assert exc.value.param == param
    assert "word" not in exc.value.message


def test_generation_routes_are_refused_on_an_embedding_server(client) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
    assert exc.value.code == "unsupported_task"


def test_concurrent_requests_batch_and_agree(client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    alone = [client.embeddings.create(model=MODEL, input=t).data[0].embedding for t in TEXTS]
    with ThreadPoolExecutor(4) as pool:
        together = list(
            pool.map(lambda t: client.embeddings.create(model=MODEL, input=t).data[0].embedding, TEXTS * 2)
        )
    for a, b in zip(alone * 2, together, strict=True):
        assert _cos(a, b) >= 0.99999


@pytest.mark.slow
def test_chat_server_refuses_embeddings(server_factory) -> None:
    server = server_factory(ServerConfig(), max_model_len=256, num_kv_blocks=32)
    with (
        openai.OpenAI(base_url=server.base_url + "/v1", api_key="x", max_retries=0) as c,
        pytest.raises(openai.BadRequestError) as exc,
    ):
        c.embeddings.create(model=MODEL, input="hello")
    assert exc.value.code == "unsupported_task"


def test_inputs_reach_no_log_metric_or_error(client, embed_server, caplog) -> None:
    import logging
    import secrets

    from server_harness import http

    caplog.set_level(logging.DEBUG)
    canary = f"canary zebra{secrets.token_hex(6)}"
    client.embeddings.create(model=MODEL, input=[canary, canary + " again"])
    errors = []
    for kwargs in ({"input": canary * 60}, {"input": canary, "dimensions": 1000}):
        with pytest.raises(openai.BadRequestError) as exc:
            client.embeddings.create(model=MODEL, **kwargs)
        errors.append(str(exc.value.body))
    metrics = str(http(embed_server[0].base_url + "/metrics")[2])
    for text in [caplog.text, metrics, *errors]:
        assert "zebra" not in text
