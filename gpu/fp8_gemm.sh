#!/usr/bin/env bash
# Issue #19, the skinny-M FP8 GEMM on one H200 (repo root; under 9 minutes; files in $OUT):
# 1. gpu/fp8_gemm_bench.py: _scaled_mm vs the Triton kernel at llama3-8b's linears, M 64/128/256, with a
#    sweep of tilings around the default -> $OUT/fp8_gemm_bench.json
# 2. bench throughput llama3-8b (random weights), FP8 with TEECUBE_FP8_SKINNY_GEMM=1 against bf16, the
#    tilings from step 1's "tuned" list (TEECUBE_FP8_SKINNY_TUNED; the defaults where step 1 failed)
#    -> $OUT/bench-skinny.json (the lead's baseline without the switch: 1.189x)
# 3. tests/gpu/test_fp8_gemm_gpu.py: the kernel against _scaled_mm and the fp32 reference, CUDA graphs
set -u
export OUT=${OUT:-out}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH="/tmp/site:$PYTHONPATH"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
t0=$SECONDS
timeout 90 python3 gpu/fp8_gemm_bench.py >"$OUT/fp8_gemm_bench.stdout" 2>"$OUT/fp8_gemm_bench.log"
echo "== gemm bench rc=$? in $((SECONDS - t0)) s"
python3 - "$OUT/fp8_gemm_bench.json" <<'PY' || tail -n 30 "$OUT/fp8_gemm_bench.log"
import json, sys
r = json.load(open(sys.argv[1]))
for m in ("M64", "M128", "M256"):
    for name, v in r.get(m, {}).items():
        keys = ("scaled_mm_us", "skinny_us", "best_us", "scaled_mm_tb_s", "skinny_tb_s", "best_tb_s", "speedup",
                "max_abs_err", "max_rel_err", "config", "best_variant")
        print(m, name, json.dumps({k: v.get(k) for k in keys} if "config" in v else v))
PY
TUNED="$(realpath "$OUT")/fp8_gemm_bench.json"
[ -s "$TUNED" ] && python3 -c "import json,sys; json.load(open(sys.argv[1]))['tuned']" "$TUNED" || TUNED=
echo "== tuned table: ${TUNED:-none (default tilings)}"
[ -n "$TUNED" ] && python3 -c "import json,sys; [print('tuned', json.dumps(e)) for e in json.load(open(sys.argv[1]))['tuned']]" "$TUNED"
t0=$SECONDS
TEECUBE_FP8_SKINNY_GEMM=1 TEECUBE_FP8_SKINNY_TUNED=$TUNED timeout 200 python3 -m teecube.cli bench throughput --shape llama3-8b --random-weights \
  --skip-hf --quantization fp8 --kv-cache-dtype fp8 --compare-bf16 --max-model-len 16384 --num-prompts 128 --profile \
  >"$OUT/bench-skinny.json" 2>"$OUT/bench-skinny.log"
echo "== bench fp8 skinny rc=$? in $((SECONDS - t0)) s"
python3 - "$OUT/bench-skinny.json" <<'PY' || tail -n 30 "$OUT/bench-skinny.log"
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"summary": r["summary"], "targets": r["targets"]}, indent=1))
PY
python3 - "$OUT/bench-skinny.json" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
for name, run in r["runs"].items():  # where a decode step's time goes, per run
    prof = (run.get("profile") or {}).get("decode_steps") or {}
    print("profile", name, json.dumps(prof)[:2000])
PY
t0=$SECONDS
timeout 100 python3 -m pytest tests/gpu/test_fp8_gemm_gpu.py -m gpu -q -p no:cacheprovider -rfE >"$OUT/gemm_tests.log" 2>&1
echo "== gemm gpu tests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/gemm_tests.log")"
grep -E "^(FAILED|ERROR)" "$OUT/gemm_tests.log" | head -20
