#!/usr/bin/env bash
# Issue #13: served vs offline output tok/s on one H200 (qwen3-0.6b shape, dummy weights), one JSON each.
# 1. PERFORMANCE.md's offline workload (256 requests, 100-1024 in/out), concurrency 256, --compare-offline.
# 2. The fixed 512/512 random workload (token ids, ignore EOS), concurrency 256, --compare-offline.
# Run from the repo root; writes $OUT/serve-offline-workload.json, $OUT/serve-random-512.json and logs.
set -u
OUT=${OUT:-out}
mkdir -p "$OUT"
ENGINE=(--model qwen3-0.6b --engine-arg=--load-format=dummy --engine-arg=--max-model-len=4096
        --engine-arg=--max-num-batched-tokens=16384 --engine-arg=--max-num-seqs=256)
git rev-parse --short HEAD 2>/dev/null || true
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
run() {  # NAME ARGS...: one bench serve run, JSON to $OUT/NAME.json, log to $OUT/NAME.log
  local name=$1; shift
  local t0=$SECONDS
  timeout 115 python3 -m teecube.cli bench serve "${ENGINE[@]}" "$@" --max-concurrency 256 \
    --compare-offline --save-result --result-dir "$OUT" --result-filename "$name.json" \
    >"$OUT/$name.stdout" 2>"$OUT/$name.log"
  echo "== $name: rc=$? in $((SECONDS - t0)) s"
  python3 - "$OUT/$name.json" <<'PY' || tail -n 30 "$OUT/$name.log"
import json, sys
r = json.load(open(sys.argv[1]))
keep = ("output_throughput", "median_ttft_ms", "p99_ttft_ms", "median_tpot_ms", "p99_tpot_ms",
        "median_itl_ms", "p99_itl_ms", "completed", "failed")
print(json.dumps({"offline_output_tok_per_s": (r.get("offline") or {}).get("output_tok_per_s"),
                  "served": {k: r.get(k) for k in keep}, "serve_vs_offline": r.get("serve_vs_offline")}))
PY
}
run serve-offline-workload --dataset offline-workload --num-prompts 256
run serve-random-512 --dataset random --random-input-len 512 --random-output-len 512 --num-prompts 256 --ignore-eos
