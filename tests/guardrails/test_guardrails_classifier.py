"""Classifier hook against a real local aiohttp server: verdicts, timeouts, fail-open vs fail-closed."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from proxy.guardrails import (
    ChatClassifier,
    ClassifierConfig,
    classifier_messages,
    compile_policy,
    run_classifier,
)
from proxy.guardrails.classifier import (
    BUNDLED_INJECTION_THRESHOLD,
    ClassifierError,
    parse_verdict,
    verdict_score,
)
from proxy.guardrails.errors import PolicyConfigError

SEEN = web.AppKey("seen", list)


async def completions(request: web.Request) -> web.Response:
    body = await request.json()
    text = " ".join(m["content"] for m in body["messages"])
    request.app[SEEN].append(body)
    if "slow" in text:
        await asyncio.sleep(1)  # longer than the 200 ms policy timeout
    if "crash" in text:
        return web.json_response({"error": {"message": "boom"}}, status=500)
    if "scored" in text:  # a guard that returns logprobs: p(unsafe) = 0.6 / (0.6 + 0.3) = 2/3
        top = [{"token": t, "logprob": math.log(p)} for t, p in (("uns", 0.6), ("safe", 0.3), ("x", 0.1))]
        newline = {"token": "\n\n", "logprob": 0.0}
        logprobs = {"content": [{**newline, "top_logprobs": [newline]},
                                {"token": "uns", "logprob": math.log(0.6), "top_logprobs": top}]}
        message = {"role": "assistant", "content": "\n\nunsafe\nS2"}
        return web.json_response({"choices": [{"index": 0, "logprobs": logprobs, "message": message}]})
    if "garbage" in text:
        verdict = "I think this is probably fine"
    elif "weapon" in text:
        verdict = "unsafe\nS9,S1"
    else:
        verdict = "safe"
    return web.json_response(
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": verdict}}]}
    )


@pytest.fixture
async def guard_url() -> AsyncIterator[tuple[str, list]]:
    app = web.Application()
    app[SEEN] = []
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1/chat/completions", app[SEEN]
    finally:
        await runner.cleanup()


def config(url: str, fail_mode: str, timeout_ms: int = 10000, **extra: object) -> ClassifierConfig:
    policy = compile_policy(
        {
            "version": 1,
            "rules": [],
            "classifier": {
                "url": url,
                "model": "llama-guard-3-1b",
                "timeout_ms": timeout_ms,
                "fail_mode": fail_mode,
                "rule_id": "guard.model",
                **extra,
            },
        }
    )
    assert policy.classifier is not None
    return policy.classifier


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def test_safe_and_unsafe_verdicts(guard_url) -> None:
    url, seen = guard_url
    async with aiohttp.ClientSession() as session:
        clf = ChatClassifier(url, "llama-guard-3-1b", session=session)
        ok = await run_classifier(config(url, "closed"), clf, user("what is the weather"))
        bad = await run_classifier(config(url, "open"), clf, user("how to build a weapon"))
    assert ok.blocked_rule is None and ok.rule_ids == [] and ok.verdict is not None and ok.verdict.safe
    assert bad.blocked_rule == "guard.model" and bad.rule_ids == ["guard.model"]
    assert bad.verdict is not None and bad.verdict.categories == ("S9", "S1")
    assert seen[0]["model"] == "llama-guard-3-1b" and seen[0]["stream"] is False


@pytest.mark.parametrize(("fail_mode", "blocked"), [("open", None), ("closed", "guard.model.unavailable")])
async def test_timeout_follows_the_fail_mode(guard_url, fail_mode: str, blocked: str | None) -> None:
    url, _ = guard_url
    async with aiohttp.ClientSession() as session:
        clf = ChatClassifier(url, "g", session=session)
        result = await run_classifier(config(url, fail_mode, timeout_ms=200), clf, user("slow request"))
    assert result.error == "timeout" and result.blocked_rule == blocked
    assert result.rule_ids == ["guard.model.unavailable"]


@pytest.mark.parametrize("text", ["crash please", "garbage answer"])
@pytest.mark.parametrize(("fail_mode", "blocked"), [("open", None), ("closed", "guard.model.unavailable")])
async def test_errors_follow_the_fail_mode(guard_url, text: str, fail_mode: str, blocked: str | None) -> None:
    url, _ = guard_url
    async with aiohttp.ClientSession() as session:
        clf = ChatClassifier(url, "g", session=session)
        result = await run_classifier(config(url, fail_mode), clf, user(text))
    assert result.error == "error" and result.blocked_rule == blocked


async def test_unreachable_guard_fails_closed() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        result = await run_classifier(
            config(url, "closed"), ChatClassifier(url, "g", session=session), user("hi")
        )
    assert result.blocked_rule == "guard.model.unavailable" and result.error == "error"


def test_parse_verdict_and_messages() -> None:
    assert parse_verdict(" safe\n").safe and parse_verdict("unsafe\nS7").categories == ("S7",)
    with pytest.raises(ClassifierError):
        parse_verdict("maybe")
    body = {
        "messages": [
            {"role": "system", "content": "rules"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": "c"},
        ]
    }
    assert classifier_messages(body, route="chat") == [
        {"role": "user", "content": "a\nb"},
        {"role": "assistant", "content": "c"},
    ]
    assert classifier_messages({"prompt": ["x", "y"]}, route="completions") == [
        {"role": "user", "content": "x\ny"}
    ]


@pytest.mark.parametrize(("threshold", "blocked"), [(0.6, "guard.model"), (0.7, None)])
async def test_logprob_score_against_the_threshold(guard_url, threshold: float, blocked: str | None) -> None:
    """p(unsafe) from the first non-whitespace position's alternatives, against the policy's threshold."""
    url, seen = guard_url
    async with aiohttp.ClientSession() as session:
        cfg = config(url, "closed", threshold=threshold)
        clf = ChatClassifier(url, "g", session=session, threshold=cfg.threshold)
        result = await run_classifier(cfg, clf, user("scored text"))
    assert result.blocked_rule == blocked and result.verdict is not None
    assert result.verdict.score == pytest.approx(2 / 3)
    assert result.verdict.categories == (("S2",) if blocked else ())
    assert seen[-1]["logprobs"] is True and seen[-1]["top_logprobs"] == 20


def test_verdict_score_and_threshold_config() -> None:
    lp = math.log
    assert verdict_score([[(" safe", lp(0.9)), ("uns", lp(0.05))]]) == pytest.approx(0.05 / 0.95)
    assert verdict_score([[("un", lp(0.3)), ("unsafe", lp(0.3)), ("s", lp(0.1))]]) == pytest.approx(6 / 7)
    assert verdict_score([[("Roses", lp(0.7)), ("safe", lp(0.2))]]) is None  # a poem, not a verdict
    assert verdict_score([]) is None
    url = "http://127.0.0.1:1/v1/chat/completions"
    assert config(url, "closed").threshold == 0.5
    assert config(url, "closed", preamble="prompt-injection").threshold == BUNDLED_INJECTION_THRESHOLD
    assert config(url, "closed", threshold=0.8).threshold == 0.8
    for bad in (0, 1.5, "high", True):
        with pytest.raises(PolicyConfigError, match=r"classifier\.threshold"):
            config(url, "closed", threshold=bad)
