#!/usr/bin/env bash
# Session 6, one H200: the FP8 GPU tests with the pipelined FP8-KV decode variant as the CUDA default (#19),
# then the proxy with 8 workers and with 4 workers without guard scan processes (#13). Few files in $OUT.
set -u
OUT=${OUT:-/tmp/s6z}; mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$SECONDS
timeout 150 python3 -m pytest tests/gpu/test_fp8_gpu.py tests/gpu/test_fp8_gemm_gpu.py -m gpu -q -p no:cacheprovider -rfE -x >"$OUT/fp8-tests.log" 2>&1
echo "== fp8 gpu tests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/fp8-tests.log")"; grep -E "^(FAILED|ERROR)" "$OUT/fp8-tests.log" | head
grep -E "top1|cosine|agree" "$OUT/fp8-tests.log" | head -5
python3 -m engine.bench.shape_dir qwen3-0.6b /tmp/qwen3-text >/dev/null
ENGINE=(--model /tmp/qwen3-text --engine-arg=--load-format=dummy --engine-arg=--max-model-len=4096
        --engine-arg=--max-num-batched-tokens=16384 --engine-arg=--max-num-seqs=256
        --engine-arg=--engine-core-process=on --dataset offline-workload --num-prompts 256 --max-concurrency 256)
for mode in w8 w4-scan0; do
  case $mode in w8) extra=(--proxy-arg=--workers=8);; *) extra=(--proxy-arg=--workers=4 --proxy-arg=--guard-scan-workers=0);; esac
  t0=$SECONDS
  timeout 120 python3 -m teecube.cli bench serve "${ENGINE[@]}" --start-proxy "${extra[@]}" --save-result \
    --result-dir "$OUT" --result-filename "serve-$mode.json" >/dev/null 2>"$OUT/serve-$mode.log"
  echo "== $mode rc=$? in $((SECONDS - t0)) s"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); p=r.get('proxy') or {}; print(json.dumps({'direct': [r.get('output_throughput'), r.get('median_ttft_ms')], 'proxy': [p.get('output_throughput'), p.get('median_ttft_ms')], 'ratio': r.get('proxy_vs_direct')}))" "$OUT/serve-$mode.json" || tail -n 5 "$OUT/serve-$mode.log"
done
