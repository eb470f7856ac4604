#!/usr/bin/env bash
# Issue #16 on one H200: grammar rows overlapped with the step in flight.
# 1. tests/gpu/test_grammar_overlap_gpu.py (overlapped == synchronous loop, schema-valid; Triton mask).
# 2. bench structured, qwen3-0.6b shape, dummy weights, 256 prompts: tok/s with and without a JSON schema.
# 3. gpu/gram_profile.py: host ms per step of the grammar pieces (accept, fill, waits), schema vs none.
# Run from the repo root; writes $OUT/gram-test.log, $OUT/bench-structured.json, $OUT/gram-profile.json.
set -u
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
python3 -c "import xgrammar, torch, triton; print('xgrammar', xgrammar.__version__, 'torch', torch.__version__, 'triton', triton.__version__)" || true
t0=$SECONDS
timeout 120 python3 -m pytest -p no:cacheprovider -q -m gpu tests/gpu/test_grammar_overlap_gpu.py \
  >"$OUT/gram-test.log" 2>&1
echo "== test rc=$? in $((SECONDS - t0)) s"; tail -n 25 "$OUT/gram-test.log"
t0=$SECONDS
timeout 75 python3 -m teecube.cli bench structured --shape qwen3-0.6b --random-weights --num-prompts 256 \
  >"$OUT/bench-structured.json" 2>"$OUT/bench-structured.log"
echo "== bench rc=$? in $((SECONDS - t0)) s"; cat "$OUT/bench-structured.json"; tail -n 15 "$OUT/bench-structured.log"
t0=$SECONDS
timeout 60 python3 gpu/gram_profile.py --num-prompts 256 --output-len 128 \
  >"$OUT/gram-profile.json" 2>"$OUT/gram-profile.log"
echo "== profile rc=$? in $((SECONDS - t0)) s"; cat "$OUT/gram-profile.json"; tail -n 15 "$OUT/gram-profile.log"
