"""The trained injection probe as the proxy's classifier hook (policy `"classifier": {"kind": "probe"}`).

The proxy asks an engine serving the bundled SmolLM2-135M for embeddings (`teecube engine <bundled
GGUF> --task embed --pooling-type <the probe's pooling>`, reached at its /v1/embeddings URL or as an
operator deployment) of each user-side message of the conversation (the last MAX_MESSAGES, their last
`probe.max_tokens` tokens), and scores them with the shipped probe (numpy, in the proxy process).
p(unsafe) of the conversation is the highest of its messages'; unsafe when it reaches the threshold
(the probe's calibrated one unless the policy sets one).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import aiohttp
import numpy as np

from proxy.guardrails.classifier import ClassifierError, Verdict
from proxy.guardrails.probe import Probe

MAX_MESSAGES = 8


@lru_cache(maxsize=1)
def shipped_probe() -> Probe:
    return Probe.load()


class ProbeClassifier:
    def __init__(
        self,
        url: str,
        model: str,
        *,
        session: aiohttp.ClientSession,
        probe: Probe | None = None,
        headers: dict[str, str] | None = None,
        threshold: float | None = None,
        max_chars: int = 32000,
    ) -> None:
        self.url, self.model, self.session, self.max_chars = url, model, session, max_chars
        self.probe = probe or shipped_probe()
        self.threshold = self.probe.threshold if threshold is None else threshold
        self.headers = dict(headers or {})

    async def __call__(self, messages: list[dict[str, str]]) -> Verdict:
        texts = [
            m["content"][-self.max_chars :] for m in messages if m["role"] == "user" and m["content"].strip()
        ]
        texts = texts[-MAX_MESSAGES:]
        if not texts:
            return Verdict(True)
        vectors: list[Any] = await self._embed(texts) if self.probe.uses_embedding else [None] * len(texts)
        score = max(self.probe.score(v, t) for v, t in zip(vectors, texts, strict=True))
        if score < self.threshold:
            return Verdict(True, (), score)
        return Verdict(False, ("injection",), score)

    async def _embed(self, texts: list[str]) -> list[np.ndarray]:
        payload = {
            "model": self.model,
            "input": texts,
            "encoding_format": "float",
            "truncate_prompt_tokens": self.probe.max_tokens,
        }
        async with self.session.post(
            self.url, json=payload, headers=self.headers, allow_redirects=False
        ) as resp:
            if resp.status != 200:
                raise ClassifierError(f"embedding model returned HTTP {resp.status}")
            data = await resp.json(content_type=None)
        try:
            rows = sorted(data["data"], key=lambda r: r["index"])
            vectors = [np.asarray(r["embedding"], np.float64) for r in rows]
        except (KeyError, TypeError, ValueError) as exc:
            raise ClassifierError("embedding response has no data[].embedding") from exc
        if len(vectors) != len(texts) or any(v.shape != self.probe.mean.shape for v in vectors):  # type: ignore[union-attr]
            raise ClassifierError("embedding response does not match the probe")
        return vectors
