#!/usr/bin/env bash
# Guardrails bench with the bundled SmolLM2-135M as the second injection stage on one GPU:
# calibrates the p(unsafe) threshold on the tuned corpus, then reports per-entity P/R and the
# two-stage injection figures (with each stage's latency) on the held-out set(s). ~2 minutes.
set -euo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
for heldout in tests/data/guardrails/heldout.jsonl tests/data/guardrails/heldout_v3.jsonl; do
  [ -f "$heldout" ] || continue
  name=$(basename "$heldout" .jsonl)
  python3 -m teecube.cli bench guardrails --classifier bundled --calibrate --docs 20 --repeat 1 \
    --heldout "$heldout" > "$OUT/bench_guardrails_$name.json"
  python3 - "$OUT/bench_guardrails_$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(sys.argv[1], json.dumps({"heldout": {g: (v["precision"], v["recall"]) for g, v in r["heldout"].items()},
                               "injection": r["injection_heldout"]}))
PY
done
