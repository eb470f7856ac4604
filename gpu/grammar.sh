#!/usr/bin/env bash
# Issue #16 on one H200: structured-output overhead and where the grammar's host time goes.
# 1. bench structured, qwen3-0.6b shape, random weights, 256 prompts: tok/s without and with a JSON schema
#    (the engine's fill threads: every CPU of the process) -> $OUT/bench-structured.json
# 2. engine/bench/grammar_host.py on CUDA: host ms per step (accept, buffer, fill, copy+apply) for 256 rows
#    over a 151,936-token vocabulary, fill threads: engine default / xgrammar "auto" / 8 / 4
#    -> $OUT/grammar-host.json
# 3. time left: bench structured again with TEECUBE_GRAMMAR_THREADS=8 -> $OUT/bench-structured-8threads.json
# Run from the repo root; under 4 minutes. Needs torch, triton, xgrammar 0.2.9 and jsonschema importable
# (PYTHONPATH=/tmp/site): a bare device machine has neither xgrammar nor jsonschema.
set -u
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
git rev-parse --short HEAD 2>/dev/null || true
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
python3 -c "import os, torch, xgrammar; print('cpus', len(os.sched_getaffinity(0)), 'torch', torch.__version__)" || true
BENCH=(python3 -m teecube.cli bench structured --shape qwen3-0.6b --random-weights --num-prompts 256)
t0=$SECONDS
timeout 100 "${BENCH[@]}" >"$OUT/bench-structured.json" 2>"$OUT/bench-structured.log"
echo "== bench rc=$? in $((SECONDS - t0)) s"; cat "$OUT/bench-structured.json"; tail -n 5 "$OUT/bench-structured.log"
t0=$SECONDS
timeout 70 python3 -m engine.bench.grammar_host --device cuda --steps 32 --threads default auto 8 4 \
  >"$OUT/grammar-host.json" 2>"$OUT/grammar-host.log"
echo "== grammar_host rc=$? in $((SECONDS - t0)) s"; cat "$OUT/grammar-host.json"; tail -n 5 "$OUT/grammar-host.log"
if (( SECONDS < 140 )); then
  t0=$SECONDS
  TEECUBE_GRAMMAR_THREADS=8 timeout 90 "${BENCH[@]}" >"$OUT/bench-structured-8threads.json" \
    2>"$OUT/bench-structured-8threads.log"
  echo "== bench (8 threads) rc=$? in $((SECONDS - t0)) s"; cat "$OUT/bench-structured-8threads.json"
fi
