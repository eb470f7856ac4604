#!/usr/bin/env bash
# Session 4: the tenant's text path on one H200: qwen3-0.6b shape as an HF directory with a word-level
# tokenizer (dummy weights), offline workload, 256 prompts at concurrency 256, engine core in its own
# process, direct and through the proxy (default guardrail policy: text prompts and answers are scanned).
set -u
OUT=${OUT:-/tmp/final_text}; mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name --format=csv,noheader
python3 -m engine.bench.shape_dir qwen3-0.6b /tmp/qwen3-text >/dev/null
t0=$SECONDS
timeout 200 python3 -m teecube.cli bench serve --model /tmp/qwen3-text --engine-arg=--load-format=dummy \
  --engine-arg=--max-model-len=4096 --engine-arg=--max-num-batched-tokens=16384 --engine-arg=--max-num-seqs=256 \
  --engine-arg=--engine-core-process=on --dataset offline-workload --num-prompts 256 --max-concurrency 256 \
  --start-proxy --save-result --result-dir "$OUT" --result-filename serve-text-proxy.json >"$OUT/serve.stdout" 2>"$OUT/serve.log"
echo "== serve rc=$? in $((SECONDS - t0)) s"
python3 -c "
import json,sys; r=json.load(open(sys.argv[1]))
k=('output_throughput','median_ttft_ms','p99_ttft_ms','median_tpot_ms','median_itl_ms','completed','failed')
print(json.dumps({'direct': {x: r.get(x) for x in k}, 'proxy': {x: (r.get('proxy') or {}).get(x) for x in k}, 'proxy_vs_direct': r.get('proxy_vs_direct')}))
" "$OUT/serve-text-proxy.json" || tail -n 30 "$OUT/serve.log"
