#!/usr/bin/env bash
# Session 5, H200 call 2 (repo root, .whl carried; under 9 minutes; files in $OUT):
# 1. gpu/fp8_attn_bench.py: decode attention over bf16 vs FP8 caches, old and new FP8 path  (#19)
# 2. the FP8 GPU tests (decode over an FP8 cache on both paths, the 256-code tile conversion)
# 3. bench throughput llama3-8b random weights: bf16, fp8, fp8 + fp8 KV in one JSON        (#19)
set -u
OUT=${OUT:-/tmp/s5fp8}; mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$SECONDS
timeout 120 python3 gpu/fp8_attn_bench.py >"$OUT/fp8_attn.stdout" 2>"$OUT/fp8_attn.log"
echo "== fp8 attention bench rc=$? in $((SECONDS - t0)) s"; cat "$OUT/fp8_attn.stdout" | head -c 6000; echo
t0=$SECONDS
timeout 90 python3 -m pytest tests/gpu/test_fp8_gpu.py -m gpu -q -p no:cacheprovider -rfE >"$OUT/fp8_tests.log" 2>&1
echo "== fp8 gpu tests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/fp8_tests.log")"
grep -E "^(FAILED|ERROR)" "$OUT/fp8_tests.log" | head
t0=$SECONDS
timeout 200 python3 -m teecube.cli bench throughput --shape llama3-8b --random-weights --skip-hf \
  --quantization fp8 --kv-cache-dtype fp8 --compare-bf16 --max-model-len 16384 --num-prompts 128 --profile \
  >"$OUT/bench-fp8.json" 2>"$OUT/bench-fp8.log"
echo "== bench fp8 rc=$? in $((SECONDS - t0)) s"
python3 - "$OUT/bench-fp8.json" <<'PY' || tail -n 30 "$OUT/bench-fp8.log"
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"summary": r["summary"], "targets": r["targets"]}, indent=1))
for name, run in r["runs"].items():
    prof = (run.get("profile") or {}).get("decode_steps") or {}
    print("profile", name, json.dumps({k: prof.get(k) for k in ("wall_ms_per_step", "ms_per_step")}))
PY
# 4. embeddings on CUDA through the main scheduler (core process, async scheduling)          (#16)
mkdir -p /tmp/hfsite
python3 -m pip install -q --no-deps --target /tmp/hfsite .whl/hf/*.whl >/dev/null 2>&1 || echo "hf wheels failed"
t0=$SECONDS
PYTHONPATH=/tmp/hfsite:$PYTHONPATH timeout 120 python3 -m pytest -p no:cacheprovider -q -rfE tests/engine_server/test_embeddings.py tests/engine/test_pooling_core.py >"$OUT/embed.log" 2>&1
echo "== embeddings on CUDA rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/embed.log")"
grep -E "^(FAILED|ERROR)" "$OUT/embed.log" | head
