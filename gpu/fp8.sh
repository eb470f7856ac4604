#!/usr/bin/env bash
# Issue #19, FP8 speed on one H200 (run from the repo root, under 4 minutes; files in $OUT):
# 1. gpu/fp8_micro.py: one llama3-8b decoder's linears at M=256 / 4096 (bf16 vs FP8 path vs _scaled_mm
#    alone, fast vs slow accumulation), fused norm/SiLU quantizers, decode attention over bf16 / FP8
#    caches -> $OUT/fp8_micro.json
# 2. bench throughput llama3-8b (random weights): bf16, fp8, fp8+kv-fp8 in one JSON, each with a
#    torch.profiler breakdown of a few decode steps -> $OUT/bench.json
# 3. tests/gpu/test_fp8_gpu.py (-v, so a timeout still leaves each finished test's result)
set -u
export OUT=${OUT:-out}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # gpu/fp8_micro.py imports engine from this tree
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"

t0=$SECONDS
timeout 80 python3 gpu/fp8_micro.py >"$OUT/fp8_micro.stdout" 2>"$OUT/fp8_micro.log"
echo "== micro: rc=$? in $((SECONDS - t0)) s"
python3 - "$OUT/fp8_micro.json" <<'PY' || tail -n 30 "$OUT/fp8_micro.log"
import json, sys
r = json.load(open(sys.argv[1]))
for m in ("M256", "M4096"):
    if m not in r:
        continue
    print(m, "layer", json.dumps(r[m]["layer"]))
    for name, v in r[m]["linears"].items():
        keys = ("bf16", "fp8_path", "quant", "mm_fast_accum", "mm_slow_accum", "mm_tensorwise_fast", "speedup_path")
        print(m, name, json.dumps({k: v.get(k) for k in keys}))
    print(m, "elementwise", json.dumps(r[m]["elementwise"]))
print("decode_attention", json.dumps(r.get("decode_attention")))
print("extend_attention", json.dumps(r.get("extend_attention")))
PY

t0=$SECONDS
timeout 130 python3 -m teecube.cli bench throughput --shape llama3-8b --random-weights --skip-hf \
  --quantization fp8 --kv-cache-dtype fp8 --compare-bf16 --max-model-len 16384 --num-prompts 128 --profile \
  >"$OUT/bench.json" 2>"$OUT/bench.log"
echo "== bench: rc=$? in $((SECONDS - t0)) s"
python3 - "$OUT/bench.json" <<'PY' || { grep '"partial"' "$OUT/bench.log"; tail -n 30 "$OUT/bench.log"; }
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"summary": r["summary"], "targets": r["targets"]}, indent=1))
for name, run in r["runs"].items():  # where a decode step's time goes, per run
    prof = (run.get("profile") or {}).get("decode_steps") or {}
    print("profile", name, json.dumps(prof)[:3000])
PY

left=$((235 - SECONDS))
t0=$SECONDS
timeout "$((left > 15 ? left : 15))" python3 -m pytest tests/gpu/test_fp8_gpu.py -m gpu -v -s -p no:cacheprovider \
  >"$OUT/gpu_tests.log" 2>&1
echo "== gpu tests: rc=$? in $((SECONDS - t0)) s"
grep -E "PASSED|FAILED|ERROR|SKIPPED|FP8_ACCURACY|passed|failed" "$OUT/gpu_tests.log" | tail -n 60
grep -A 25 "^___" "$OUT/gpu_tests.log" | head -n 80
