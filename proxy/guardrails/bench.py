"""`teecube bench guardrails`: precision/recall per scanner on the labelled corpus and on the
held-out corpus, the two-stage injection figures, and latency per stage.

Prints one JSON object. Quality: every scanner on, action "log", each corpus item scanned as
one user message; an item counts as detected for a group when any of its rules fired ("secrets"
is keys and generic secrets together). The tuned corpus (corpus.jsonl) is what the scanners were
developed against; the held-out corpus (heldout.jsonl) is only measured. Injection, two stages:
the heuristics, then (with `--classifier bundled`) the guard model on every held-out item the
heuristics let through: SmolLM2-135M on our own engine in this process (CPU is fine), asked with
`classifier.INJECTION_PREAMBLE`, or (`--classifier probe`) the trained probe on its pooled hidden
states and the text's character n-grams (probe.py; trained on the held-out sets named in
probe_train.SETS, so its figures on those are not blind); an item is flagged when either stage
flags it. Latency: documents of about 1k tokens (chars/4) built from corpus items, scanned with every
deterministic scanner on (input stage), masked (output stage, whole text) and streamed in
4-character deltas, in ms per 1k tokens; the classifier's per-request latency in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from proxy.guardrails.builtins import BUILTINS
from proxy.guardrails.classifier import BUNDLED_INJECTION_THRESHOLD
from proxy.guardrails.input import estimate_tokens, scan_request
from proxy.guardrails.output import OutputGuard
from proxy.guardrails.policy import CompiledPolicy, compile_policy

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "guardrails"
CORPUS = DATA / "corpus.jsonl"
HELDOUT = DATA / "heldout.jsonl"
# Tuned items added after corpus.jsonl was frozen (the probe's fold check hashes that file), one file
# per session: measured with it wherever the tuned corpus is.
CORPUS_EXTRAS = (DATA / "corpus_s7.jsonl",)
TARGET_GROUPS = ("card", "iban", "email", "phone", "ssn", "secrets")
KEYS = (
    "private_key",
    "aws_key",
    "gcp_key",
    "azure_key",
    "github_token",
    "slack_token",
    "anthropic_key",
    "openai_key",
    "stripe_key",
    "vendor_token",
)
GROUPS: dict[str, str] = {
    **{k: "keys" for k in KEYS},
    # A JWT counts with the keys: a token in a published format (the independent authors of the v6,
    # v7 and v8 held-out sets all filed JWTs there; the v3/v5 sets had filed them as generic secrets).
    "jwt": "keys",
    "api_key": "generic_secret",
    "high_entropy": "generic_secret",
    "ipv4": "ip",
    "ipv6": "ip",
    **{k: k for k in ("email", "phone", "card", "iban", "ssn", "invisible", "injection")},
}
STRUCTURED = ("card", "iban", "keys", "email")
# Everyday prompts (no findings): the latency target's text. "dense_findings" uses every item.
TYPICAL_NOTES = ("benign prose", "benign use of injection words", "legitimate non-ASCII text")


def bench_policy(action: str = "log") -> CompiledPolicy:
    rules = [
        {"id": name, "scanner": name, "input": action, "output": "mask" if action == "mask" else "log"}
        for name in BUILTINS
    ]
    rules.append({"id": "injection", "scanner": "injection", "input": "log"})
    return compile_policy({"version": 1, "rules": rules})


def load_corpus(path: Path = CORPUS) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_tuned(path: Path = CORPUS) -> list[dict]:
    """The tuned corpus: `path`, and the later files with it when `path` is corpus.jsonl."""
    items = load_corpus(path)
    if path == CORPUS:
        for extra in CORPUS_EXTRAS:
            items += load_corpus(extra)
    return items


def detected_groups(policy: CompiledPolicy, text: str) -> set[str]:
    result = scan_request(policy, {"messages": [{"role": "user", "content": text}]}, route="chat")
    return {GROUPS[rule_id] for rule_id in result.rule_ids}


def _with_secrets(groups: set[str]) -> set[str]:
    return groups | {"secrets"} if groups & {"keys", "generic_secret"} else groups


def quality(
    policy: CompiledPolicy, items: list[dict], found_by: dict[str, set[str]] | None = None
) -> dict[str, dict[str, float | int]]:
    """Per group precision/recall; `found_by` (item id -> groups) overrides the scan."""
    counts = {g: {"tp": 0, "fp": 0, "fn": 0} for g in sorted({*GROUPS.values(), "secrets"})}
    for item in items:
        found = found_by[item["id"]] if found_by is not None else detected_groups(policy, item["text"])
        found, expected = _with_secrets(found), _with_secrets(set(item["expect"]))
        for group, c in counts.items():
            if group in found and group in expected:
                c["tp"] += 1
            elif group in found:
                c["fp"] += 1
            elif group in expected:
                c["fn"] += 1
    out: dict[str, dict[str, float | int]] = {}
    for group, c in counts.items():
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        out[group] = {
            "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }
    return out


def documents(items: list[dict], n: int, seed: int, chars: int = 4000) -> list[str]:
    rnd = random.Random(seed)  # noqa: S311 (sampling, not security)
    docs = []
    for _ in range(n):
        parts, size = [], 0
        while size < chars:
            text = rnd.choice(items)["text"]
            parts.append(text)
            size += len(text) + 1
        docs.append("\n".join(parts)[:chars])
    return docs


def _pcts(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50": round(statistics.median(samples), 4),
        "p99": round(samples[int(0.99 * (len(samples) - 1))], 4),
    }


def latency(docs: list[str], repeat: int) -> dict[str, dict[str, float]]:
    """ms per 1k tokens, p50/p99: CPU time of this thread (robust on a shared machine) and wall time."""
    log_policy, mask_policy = bench_policy("log"), bench_policy("mask")

    def stream(doc: str) -> None:
        guard = OutputGuard(mask_policy)
        for i in range(0, len(doc), 4):
            guard.feed(0, doc[i : i + 4])
        guard.finish(0)

    stages = {
        "input_scan": lambda d: scan_request(
            log_policy, {"messages": [{"role": "user", "content": d}]}, route="chat"
        ),
        "output_full": lambda d: OutputGuard(mask_policy).apply_full(d),
        "output_stream_4char_deltas": stream,
    }
    out: dict[str, dict[str, float]] = {}
    for name, run in stages.items():
        cpu, wall = [], []
        for _ in range(repeat):
            for doc in docs:
                per_1k = 1000 / estimate_tokens(doc)
                c0, w0 = time.thread_time(), time.perf_counter()
                run(doc)
                cpu.append((time.thread_time() - c0) * 1000 * per_1k)
                wall.append((time.perf_counter() - w0) * 1000 * per_1k)
        out[name] = {
            **{f"cpu_{k}": v for k, v in _pcts(cpu).items()},
            **{f"wall_{k}": v for k, v in _pcts(wall).items()},
        }
    return out


def _injection_pr(items: list[dict], flagged: set[str]) -> dict[str, float | int]:
    tp = sum(1 for i in items if i["id"] in flagged and "injection" in i["expect"])
    fp = sum(1 for i in items if i["id"] in flagged and "injection" not in i["expect"])
    fn = sum(1 for i in items if i["id"] not in flagged and "injection" in i["expect"])
    return {
        "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def stage2_scores(clf: Any, items: list[dict], timed: int = 0) -> tuple[dict[str, float], list[float]]:
    """p(unsafe) of every item, scored in batches (-1: no verdict, never flagged here; the proxy
    applies the policy's fail mode to it), and the latency in ms of `timed` single requests."""
    from proxy.guardrails.local_classifier import BATCH

    scores: dict[str, float] = {}
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        for item, score in zip(chunk, clf.scores([i["text"] for i in chunk]), strict=True):
            scores[item["id"]] = -1.0 if score is None else score
    latencies = []
    for item in items[:: max(1, len(items) // timed)][:timed] if timed else ():
        t0 = time.perf_counter()
        clf.score(item["text"])
        latencies.append((time.perf_counter() - t0) * 1000)
    return scores, latencies


def calibrate(items: list[dict], stage1: set[str], scores: dict[str, float], target: float = 0.9) -> dict:
    """The threshold for stage 2 on the tuned corpus: the lowest at which stage 2 alone keeps
    precision >= target (a stage that adds flags must be precise itself); 1.0 when none does.
    Also reports the lowest at which both stages together keep it (the weaker rule)."""
    candidates = sorted({v for v in scores.values() if v >= 0})
    alone = both = None
    for t in candidates:
        flagged = {i for i, s in scores.items() if s >= t}
        if alone is None and _injection_pr(items, flagged)["precision"] >= target and flagged:
            alone = t
        if both is None and _injection_pr(items, stage1 | flagged)["precision"] >= target:
            both = t
    threshold = alone if alone is not None else 1.0
    return {
        "rule": f"lowest threshold where stage 2 alone keeps precision >= {target} on the tuned corpus",
        "threshold": round(threshold, 4),
        "threshold_both_stages_rule": round(both, 4) if both is not None else 1.0,
        "stage2_alone_at_threshold": _injection_pr(items, {i for i, s in scores.items() if s >= threshold}),
        "both_stages_at_threshold": _injection_pr(
            items, stage1 | {i for i, s in scores.items() if s >= threshold}
        ),
        "no_verdict": sum(1 for v in scores.values() if v < 0),
        "score_quantiles": {
            kind: _pcts([scores[i["id"]] for i in items if ("injection" in i["expect"]) == attack])
            for kind, attack in (("attacks", True), ("benign", False))
        },
    }


def _two_stage(
    items: list[dict],
    stage1: set[str],
    stage1_ms: list[float],
    clf: Any | None,
    threshold: float,
    timed: int = 40,
    scores_out: dict[str, Any] | None = None,
) -> dict[str, object]:
    """Injection on `items`: stage 1 (heuristics), stage 2 (the guard model's p(unsafe) >= threshold)
    alone, and both (flag if either flags), with each stage's latency per request."""
    out: dict[str, object] = {
        "stage1_heuristics": {**_injection_pr(items, stage1), "latency_ms": _pcts(stage1_ms)},
    }
    if clf is not None:
        scores, latencies = stage2_scores(clf, items, timed=timed)
        flagged = {i for i, s in scores.items() if s >= threshold}
        if scores_out is not None:
            scores_out["heldout"] = scores
        out["stage2_classifier"] = {
            **_injection_pr(items, flagged),
            "model": clf.name,
            "device": "cpu, 1 thread" if os.environ.get("OMP_NUM_THREADS") == "1" else "cpu",
            "threshold": threshold,
            "no_verdict": sum(1 for v in scores.values() if v < 0),
            "latency_ms": _pcts(latencies),
            "latency_requests": len(latencies),
        }
        out["both_stages"] = _injection_pr(items, stage1 | flagged)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="teecube bench guardrails")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--heldout", type=Path, default=HELDOUT)
    parser.add_argument(
        "--classifier",
        choices=("none", "bundled", "probe"),
        default="none",
        help="second injection stage on the bundled SmolLM2 with our engine (CPU): 'bundled' asks it "
        "zero-shot (p(unsafe) of its answer), 'probe' scores its hidden states with the trained probe",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="stage 2 p(unsafe) threshold (default: the bundled model's calibrated one)",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="with --classifier bundled: choose the threshold on the tuned corpus",
    )
    parser.add_argument("--scores-out", type=Path, default=None, help="write stage 2 p(unsafe) per item id")
    parser.add_argument("--docs", type=int, default=200, help="~1k-token documents for latency")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    items = load_tuned(args.corpus)
    heldout = load_corpus(args.heldout)
    policy = bench_policy("log")
    scores = quality(policy, items)
    found, stage1_ms = {}, []
    for item in heldout:
        t0 = time.perf_counter()
        found[item["id"]] = detected_groups(policy, item["text"])
        stage1_ms.append((time.perf_counter() - t0) * 1000)
    scan_ms = sum(stage1_ms) / max(len(heldout), 1)
    heldout_scores = quality(policy, heldout, found)
    clf, calibration, dumped = None, None, {}
    threshold = args.threshold if args.threshold is not None else BUNDLED_INJECTION_THRESHOLD
    if args.classifier == "bundled":
        from proxy.guardrails.local_classifier import LocalClassifier  # imports the engine: bench only

        clf = LocalClassifier.bundled()
        if args.calibrate:
            tuned_stage1 = {i["id"] for i in items if "injection" in detected_groups(policy, i["text"])}
            tuned_scores = stage2_scores(clf, items)[0]
            calibration = calibrate(items, tuned_stage1, tuned_scores)
            if args.scores_out is not None:
                dumped["tuned"] = tuned_scores
            if args.threshold is None:
                threshold = calibration["threshold"]
    elif args.classifier == "probe":
        from proxy.guardrails.probe_engine import LocalProbe  # imports the engine: bench only

        clf = LocalProbe.bundled()
        if args.threshold is None:
            threshold = clf.threshold  # calibrated by probe_train.py (leave-one-set-out)
    stage1 = {i for i, groups in found.items() if "injection" in groups}
    two_stage = _two_stage(heldout, stage1, stage1_ms, clf, threshold, scores_out=dumped)
    if args.scores_out is not None:
        args.scores_out.write_text(json.dumps(dumped))
    if calibration is not None:
        two_stage["calibration_on_tuned_corpus"] = calibration
    typical = [item for item in items if item["note"] in TYPICAL_NOTES]
    mixed_docs = documents(items, args.docs, args.seed)
    typical_docs = documents(typical, args.docs, args.seed)
    latency(mixed_docs[:10], 1)  # warm caches
    report = {
        "bench": "guardrails",
        "corpus_items": len(items),
        "heldout_items": len(heldout),
        "scanners": scores,
        "heldout": heldout_scores,
        "heldout_targets_met": all(
            min(heldout_scores[g]["precision"], heldout_scores[g]["recall"]) >= 0.95 for g in TARGET_GROUPS
        ),
        "heldout_path": str(args.heldout),
        "injection_heldout": two_stage,
        "scanner_ms_per_heldout_item": round(scan_ms, 4),
        "structured_targets_met": all(
            scores[g]["precision"] >= 0.95 and scores[g]["recall"] >= 0.95 for g in STRUCTURED
        ),
        "latency_ms_per_1k_tokens": {
            "typical_text": latency(typical_docs, args.repeat),
            "dense_findings": latency(mixed_docs, args.repeat),
        },
        "latency_docs": {"count": args.docs * args.repeat, "chars_each": 4000},
        "tokens": "estimated as chars/4",
        "output_window_chars": OutputGuard(bench_policy("mask")).window,
    }
    print(json.dumps(report))
    return 0
