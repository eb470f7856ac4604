"""The proxy's side of guardrails: the domain's active policy, compiled once per version,
applied to every text-carrying request and its output. No header or field can skip it.

With a `classifier` block in the policy, the guard model runs as a task next to the upstream
call (`ClassifierGate`): its verdict is awaited before the first output byte is released, and
a block cancels the upstream request. The guard model's address is operator data only: a
deployment record (`classifier.deployment`, found among the domain's grants or in the
deployments table) or the policy's `url`; nothing in the tenant's request is consulted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp

from proxy.directory import Directory
from proxy.errors import ApiError, bad_request
from proxy.forward.upstream import CredentialError, Upstream, UpstreamPool
from proxy.guardrails import (
    ChatClassifier,
    ClassifierConfig,
    ClassifierResult,
    CompiledPolicy,
    OutputGuard,
    Verdict,
    blocked_error,
    classifier_messages,
    compile_policy,
    run_classifier,
    scan_request,
    token_prompts,
)
from proxy.guardrails.classifier import ClassifierError
from proxy.guardrails.id_decoder import IdDecoders, OutOfRange
from proxy.guardrails.probe_client import ProbeClassifier
from proxy.guardrails.scan_pool import ScanPool

log = logging.getLogger("teecube.proxy.guard")
T = TypeVar("T")
FAIL_MODES = ("open", "closed")
CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"


class GuardrailBlocked(ApiError):
    """400 `content_policy_violation` naming the rule; `rule_ids` go to the usage record."""

    def __init__(self, rule_id: str, rule_ids: list[str], *, message: str | None = None,
                 param: str | None = None) -> None:
        err = blocked_error(rule_id)["error"]
        super().__init__(400, message or err["message"], code=err["code"], param=param)
        self.rule_ids = list(dict.fromkeys([*rule_ids, rule_id]))


def effective_fail_mode(config: ClassifierConfig, domain_default: str | None) -> str:
    """The policy's `classifier.fail_mode` when set, else the domain's `guardrail_fail_mode`;
    anything else is "closed"."""
    mode = config.fail_mode or domain_default
    return mode if mode in FAIL_MODES else "closed"


@dataclass(frozen=True, slots=True)
class GuardModel:
    """A resolved guard-model endpoint: an operator deployment's URL, model and credential."""

    upstream: Upstream
    model: str
    endpoint: str


class ClassifierGate:
    """The classifier's verdict for one request, computed concurrently with the upstream call."""

    def __init__(self, task: asyncio.Task[ClassifierResult]) -> None:
        self._task = task

    @property
    def rule_ids(self) -> list[str]:
        if not self._task.done() or self._task.cancelled() or self._task.exception() is not None:
            return []
        return list(self._task.result().rule_ids)

    async def wait(self) -> None:
        """Await the verdict; raise `GuardrailBlocked` when it blocks."""
        result = await asyncio.shield(self._task)
        if result.blocked_rule:
            raise GuardrailBlocked(result.blocked_rule, list(result.rule_ids))

    async def run(self, work: Awaitable[T]) -> T:
        """Run `work` (the upstream call) until it finishes or the verdict blocks, whichever is first;
        return its result only once the verdict allows it."""
        task = asyncio.ensure_future(work)
        try:
            await asyncio.wait({task, self._task}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                result = self._task.result()
                if result.blocked_rule:
                    task.cancel()  # closes the upstream request, which stops the generation
                    await asyncio.wait({task})
                    if not task.cancelled():
                        task.exception()  # retrieved: the block is what the tenant sees
                    raise GuardrailBlocked(result.blocked_rule, list(result.rule_ids))
            value = await task
            await self.wait()
            return value
        finally:
            if not task.done():
                task.cancel()
            self.close()

    def close(self) -> None:
        if not self._task.done():
            self._task.cancel()


@dataclass(slots=True)
class CheckedInput:
    body: dict[str, Any] = field(repr=False)  # the tenant's request: never in logs
    output_guard: OutputGuard | None
    rule_ids: list[str] = field(default_factory=list)
    gate: ClassifierGate | None = None

    async def run(self, work: Awaitable[T]) -> T:
        """Await the upstream call, gated by the classifier's verdict when there is one."""
        if self.gate is None:
            return await work
        return await self.gate.run(work)

    async def before_output(self) -> None:
        """Called before the first output byte: waits for the verdict (raises when it blocks)."""
        if self.gate is not None:
            await self.gate.wait()

    def audit_rule_ids(self, blocked_rule: str | None = None) -> list[str]:
        """Rule ids for the usage record: input, classifier, output (ids only, never text)."""
        ids = [*self.rule_ids, *(self.gate.rule_ids if self.gate else [])]
        if self.output_guard is not None:
            ids += self.output_guard.rule_ids
        if blocked_rule:
            ids.append(blocked_rule)
        return list(dict.fromkeys(ids))


class DeploymentClassifier:
    """A `Classifier` for an operator deployment: resolved when called, so a missing or
    disabled deployment is an error the policy's fail mode handles, within its timeout."""

    def __init__(self, guards: Guards, domain_id: int, config: ClassifierConfig, pool: UpstreamPool,
                 request_id: str) -> None:
        self._guards, self._domain_id, self._config = guards, domain_id, config
        self._pool, self._request_id = pool, request_id

    async def __call__(self, messages: list[dict[str, str]]) -> Verdict:
        target = await self._guards.guard_model(self._domain_id, self._config)
        if target is None:
            raise ClassifierError("the guard model deployment is unavailable")
        try:
            headers = self._pool.headers(target.upstream, self._request_id)
        except CredentialError:
            raise ClassifierError("the guard model's credential is unavailable") from None
        session = self._pool.session(target.upstream)
        if self._config.kind == "probe":
            probe = ProbeClassifier(target.endpoint, target.model, session=session, headers=headers,
                                    threshold=self._config.threshold)
            return await probe(messages)
        classifier = ChatClassifier(
            target.endpoint, target.model, session=session,
            preamble=self._config.preamble, headers=headers, threshold=self._config.threshold,
        )
        return await classifier(messages)


async def _verdict(config: ClassifierConfig, classifier: Any, messages: list[dict[str, str]],
                   domain_id: int) -> ClassifierResult:
    try:
        result = await run_classifier(config, classifier, messages)
    except Exception as exc:  # anything unexpected is "unavailable", under the same fail mode
        log.warning("guard model failed domain=%s error=%s", domain_id, type(exc).__name__)
        rule_id = f"{config.rule_id}.unavailable"
        result = ClassifierResult(None if config.fail_mode == "open" else rule_id, [rule_id], None, "error")
    if result.error:
        log.warning("guard model unavailable domain=%s error=%s fail_mode=%s", domain_id, result.error,
                    config.fail_mode)
    return result


@dataclass(frozen=True, slots=True)
class _ActivePolicy:
    key: tuple[int, int] | str  # (domain, version), or "default"
    config: dict[str, Any]  # what `compiled` was compiled from (a scan worker compiles it too)
    compiled: CompiledPolicy
    # the scan pool's key: the config's content, so that domains whose policy equals the default (or
    # one another) share the compiled policy a scan worker already holds
    pool_key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pool_key", policy_digest(self.config))


def policy_digest(config: dict[str, Any]) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class Guards:
    """`scan_pool`: large inputs are scanned in its processes (see scan_pool.py); None: inline."""

    def __init__(self, directory: Directory, default_policy: dict[str, Any],
                 scan_pool: ScanPool | None = None) -> None:
        self._directory = directory
        self._compiled: dict[tuple[int, int], _ActivePolicy] = {}
        self._default = _ActivePolicy("default", default_policy, compile_policy(default_policy))
        self.scan_pool = scan_pool
        self.id_decoders = IdDecoders()  # token-id prompts decoded here for teecube upstreams
        self._pool_warmed: set[str] = {self._default.pool_key}  # policies the scan workers compiled

    async def start(self) -> None:
        if self.scan_pool is not None:
            await self.scan_pool.warm(self._default.pool_key, self._default.config)

    def close(self) -> None:
        if self.scan_pool is not None:
            self.scan_pool.close()

    async def _active(self, domain_id: int) -> _ActivePolicy:
        active = await self._directory.guardrail_policy(domain_id)
        if active is None:
            return self._default
        version, config = active
        key = (domain_id, version)
        entry = self._compiled.get(key)
        if entry is None:
            try:
                entry = _ActivePolicy(key, config, compile_policy(config))
            except Exception as exc:
                # A broken stored policy fails closed with the built-in default, never open.
                log.error("guardrail policy domain=%s version=%s invalid: %s", domain_id, version,
                          type(exc).__name__)
                entry = self._default
            if len(self._compiled) > 10_000:
                self._compiled.clear()
            self._compiled[key] = entry
            self._warm_pool(entry)
        return entry

    def _warm_pool(self, entry: _ActivePolicy) -> None:
        """A policy seen for the first time is compiled in the scan workers now, in the background, so
        that the first large prompts under it do not wait for every worker's compile (~0.6 s each)."""
        if self.scan_pool is None or entry.pool_key in self._pool_warmed:
            return
        self._pool_warmed.add(entry.pool_key)
        task = asyncio.ensure_future(self.scan_pool.warm(entry.pool_key, entry.config))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def guard_model(self, domain_id: int, config: ClassifierConfig) -> GuardModel | None:
        """The guard model's endpoint from operator data only; None when it cannot be used."""
        if config.deployment is None:
            if config.url is None or config.model is None:
                return None
            return GuardModel(Upstream(config.url), config.model, config.url)
        name = config.deployment
        path = EMBEDDINGS_PATH if config.kind == "probe" else CHAT_PATH
        for grant in (await self._directory.view(domain_id)).values():
            if grant.deployment_name == name and grant.enabled:
                upstream = Upstream(grant.url, grant.credential_ref)
                model = config.model or grant.served_model_name
                return GuardModel(upstream, model, upstream.endpoint(path))

        # Cached with the directory's TTL, like every other operator record the proxy reads.
        row = await self._directory.guard_deployment(name)
        if row is None or row[3] != "active":
            return None
        upstream = Upstream(row[0], row[1])
        return GuardModel(upstream, config.model or row[2], upstream.endpoint(path))

    async def _detokenize(self, prompts: list[token_prompts.IdPrompt], route: str, kind: str | None,
                          pool: UpstreamPool, upstream: Upstream | None, model: str | None,
                          request_id: str) -> list[str]:
        """The text of each id prompt: decoded here with the upstream's own tokenizer (teecube
        engines, id_decoder.py), else from the upstream's /detokenize; 400 where it cannot be had."""
        param = token_prompts.prompt_key(route)
        if kind not in token_prompts.DETOKENIZE_KINDS or upstream is None or model is None:
            raise bad_request("Token-id prompts cannot be scanned by the guardrails for this deployment: "
                              "send text.", param=param, code="unsupported_field")
        if len(prompts) > token_prompts.MAX_ID_PROMPTS:
            raise bad_request(f"At most {token_prompts.MAX_ID_PROMPTS} token-id prompts per request.",
                              param=param, code="invalid_value")
        undecodable = bad_request("Token-id prompts could not be decoded for the guardrails (the deployment "
                                  "did not detokenize them): send text.", param=param,
                                  code="unsupported_field")
        local = await self.id_decoders.decoder(pool, upstream, model, kind, request_id)
        if local is not None:
            try:
                return await local.decode_all([prompt.ids for prompt in prompts])
            except OutOfRange:  # what the upstream's /detokenize 400 turned into before
                raise undecodable from None
            except Exception as exc:  # a decoder fault: the round trip still works
                log.warning("local detokenize failed request_id=%s error=%s", request_id, type(exc).__name__)
        url = upstream.server_endpoint("/detokenize")
        async def decode(ids: list[int], headers: dict[str, str]) -> str:
            async with pool.session(upstream).post(
                url, json={"model": model, "tokens": ids}, headers=headers, allow_redirects=False
            ) as resp:
                data = await resp.json(content_type=None) if resp.status == 200 else None
            text = data.get("prompt") if isinstance(data, dict) else None
            if not isinstance(text, str):
                raise ValueError(f"detokenize returned HTTP {resp.status}")
            return text

        try:
            headers = pool.headers(upstream, request_id)
            # one request per id list (vLLM's /detokenize takes one), sent together rather than in turn
            texts = list(await asyncio.gather(*(decode(prompt.ids, headers) for prompt in prompts)))
        except (CredentialError, aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            log.warning("detokenize failed request_id=%s error=%s", request_id, type(exc).__name__)
            raise undecodable from None
        return texts

    async def check_input(
        self,
        domain_id: int,
        settings: Any,
        body: dict[str, Any],
        route: str,
        *,
        pool: UpstreamPool,
        request_id: str,
        kind: str | None = None,
        upstream: Upstream | None = None,
        served_model: str | None = None,
        estimated_tokens: int = 0,
    ) -> CheckedInput:
        """`kind`: the upstream deployment's kind; fields it would use that guardrails cannot
        read are refused (400 naming the field). Token-id prompts are decoded with the `upstream`'s
        tokenizer (teecube: locally, id_decoder.py; vLLM: its `/detokenize` with `served_model`)
        and scanned as text (token_prompts.py);
        other kinds get them refused while the policy scans input. `estimated_tokens` (the
        prompt's estimate) decides whether the scan goes to the scan pool."""
        active = await self._active(domain_id)
        policy = active.compiled
        id_prompts = token_prompts.find(body, route) if policy.scans_input else []
        texts: list[str] = []
        scanned = body
        if id_prompts and not policy.refuse_token_ids:  # refused by scan_request otherwise
            texts = await self._detokenize(id_prompts, route, kind, pool, upstream, served_model, request_id)
            scanned = token_prompts.with_texts(body, id_prompts, texts)
        pool_scan = self.scan_pool is not None and self.scan_pool.wants(estimated_tokens)
        if pool_scan:
            result = await self.scan_pool.scan(  # type: ignore[union-attr]
                policy, active.pool_key, active.config, scanned, route=route, kind=kind)  # type: ignore[arg-type]
        else:
            result = scan_request(policy, scanned, route=route, kind=kind)  # type: ignore[arg-type]
        if result.refusal is not None:
            refusal = result.refusal
            raise bad_request(refusal.message, param=refusal.param or None, code="unsupported_field")
        if result.blocked_rule:
            raise GuardrailBlocked(result.blocked_rule, list(result.rule_ids))
        forward = result.body
        if texts:
            try:
                forward = token_prompts.with_ids(result.body, id_prompts, texts)
            except token_prompts.IdPromptRefused:
                acting = [r.id for r in policy.input.rules
                          if r.id in result.rule_ids and r.input in ("mask", "pseudonymize")]
                rule = acting[0] if acting else "token_ids"
                raise GuardrailBlocked(
                    rule, list(result.rule_ids), param=token_prompts.prompt_key(route),
                    message=f"Guardrail rule '{rule}' would rewrite text inside a token-id prompt, "
                    "which cannot be done on ids: send the prompt as text.",
                ) from None
        checked = CheckedInput(
            body=forward,
            output_guard=OutputGuard(policy, result.vault),
            rule_ids=list(result.rule_ids),
        )
        if policy.classifier is not None:
            domain_mode = getattr(settings, "guardrail_fail_mode", None)
            config = dataclasses.replace(
                policy.classifier, fail_mode=effective_fail_mode(policy.classifier, domain_mode)
            )
            messages = classifier_messages(result.body, route=route)
            classifier = DeploymentClassifier(self, domain_id, config, pool, request_id)
            task = asyncio.create_task(_verdict(config, classifier, messages, domain_id))
            checked.gate = ClassifierGate(task)
        return checked
