"""Train the injection probe (probe.py) and estimate its blind performance; deterministic.

    python -m proxy.guardrails.probe_train [--features-cache F.npz] [--out data/injection_probe.npz]

Data: the tuned corpus and the held-out sets named in SETS (never any other file: a newer blind set
is for judging only). Label: "injection" in an item's expect; everything else is negative (the
corpus's benign hard negatives included). Texts are deduplicated across files.

Leave-one-set-out: for each held-out set, fit on everything else (minus texts that also occur in
that set), score that set. The threshold for a set is the lowest at which the probe alone keeps
precision >= TARGET_PRECISION on the other sets' out-of-fold scores; the shipped threshold is that
rule over all sets' out-of-fold scores. Reported per set: the probe alone, stage 1 (the
heuristics, as bench.py computes it) alone, and both (flag if either flags). The shipped weights are
one fit on all the data.

Embeddings come from our engine in this process (probe_engine.EngineEmbedder, minutes on a CPU);
`--features-cache` keeps them in a file keyed by a hash of each text, so reruns only score.
Prints one JSON object of figures (no texts).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from proxy.guardrails.probe import PROBE_PATH, unit
from proxy.guardrails.probe_features import NGRAM_BITS, NGRAM_SIZES, ngram_features
from proxy.guardrails.probe_fit import Features, Model, fit

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "guardrails"
TUNED = "corpus"
SETS = ("heldout", "heldout_v3", "heldout_v4", "heldout_v5", "heldout_v6", "heldout_v7", "heldout_v8")
POOLING = "mean"
MAX_TOKENS = 512
L2_DENSE = 1e-1
L2_SPARSE = 5e-6
TARGET_PRECISION = 0.95
CHECK_SET = "heldout_v8"


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class Dataset:
    """Unique texts (sorted by key), their labels, and which files hold each."""

    def __init__(self, data: Path = DATA, names: tuple[str, ...] = (TUNED, *SETS)) -> None:
        texts: dict[str, str] = {}
        labels: dict[str, bool] = {}
        members: dict[str, set[str]] = {}
        for name in names:
            members[name] = set()
            with (data / f"{name}.jsonl").open(encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    key = text_key(item["text"])
                    texts[key] = item["text"]
                    labels[key] = labels.get(key, False) or "injection" in item["expect"]
                    members[name].add(key)
        self.keys = sorted(texts)
        self.texts = [texts[k] for k in self.keys]
        self.labels = np.array([labels[k] for k in self.keys], np.float64)
        index = {k: i for i, k in enumerate(self.keys)}
        self.members = {n: np.array(sorted(index[k] for k in ks), np.int64) for n, ks in members.items()}


def embeddings(
    ds: Dataset, cache: Path | None, pooling: str = POOLING, max_tokens: int = MAX_TOKENS
) -> np.ndarray:
    """[n, hidden] pooled hidden states of every text, from the cache where it has them."""
    name = f"{pooling}_{max_tokens}"
    have: dict[str, np.ndarray] = {}
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as f:
            if name in f.files:
                have = dict(zip(f["keys"].tolist(), f[name], strict=True))
    missing = [i for i, k in enumerate(ds.keys) if k not in have]
    if missing:
        from proxy.guardrails.probe_engine import EngineEmbedder

        embedder = EngineEmbedder(pooling, max_tokens)
        for start in range(0, len(missing), 256):
            chunk = missing[start : start + 256]
            for i, vector in zip(chunk, embedder.embed([ds.texts[i] for i in chunk]), strict=True):
                have[ds.keys[i]] = vector
        if cache is not None:
            keys = sorted(have)
            np.savez(cache, keys=np.array(keys), **{name: np.stack([have[k] for k in keys])})
    return np.stack([unit(have[k]) for k in ds.keys]).astype(np.float64)


def features(ds: Dataset, dense: np.ndarray | None) -> Features:
    sparse = [ngram_features(t, NGRAM_SIZES, NGRAM_BITS) for t in ds.texts]
    return Features(dense, sparse, 1 << NGRAM_BITS)


def stage1_flags(ds: Dataset) -> np.ndarray:
    from proxy.guardrails.bench import bench_policy, detected_groups

    policy = bench_policy("log")
    return np.array(["injection" in detected_groups(policy, t) for t in ds.texts])


def pr(flagged: np.ndarray, labels: np.ndarray) -> dict[str, float | int]:
    tp = int((flagged & (labels > 0)).sum())
    fp = int((flagged & (labels == 0)).sum())
    fn = int((~flagged & (labels > 0)).sum())
    return {
        "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def lowest_threshold(scores: np.ndarray, labels: np.ndarray, target: float = TARGET_PRECISION) -> float:
    """The lowest score at which flagging >= it keeps precision >= target (1.0 when none does)."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order] > 0
    tp, n = np.cumsum(y), np.arange(1, len(s) + 1)
    best = 1.0
    for i in range(len(s)):
        if (i + 1 < len(s) and s[i + 1] == s[i]) or tp[i] / n[i] < target:
            continue
        best = float(s[i])
    return best


def leave_one_set_out(ds: Dataset, x: Features) -> dict[str, np.ndarray]:
    """Out-of-fold p(unsafe) of each held-out set's items (in ds.members order)."""
    everything = np.arange(len(ds.keys))
    out = {}
    for name in SETS:
        test = ds.members[name]
        train = np.setdiff1d(everything, test)
        out[name] = fit_model(x.rows(train), ds.labels[train]).scores(x.rows(test))
    return out


def fit_model(x: Features, labels: np.ndarray) -> Model:
    return fit(x, labels, L2_DENSE, L2_SPARSE)


def ngram_fold_check(ds: Dataset | None = None) -> dict:
    """A fast reproducibility figure (recorded in the shipped file): the n-gram part alone, fit on
    everything but heldout_v8, its counts on heldout_v8 at p(unsafe) >= 0.5."""
    ds = ds or Dataset()
    x = features(ds, None)
    test = ds.members[CHECK_SET]
    train = np.setdiff1d(np.arange(len(ds.keys)), test)
    scores = fit_model(x.rows(train), ds.labels[train]).scores(x.rows(test))
    return {"set": CHECK_SET, "ngram_only_at_0.5": pr(scores >= 0.5, ds.labels[test])}


def report(ds: Dataset, oof: dict[str, np.ndarray], stage1: np.ndarray) -> dict:
    per_set, flagged_all = {}, []
    for name in SETS:
        others = [n for n in SETS if n != name]
        t = lowest_threshold(
            np.concatenate([oof[n] for n in others]),
            np.concatenate([ds.labels[ds.members[n]] for n in others]),
        )
        labels, s1 = ds.labels[ds.members[name]], stage1[ds.members[name]]
        flagged = oof[name] >= t
        flagged_all.append(flagged)
        per_set[name] = {
            "items": len(labels),
            "threshold": round(t, 4),
            "probe": pr(flagged, labels),
            "stage1": pr(s1, labels),
            "both": pr(flagged | s1, labels),
        }
    labels = np.concatenate([ds.labels[ds.members[n]] for n in SETS])
    s1 = np.concatenate([stage1[ds.members[n]] for n in SETS])
    flagged = np.concatenate(flagged_all)
    return {
        "per_set": per_set,
        "pooled": {"probe": pr(flagged, labels), "stage1": pr(s1, labels), "both": pr(flagged | s1, labels)},
        "threshold": round(lowest_threshold(np.concatenate([oof[n] for n in SETS]), labels), 4),
    }


def save(path: Path, model: Model, threshold: float, info: dict, dense: bool) -> None:
    meta = {
        "pooling": POOLING,
        "max_tokens": MAX_TOKENS,
        "bias": model.bias,
        "threshold": threshold,
        "ngram_sizes": list(NGRAM_SIZES),
        "ngram_bits": NGRAM_BITS,
        "info": info,
    }
    arrays = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    if dense and model.w_dense is not None:
        arrays |= {"mean": model.mean, "scale": model.scale, "w_dense": model.w_dense}
    if model.w_sparse is not None:
        arrays["w_sparse"] = model.w_sparse.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        np.savez_compressed(
            f, **{k: np.asarray(v, np.float32) if k != "meta" else v for k, v in arrays.items()}
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m proxy.guardrails.probe_train")
    parser.add_argument("--features-cache", type=Path, default=None, help="embeddings cache (.npz)")
    parser.add_argument("--out", type=Path, default=None, help=f"write the weights (shipped: {PROBE_PATH})")
    parser.add_argument("--no-embedding", action="store_true", help="char n-grams only (no engine)")
    args = parser.parse_args(argv)
    ds = Dataset()
    dense = None if args.no_embedding else embeddings(ds, args.features_cache)
    x = features(ds, dense)
    oof = leave_one_set_out(ds, x)
    figures = report(ds, oof, stage1_flags(ds))
    model = fit_model(x, ds.labels)
    info = {
        "trained_on": [TUNED, *SETS],
        "items": len(ds.keys),
        "attacks": int(ds.labels.sum()),
        "l2": [L2_DENSE, L2_SPARSE],
        "leave_one_set_out_pooled": figures["pooled"],
        "check": ngram_fold_check(ds),
        "threshold_rule": f"lowest where the probe alone keeps precision >= {TARGET_PRECISION}"
        " on all sets' leave-one-set-out scores",
    }
    if args.out is not None:
        save(args.out, model, figures["threshold"], info, dense is not None)
    print(json.dumps({"probe_train": figures, "info": info}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
