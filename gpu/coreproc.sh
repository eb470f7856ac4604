#!/usr/bin/env bash
# Issue #13: served vs offline output tok/s on one H200 with the engine core in its own process (on)
# and in a thread of the server (off). qwen3-0.6b shape, dummy weights, PERFORMANCE.md's offline
# workload, 256 prompts, concurrency 256, --compare-offline (the offline engine first, in a child).
# Run from the repo root; writes $OUT/serve-core-{on,off}.json (bench serve's JSON), their logs, and
# prints one summary line each: serve_vs_offline.output_throughput is the ratio (target 0.9). Then,
# time permitting, tests/gpu/test_engine_gpu.py -k async_engine ($OUT/coreproc-test.log).
set -u
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
ENGINE=(--model qwen3-0.6b --engine-arg=--load-format=dummy --engine-arg=--max-model-len=4096
        --engine-arg=--max-num-batched-tokens=16384 --engine-arg=--max-num-seqs=256)
git rev-parse --short HEAD 2>/dev/null || true
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
run() {  # MODE: one bench serve run with --engine-core-process=MODE
  local name=serve-core-$1
  local t0=$SECONDS
  timeout 140 python3 -m teecube.cli bench serve "${ENGINE[@]}" --engine-arg=--engine-core-process="$1" \
    --dataset offline-workload --num-prompts 256 --max-concurrency 256 --compare-offline \
    --save-result --result-dir "$OUT" --result-filename "$name.json" >"$OUT/$name.stdout" 2>"$OUT/$name.log"
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
run on
run off
# 3. if time is left: the AsyncEngine GPU test (core process and thread, streamed == offline)
if (( SECONDS < 220 )); then
  timeout $((280 - SECONDS)) python3 -m pytest -p no:cacheprovider -q -m gpu tests/gpu/test_engine_gpu.py \
    -k async_engine >"$OUT/coreproc-test.log" 2>&1
  echo "== gpu test rc=$?"; tail -n 5 "$OUT/coreproc-test.log"
fi
