#!/usr/bin/env bash
# Issue #16 on one H200, after the grammar loop changes (branch grammar):
# 1. tests/gpu/test_grammar_overlap_gpu.py: overlapped == synchronous loop (fill thread, side-stream mask
#    copy, CUDA graphs on/off), Triton mask == unpacking                         -> $OUT/gram-test.log
# 2. bench structured, qwen3-0.6b, random weights, 256 prompts (engine defaults) -> $OUT/bench-structured.json
# 3. engine/bench/grammar_loop.py on this host's 16 CPUs (no GPU used): per-phase host ms per step,
#    wall and CPU clocks                                              -> $OUT/grammar-loop{,-cpu}.json
# 4. time left: bench structured with TEECUBE_GRAMMAR_THREADS=8        -> $OUT/bench-structured-8threads.json
#    and with TEECUBE_GRAMMAR_ACCEPT_THREADS=1 (accepts not split)    -> $OUT/bench-structured-accept1.json
# Needs xgrammar 0.2.9 and jsonschema importable (PYTHONPATH=/tmp/site on a bare device machine). At most 10 min.
set -u
OUT=${OUT:-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
git rev-parse --short HEAD 2>/dev/null || true
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
t0=$SECONDS
timeout 150 python3 -m pytest -p no:cacheprovider -q -m gpu tests/gpu/test_grammar_overlap_gpu.py >"$OUT/gram-test.log" 2>&1
echo "== test rc=$? in $((SECONDS - t0)) s"; tail -n 5 "$OUT/gram-test.log"
BENCH=(python3 -m teecube.cli bench structured --shape qwen3-0.6b --random-weights --num-prompts 256)
t0=$SECONDS
timeout 100 "${BENCH[@]}" >"$OUT/bench-structured.json" 2>"$OUT/bench-structured.log"
echo "== bench rc=$? in $((SECONDS - t0)) s"; cat "$OUT/bench-structured.json"; tail -n 5 "$OUT/bench-structured.log"
t0=$SECONDS
timeout 60 python3 -m engine.bench.grammar_loop --steps 48 >"$OUT/grammar-loop.json" 2>"$OUT/grammar-loop.log"
timeout 60 python3 -m engine.bench.grammar_loop --steps 48 --clock cpu >"$OUT/grammar-loop-cpu.json" 2>>"$OUT/grammar-loop.log"
echo "== grammar_loop rc=$? in $((SECONDS - t0)) s"; cat "$OUT/grammar-loop.json"; tail -n 5 "$OUT/grammar-loop.log"
if (( SECONDS < 330 )); then
  TEECUBE_GRAMMAR_THREADS=8 timeout 90 "${BENCH[@]}" >"$OUT/bench-structured-8threads.json" 2>/dev/null
  echo "== bench (8 fill threads) rc=$?"; cat "$OUT/bench-structured-8threads.json"
fi
if (( SECONDS < 330 )); then
  TEECUBE_GRAMMAR_ACCEPT_THREADS=1 timeout 90 "${BENCH[@]}" >"$OUT/bench-structured-accept1.json" 2>/dev/null
  echo "== bench (accepts on one thread) rc=$?"; cat "$OUT/bench-structured-accept1.json"
fi
