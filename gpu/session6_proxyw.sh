#!/usr/bin/env bash
# Session 6, one H200 (#13): the proxy with 1, 4 and 8 worker processes (proxy --workers) against the
# engine served with --load-format dummy (qwen3-0.6b text path, offline workload, 256 at once), direct and
# through the proxy in each invocation. Files in $OUT.
set -u
OUT=${OUT:-/tmp/s6w}; mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name --format=csv,noheader
python3 -m engine.bench.shape_dir qwen3-0.6b /tmp/qwen3-text >/dev/null
ENGINE=(--model /tmp/qwen3-text --engine-arg=--load-format=dummy --engine-arg=--max-model-len=4096
        --engine-arg=--max-num-batched-tokens=16384 --engine-arg=--max-num-seqs=256
        --engine-arg=--engine-core-process=on --dataset offline-workload --num-prompts 256 --max-concurrency 256)
summary() {
python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
k = ("output_throughput", "median_ttft_ms", "p99_ttft_ms", "median_tpot_ms")
pvd = r.get("proxy_vs_direct") or {}
print(json.dumps({"direct": {x: r.get(x) for x in k}, "proxy": {x: (r.get("proxy") or {}).get(x) for x in k},
                  "proxy_vs_direct": {x: pvd.get(x) for x in ("output_throughput", "median_ttft_ms", "p99_ttft_ms")}}))
PY
}
for w in ${WORKERS:-4 1 8 4}; do
  t0=$SECONDS
  timeout 130 python3 -m teecube.cli bench serve "${ENGINE[@]}" --start-proxy --proxy-arg=--workers=$w --save-result \
    --result-dir "$OUT" --result-filename "serve-w$w-$t0.json" >"$OUT/serve-w$w-$t0.stdout" 2>"$OUT/serve-w$w-$t0.log"
  echo "== workers=$w rc=$? in $((SECONDS - t0)) s"; summary "$OUT/serve-w$w-$t0.json" || tail -n 20 "$OUT/serve-w$w-$t0.log"
  (( SECONDS > 420 )) && break
done
