#!/usr/bin/env bash
# Session 6, one H200 (#16): accepts and fills on the grammar thread's workers (advance_and_fill) vs the
# session-5 path (TEECUBE_GRAMMAR_ADVANCE=0: accepts on the launching thread), same invocation.
# 1. tests/gpu/test_grammar_overlap_gpu.py                                  -> $OUT/gram-test.log
# 2. bench structured, qwen3-0.6b random weights, 256 prompts: advance, old path, advance again
# 3. grammar_loop (host only) both paths                                     -> $OUT/grammar-loop-*.json
# 4. optional: $EXTRA_CMD (another script) with the time left
set -u
OUT=${OUT:-out}; mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
git rev-parse --short HEAD 2>/dev/null || true
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$SECONDS
timeout 150 python3 -m pytest -p no:cacheprovider -q -m gpu tests/gpu/test_grammar_overlap_gpu.py >"$OUT/gram-test.log" 2>&1
echo "== test rc=$? in $((SECONDS - t0)) s"; tail -n 3 "$OUT/gram-test.log"
BENCH=(python3 -m teecube.cli bench structured --shape qwen3-0.6b --random-weights --num-prompts 256)
brief() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['no_schema']['output_tok_per_s'], d['json_schema']['output_tok_per_s'], d['overhead'])" "$1"; }
for mode in advance old advance2; do
  t0=$SECONDS
  adv=1; [[ $mode == old ]] && adv=0
  TEECUBE_GRAMMAR_ADVANCE=$adv timeout 110 "${BENCH[@]}" >"$OUT/bench-structured-$mode.json" 2>"$OUT/bench-structured-$mode.log"
  echo "== bench $mode rc=$? in $((SECONDS - t0)) s"; brief "$OUT/bench-structured-$mode.json" || tail -n 5 "$OUT/bench-structured-$mode.log"
done
t0=$SECONDS
timeout 60 python3 -m engine.bench.grammar_loop --steps 48 >"$OUT/grammar-loop-advance.json" 2>"$OUT/grammar-loop.log"
timeout 60 python3 -m engine.bench.grammar_loop --steps 48 --no-advance >"$OUT/grammar-loop-old.json" 2>>"$OUT/grammar-loop.log"
echo "== grammar_loop rc=$? in $((SECONDS - t0)) s"
for m in advance old; do python3 -c "import json,sys; d=json.load(open(sys.argv[1])); c=d['json_schema']; print(sys.argv[2], c['host_ms_per_step'], c['fill_thread_ms_per_step'], c['hidden_ms'], c['exposed_ms'], d['predicted'])" "$OUT/grammar-loop-$m.json" $m; done
if [[ -n "${EXTRA_CMD:-}" ]]; then bash -c "$EXTRA_CMD"; fi
