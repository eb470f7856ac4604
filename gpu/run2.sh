#!/usr/bin/env bash
# Session 4, call 2: per-step profile at decode batch sizes; #21 parity with the pinned HF oracle; the FP8 GEMM bound.
set -u
OUT=${OUT:-/tmp/run2}; mkdir -p "$OUT/r"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl .whl/hf/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python3 -c "import transformers; print('transformers', transformers.__version__)"
timeout 150 python3 gpu/step_profile.py qwen3-0.6b > "$OUT/r/step_profile.jsonl" 2> "$OUT/r/step_profile.log"; echo "profile rc=$?"
python3 -c "
import json,sys
for l in open('$OUT/r/step_profile.jsonl'):
    r=json.loads(l)
    if 'batch' in r: print(r['batch'], r['wall_ms_per_step'], r['gpu_busy_ms_per_step'], r['launches_per_step'], r['kernels'][:8])
" || tail -20 "$OUT/r/step_profile.log"
timeout 100 python3 -m pytest -p no:cacheprovider -q -rfE -m gpu tests/gpu/test_moe_gpu.py -k "greedy" > "$OUT/r/moe.log" 2>&1; echo "moe rc=$? $(tail -n1 $OUT/r/moe.log)"
timeout 60 python3 -m pytest -p no:cacheprovider -q -rfE -m gpu tests/gpu/test_fp8_gpu.py -k scaled_mm > "$OUT/r/fp8.log" 2>&1; echo "fp8 rc=$? $(tail -n1 $OUT/r/fp8.log)"
grep -E "^(FAILED|E  )" "$OUT"/r/*.log | head -20
tar czf "$OUT/run2.tgz" -C "$OUT" r && rm -rf "$OUT/r"
