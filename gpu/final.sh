#!/usr/bin/env bash
# Session 4, last H200 call (from the repo root, wheels in .whl carried; under 9 minutes):
# 1. bench serve, qwen3-0.6b dummy, offline workload, 256 prompts at concurrency 256, engine core in its
#    own process, --compare-offline --start-proxy -> serve-core-on-proxy.json          (#13)
# 2. bench structured, qwen3-0.6b random weights, 256 prompts -> bench-structured.json  (#16)
# 3. bench throughput qwen3-0.6b --profile -> throughput-qwen3.json                     (#13)
# 4. GPU tests: MoE/Gemma/Phi parity against the pinned HF oracle (#21), the core-process AsyncEngine test
set -u
OUT=${OUT:-/tmp/final}; R=$OUT/r; mkdir -p "$R"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
mkdir -p /tmp/hfsite
python3 -m pip install -q --no-deps --target /tmp/hfsite .whl/hf/*.whl >/dev/null 2>&1 || echo "hf wheels failed"
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$R/gpu.txt"
ENGINE=(--model qwen3-0.6b --engine-arg=--load-format=dummy --engine-arg=--max-model-len=4096
        --engine-arg=--max-num-batched-tokens=16384 --engine-arg=--max-num-seqs=256)
t0=$SECONDS
timeout 220 python3 -m teecube.cli bench serve "${ENGINE[@]}" --engine-arg=--engine-core-process=on \
  --dataset offline-workload --num-prompts 256 --max-concurrency 256 --compare-offline --start-proxy \
  --save-result --result-dir "$R" --result-filename serve-core-on-proxy.json >"$R/serve.stdout" 2>"$R/serve.log"
echo "== serve rc=$? in $((SECONDS - t0)) s"
python3 - "$R/serve-core-on-proxy.json" <<'PY' || tail -n 20 "$R/serve.log"
import json, sys
r = json.load(open(sys.argv[1]))
keep = ("output_throughput", "median_ttft_ms", "p99_ttft_ms", "median_tpot_ms", "median_itl_ms", "completed", "failed")
print(json.dumps({"offline": (r.get("offline") or {}).get("output_tok_per_s"), "direct": {k: r.get(k) for k in keep},
                  "serve_vs_offline": r.get("serve_vs_offline"), "proxy_vs_direct": r.get("proxy_vs_direct"),
                  "proxy": {k: (r.get("proxy") or {}).get(k) for k in keep}}))
PY
t0=$SECONDS
timeout 110 python3 -m teecube.cli bench structured --shape qwen3-0.6b --random-weights --num-prompts 256 \
  >"$R/bench-structured.json" 2>"$R/bench-structured.log"
echo "== structured rc=$? in $((SECONDS - t0)) s"; head -c 1500 "$R/bench-structured.json"; echo; tail -n 3 "$R/bench-structured.log"
t0=$SECONDS
timeout 90 python3 -m teecube.cli bench throughput --shape qwen3-0.6b --random-weights --skip-hf --profile \
  >"$R/throughput-qwen3.json" 2>"$R/throughput-qwen3.log"
echo "== throughput rc=$? in $((SECONDS - t0)) s"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['engine']['output_tok_per_s'], r['roofline']['output_tok_per_s'], r['fraction_of_roofline']); p=r.get('profile') or {}; print(json.dumps({k: (p.get(k) or {}).get('ms_per_step') for k in ('first_steps','decode_steps')}))" "$R/throughput-qwen3.json" || tail -n 5 "$R/throughput-qwen3.log"
t0=$SECONDS
PYTHONPATH=/tmp/hfsite:$PYTHONPATH timeout 80 python3 -m pytest -p no:cacheprovider -q -rfE -m gpu tests/gpu/test_moe_gpu.py -k greedy >"$R/moe.log" 2>&1
echo "== moe parity rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$R/moe.log")"
timeout 60 python3 -m pytest -p no:cacheprovider -q -rfE -m gpu tests/gpu/test_engine_gpu.py -k async_engine >"$R/async.log" 2>&1
echo "== async engine rc=$?: $(tail -n 1 "$R/async.log")"
grep -h -E "^(FAILED|ERROR)" "$R"/*.log | head -20
tar czf "$OUT/final.tgz" -C "$OUT" r && rm -rf "$R"
