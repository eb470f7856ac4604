#!/usr/bin/env bash
# Session 5, H200 call 1 (repo root, .whl carried; under 9 minutes; files in $OUT):
# 1. bench serve, qwen3-0.6b dummy weights with a word-level tokenizer (text prompts), offline workload,
#    256 prompts at concurrency 256, engine core in its own process, --start-proxy with the default
#    guard scan pool, then the same with --guard-scan-workers=0 (scans on the event loop)  (#13)
# 2. embeddings on CUDA through the main scheduler (core process, async scheduling)     (#16)
set -u
OUT=${OUT:-/tmp/s5}; mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
mkdir -p /tmp/hfsite
python3 -m pip install -q --no-deps --target /tmp/hfsite .whl/hf/*.whl >/dev/null 2>&1 || echo "hf wheels failed"
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
nproc | tee "$OUT/nproc.txt"
python3 -m engine.bench.shape_dir qwen3-0.6b /tmp/qwen3-text >/dev/null
ENGINE=(--model /tmp/qwen3-text --engine-arg=--load-format=dummy --engine-arg=--max-model-len=4096
        --engine-arg=--max-num-batched-tokens=16384 --engine-arg=--max-num-seqs=256
        --engine-arg=--engine-core-process=on --dataset offline-workload --num-prompts 256 --max-concurrency 256)
summary() {
python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
k = ("output_throughput", "median_ttft_ms", "p99_ttft_ms", "median_tpot_ms", "median_itl_ms", "completed", "failed")
pvd = r.get("proxy_vs_direct") or {}
print(json.dumps({"offline": (r.get("offline") or {}).get("output_tok_per_s"), "serve_vs_offline": (r.get("serve_vs_offline") or {}).get("output_throughput"),
                  "direct": {x: r.get(x) for x in k}, "proxy": {x: (r.get("proxy") or {}).get(x) for x in k},
                  "proxy_vs_direct": {x: pvd.get(x) for x in ("output_throughput", "median_ttft_ms", "p99_ttft_ms", "median_second_token_ms")}}))
PY
}
t0=$SECONDS
timeout 230 python3 -m teecube.cli bench serve "${ENGINE[@]}" --compare-offline --start-proxy \
  --save-result --result-dir "$OUT" --result-filename serve-text-proxy-pool.json >"$OUT/serve-pool.stdout" 2>"$OUT/serve-pool.log"
echo "== serve (scan pool) rc=$? in $((SECONDS - t0)) s"; summary "$OUT/serve-text-proxy-pool.json" || tail -n 30 "$OUT/serve-pool.log"
t0=$SECONDS
timeout 170 python3 -m teecube.cli bench serve "${ENGINE[@]}" --start-proxy --proxy-arg=--guard-scan-workers=0 \
  --save-result --result-dir "$OUT" --result-filename serve-text-proxy-inline.json >"$OUT/serve-inline.stdout" 2>"$OUT/serve-inline.log"
echo "== serve (inline scans) rc=$? in $((SECONDS - t0)) s"; summary "$OUT/serve-text-proxy-inline.json" || tail -n 30 "$OUT/serve-inline.log"
t0=$SECONDS
timeout 120 python3 -m pytest -p no:cacheprovider -q -rfE tests/engine_server/test_embeddings.py tests/engine/test_pooling_core.py >"$OUT/embed.log" 2>&1
echo "== embeddings on CUDA rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/embed.log")"
grep -h -E "^(FAILED|ERROR)" "$OUT"/*.log | head -20
