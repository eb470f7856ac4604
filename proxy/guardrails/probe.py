"""The trained prompt-injection probe: a second injection stage that learns (probe_train.py).

p(unsafe) = sigmoid(w . features + b) over the bundled SmolLM2-135M's pooled hidden state of the
text (our engine: `--task embed`, in-process for the bench or an engine's /v1/embeddings for the
proxy) and hashed character n-grams (probe_features.py). The weights, the pooling they were
trained with and the calibrated threshold ship in data/injection_probe.npz. Scoring is numpy only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from proxy.guardrails.probe_features import ngram_features

PROBE_PATH = Path(__file__).resolve().parent / "data" / "injection_probe.npz"


@dataclass(frozen=True, slots=True)
class Probe:
    pooling: str  # how the engine pools the final hidden states: "mean" or "last"
    max_tokens: int  # the text's last max_tokens tokens are embedded
    mean: np.ndarray | None  # standardization of the (L2-normalized) embedding
    scale: np.ndarray | None
    w_dense: np.ndarray | None
    w_sparse: np.ndarray | None
    bias: float
    threshold: float  # calibrated: see probe_train.py
    ngram_sizes: tuple[int, ...]
    ngram_bits: int
    info: dict

    @property
    def uses_embedding(self) -> bool:
        return self.w_dense is not None

    @classmethod
    def load(cls, path: Path = PROBE_PATH) -> Probe:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))

            def opt(name: str) -> np.ndarray | None:
                return f[name].astype(np.float64) if name in f.files else None

            return cls(
                meta["pooling"],
                int(meta["max_tokens"]),
                opt("mean"),
                opt("scale"),
                opt("w_dense"),
                opt("w_sparse"),
                float(meta["bias"]),
                float(meta["threshold"]),
                tuple(meta["ngram_sizes"]),
                int(meta["ngram_bits"]),
                meta.get("info", {}),
            )

    def logit(self, embedding: np.ndarray | None, text: str) -> float:
        z = self.bias
        if self.w_dense is not None:
            if embedding is None:
                raise ValueError("this probe needs the text's embedding")
            z += float(((unit(embedding) - self.mean) / self.scale) @ self.w_dense)
        if self.w_sparse is not None:
            idx, val = ngram_features(text, self.ngram_sizes, self.ngram_bits)
            z += float(val.astype(np.float64) @ self.w_sparse[idx])
        return z

    def score(self, embedding: np.ndarray | None, text: str) -> float:
        """p(unsafe) of one text given its pooled hidden state."""
        return float(1.0 / (1.0 + np.exp(-self.logit(embedding, text))))


def unit(vector: np.ndarray) -> np.ndarray:
    """The embedding L2-normalized (an engine serving embeddings may or may not have normalized it)."""
    v = np.asarray(vector, np.float64)
    return v / max(float(np.linalg.norm(v)), 1e-12)
