#!/usr/bin/env bash
# Session 5, H200: the FP8 skinny GEMM on by default (shipped sm_90/132-SM table, no env): whole-model FP8
# vs bf16, then the FP8 GPU tests with the default routing. Files in $OUT.
set -u
OUT=${OUT:-/tmp/s5d}; mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$SECONDS
timeout 130 python3 -m teecube.cli bench throughput --shape llama3-8b --random-weights --skip-hf --quantization fp8 \
  --compare-bf16 --max-model-len 16384 --num-prompts 128 >"$OUT/bench-fp8-default.json" 2>"$OUT/bench.log"
echo "== bench rc=$? in $((SECONDS - t0)) s"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(r['targets']), {k: v['output_tok_per_s'] for k, v in r['summary'].items()})" "$OUT/bench-fp8-default.json" || tail -n 20 "$OUT/bench.log"
t0=$SECONDS
timeout 100 python3 -m pytest tests/gpu/test_fp8_gpu.py tests/gpu/test_fp8_gemm_gpu.py -m gpu -q -p no:cacheprovider -rfE >"$OUT/tests.log" 2>&1
echo "== fp8 gpu tests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/tests.log")"; grep -E "^(FAILED|ERROR)" "$OUT/tests.log" | head
