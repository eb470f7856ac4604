#!/usr/bin/env bash
# Session 6, one H200 (#16), second round: which way of running a step's accepts and fills keeps the host
# under the forward. grammar_loop (host only, 256 rows, qwen3 vocab) per mode, then bench structured for
# the old path and two hybrid settings. Files in $OUT.
set -u
OUT=${OUT:-out}; mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name --format=csv,noheader
loop() {  # name, env..., -- args
  local name=$1; shift
  env "$@" timeout 40 python3 -m engine.bench.grammar_loop --steps 32 >"$OUT/loop-$name.json" 2>>"$OUT/loop.log"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); c=d['json_schema']; print(sys.argv[2], 'host', c['host_ms_per_step'], 'grammar-thread', c['fill_thread_ms_per_step'], 'hidden', c['hidden_ms'], 'accept_wait', c['phases_ms_per_step'].get('accept_bookkeeping'), 'prepare', c['phases_ms_per_step'].get('prepare'), 'overhead', d['predicted'].get('overhead'))" "$OUT/loop-$name.json" "$name" || echo "$name failed"
}
loop old TEECUBE_GRAMMAR_ADVANCE=0
loop hybrid-a1 TEECUBE_GRAMMAR_STEP_MODE=hybrid TEECUBE_GRAMMAR_ACCEPT_THREADS=1
loop hybrid-a4 TEECUBE_GRAMMAR_STEP_MODE=hybrid TEECUBE_GRAMMAR_ACCEPT_THREADS=4
loop hybrid-a8 TEECUBE_GRAMMAR_STEP_MODE=hybrid TEECUBE_GRAMMAR_ACCEPT_THREADS=8
loop hybrid-a4-t12 TEECUBE_GRAMMAR_STEP_MODE=hybrid TEECUBE_GRAMMAR_ACCEPT_THREADS=4 TEECUBE_GRAMMAR_THREADS=12
loop chunks-static TEECUBE_GRAMMAR_STEP_MODE=chunks TEECUBE_GRAMMAR_STEP_CHUNK=0
loop chunks-static-t8 TEECUBE_GRAMMAR_STEP_MODE=chunks TEECUBE_GRAMMAR_STEP_CHUNK=0 TEECUBE_GRAMMAR_THREADS=8
loop chunks-16 TEECUBE_GRAMMAR_STEP_MODE=chunks TEECUBE_GRAMMAR_STEP_CHUNK=16
BENCH=(python3 -m teecube.cli bench structured --shape qwen3-0.6b --random-weights --num-prompts 256)
brief() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['no_schema']['output_tok_per_s'], d['json_schema']['output_tok_per_s'], d['overhead'])" "$1"; }
for mode in old hybrid-a1 hybrid-a4 old2; do
  t0=$SECONDS
  case $mode in old*) e=(TEECUBE_GRAMMAR_ADVANCE=0);; hybrid-a1) e=(TEECUBE_GRAMMAR_ACCEPT_THREADS=1);; *) e=(TEECUBE_GRAMMAR_ACCEPT_THREADS=4);; esac
  env "${e[@]}" timeout 90 "${BENCH[@]}" >"$OUT/bench-structured-$mode.json" 2>"$OUT/bench-structured-$mode.log"
  echo "== bench $mode rc=$? in $((SECONDS - t0)) s"; brief "$OUT/bench-structured-$mode.json" || tail -n 5 "$OUT/bench-structured-$mode.log"
  (( SECONDS > 480 )) && break
done
