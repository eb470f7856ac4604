"""Features of the trained injection probe (probe.py), numpy only (the proxy imports no torch).

Two parts, concatenated: the bundled SmolLM2-135M's pooled hidden state of the text (computed by
our engine: in-process for the bench, or an engine's /v1/embeddings for the proxy), standardized
with the training set's mean and deviation; and hashed character n-grams of the text's matching
view (normalize.py: NFKC, invisible characters removed), lower-cased, log counts, L2-normalized,
so the probe sees spellings and scripts the small model represents poorly.
"""

from __future__ import annotations

import zlib

import numpy as np

from proxy.guardrails.normalize import normalize_text

NGRAM_SIZES = (2, 3, 4, 5)
NGRAM_BITS = 16  # 65536 hashed buckets
MAX_CHARS = 8000  # the first and last 4000 characters of a longer text


def ngram_view(text: str) -> str:
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS // 2] + "\n" + text[-MAX_CHARS // 2 :]
    return " " + " ".join(normalize_text(text).lower().split()) + " "


def ngram_features(
    text: str, sizes: tuple[int, ...] = NGRAM_SIZES, bits: int = NGRAM_BITS
) -> tuple[np.ndarray, np.ndarray]:
    """(bucket indices, values) of the text's hashed character n-grams: log(1 + count), L2-normalized.
    crc32 is the hash (stable across processes, unlike Python's hash())."""
    view = ngram_view(text)
    mask = (1 << bits) - 1
    counts: dict[int, int] = {}
    for n in sizes:
        salt = n.to_bytes(1, "little")
        for i in range(len(view) - n + 1):
            key = zlib.crc32(salt + view[i : i + n].encode("utf-8", "surrogatepass")) & mask
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    idx = np.fromiter(counts.keys(), np.int64, len(counts))
    val = np.log1p(np.fromiter(counts.values(), np.float32, len(counts)))
    order = np.argsort(idx)
    idx, val = idx[order], val[order]
    return idx, (val / np.linalg.norm(val)).astype(np.float32)
