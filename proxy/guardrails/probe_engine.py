"""The bundled SmolLM2-135M's pooled hidden states from our engine in this process (bench and training;
the proxy asks an engine's /v1/embeddings instead), and the probe scored on them (`LocalProbe`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from proxy.guardrails.classifier import Verdict
from proxy.guardrails.probe import Probe

BATCH_TOKENS = 1024
MAX_SEQS = 32


class EngineEmbedder:
    """An embedding EngineCore (--task embed) over the bundled GGUF, float32 on the CPU."""

    def __init__(self, pooling: str, max_tokens: int) -> None:
        from engine.cli import bundled_model_path
        from engine.config import EngineConfig
        from engine.engine_core import EngineCore

        config = EngineConfig(
            model=str(bundled_model_path()),
            device="cpu",
            dtype="float32",
            task="embed",
            pooling_type=pooling,
            max_model_len=2048,
            max_num_seqs=MAX_SEQS,
            max_num_batched_tokens=max(BATCH_TOKENS, max_tokens),
        )
        self.core = EngineCore(config, async_scheduling=False)
        self.max_tokens = max_tokens

    def embed(self, texts: list[str]) -> np.ndarray:
        """[len(texts), hidden] float32: each text's last max_tokens tokens, pooled."""
        from engine.outputs import RequestMetrics

        out = np.zeros((len(texts), self.core.spec.hidden_size), np.float32)
        for i, text in enumerate(texts):
            ids = self.core.encode(text)[-self.max_tokens :] or self.core.encode(" ")
            self.core.add_pooling(f"probe-{i}", ids, RequestMetrics(0.0))
        while self.core.has_unfinished():
            for o in self.core.step():
                out[int(o.request_id.split("-")[1])] = o.embedding.numpy()
        return out


class LocalProbe:
    """The probe with embeddings from this process's engine: `scores` for the bench."""

    def __init__(self, probe: Probe, embedder: Any | None = None) -> None:
        self.probe, self.threshold = probe, probe.threshold
        self.name = "injection-probe (SmolLM2-135M hidden states + char n-grams)"
        if embedder is None and probe.uses_embedding:
            embedder = EngineEmbedder(probe.pooling, probe.max_tokens)
        self.embedder = embedder

    @classmethod
    def bundled(cls) -> LocalProbe:
        return cls(Probe.load())

    def scores(self, texts: list[str]) -> list[float | None]:
        vectors = self.embedder.embed(texts) if self.embedder is not None else [None] * len(texts)
        return [self.probe.score(v, t) for v, t in zip(vectors, texts, strict=True)]

    def score(self, text: str) -> float | None:
        return self.scores([text])[0]

    def classify(self, text: str) -> Verdict:
        score = self.probe.score(None if self.embedder is None else self.embedder.embed([text])[0], text)
        return Verdict(score < self.threshold, () if score < self.threshold else ("injection",), score)
