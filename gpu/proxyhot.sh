#!/usr/bin/env bash
# Issue #13, proxy throughput: the same served workload straight to the engine and through
# `teecube proxy` (default guardrail policy) on one H200, qwen3-0.6b shape with dummy weights
# (token-id answers: the output guard sees no text). One JSON: $OUT/serve-proxy-random-512.json.
# Read `proxy_vs_direct`: output_throughput target >= 0.95, median_ttft_ms ratio target <= 1.1.
set -u
OUT=${OUT:-out}
export PYTHONPATH=/tmp/site:$PWD
mkdir -p "$OUT"
git rev-parse --short HEAD 2>/dev/null || true
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
t0=$SECONDS
timeout 220 python3 -m teecube.cli bench serve --model qwen3-0.6b --engine-arg=--load-format=dummy \
  --engine-arg=--max-model-len=4096 --engine-arg=--max-num-batched-tokens=16384 \
  --engine-arg=--max-num-seqs=256 --dataset random --random-input-len 512 --random-output-len 512 \
  --random-range-ratio 0 --num-prompts 256 --ignore-eos --max-concurrency 256 --start-proxy \
  --save-result --result-dir "$OUT" --result-filename serve-proxy-random-512.json \
  >"$OUT/serve-proxy.stdout" 2>"$OUT/serve-proxy.log"
echo "== serve-proxy: rc=$? in $((SECONDS - t0)) s"
python3 - "$OUT/serve-proxy-random-512.json" <<'PY' || tail -n 30 "$OUT/serve-proxy.log"
import json, sys
r = json.load(open(sys.argv[1]))
keep = ("output_throughput", "median_ttft_ms", "p99_ttft_ms", "median_itl_ms", "completed", "failed")
print(json.dumps({"direct": {k: r.get(k) for k in keep},
                  "proxy": {k: (r.get("proxy") or {}).get(k) for k in keep},
                  "proxy_vs_direct": r.get("proxy_vs_direct")}))
PY
