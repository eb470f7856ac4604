#!/usr/bin/env bash
# Session 8, one H200 (#13): GPU tests of the fused q/k-norm + rotary + KV-store kernel and the one-split
# decode path, the bf16 decode-attention sweep (gpu/decode_sweep.py), and the offline bench of this tree
# against the previous commit's engine (carried in base/: PYTHONPATH puts it first). STAGES picks what runs.
set -u
OUT=${OUT:-/tmp/s8}
. gpu/lib.sh
STAGES=${STAGES:-"tests sweep base new"}
summary() {  # one line per bench JSON: throughput, roofline fraction, profile decode-step split
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = (r.get("profile") or {}).get("decode_steps") or {}
first = (r.get("profile") or {}).get("first_steps") or {}
print(r["model"], "tok/s", r["engine"]["output_tok_per_s"], "roofline", r["roofline"]["output_tok_per_s"],
      "fraction", r["fraction_of_roofline"], "with_flops", r["roofline"].get("with_decode_flops", {}).get("fraction"),
      "| decode step ms", p.get("wall_ms_per_step"), p.get("ms_per_step"), "| prefill step ms", first.get("wall_ms_per_step"))
print("  top", [(k[:28], v) for k, v in (p.get("top_kernels_ms_per_step") or [])[:10]])
PY
}
for stage in $STAGES; do
  t0=$SECONDS
  case $stage in
    tests)
      timeout 240 python3 -m pytest tests/gpu/test_kernels_gpu.py tests/gpu/test_engine_gpu.py -m gpu -q -x \
        -p no:cacheprovider >"$OUT/gpu-tests.log" 2>&1
      echo "== tests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/gpu-tests.log")"
      grep -E "^(FAILED|ERROR)|Error" "$OUT/gpu-tests.log" | head -20 ;;
    sweep)
      timeout 300 python3 gpu/decode_sweep.py ${SWEEP_ARGS:-} >"$OUT/decode-sweep.jsonl" 2>"$OUT/sweep.log"
      echo "== sweep rc=$? in $((SECONDS - t0)) s"; tail -n 3 "$OUT/sweep.log"
      python3 -c "
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if 'shape' not in r: print(r); continue
    d=r['default']; b=r['best']
    print(r['shape'], 'kv GB', r['kv_gb'], 'default', d.get('us'), 'us', d.get('tb_s'), 'TB/s; x', r['best_vs_default'])
    for x in b[:4]: print('   ', {k: x[k] for k in x if k != 'max_err'}, 'err', round(x['max_err'], 4))
" "$OUT/decode-sweep.jsonl" ;;
    base|new|nofuse|llama|llama-base)
      # base: the previous commit's engine (base/engine), run from base/ so `python -m` finds it first
      shape=qwen3-0.6b; env=(); dir=$PWD
      case $stage in
        base) dir=$PWD/base ;;
        nofuse) env=(TEECUBE_FUSED_QKV_PREP=0) ;;
        llama) shape=llama3-8b ;;
        llama-base) shape=llama3-8b; dir=$PWD/base ;;
      esac
      (cd "$dir" && env "${env[@]}" timeout 200 python3 -m teecube.cli bench throughput --shape $shape --random-weights \
        --skip-hf --profile >"$OUT/throughput-$stage.json" 2>"$OUT/bench-$stage.log")
      python3 -c "import engine.kernels.qkv_prep" 2>/dev/null; (cd "$dir" && python3 -c "import engine, sys; print('  engine from', engine.__file__)")
      echo "== $stage rc=$? in $((SECONDS - t0)) s"
      summary "$OUT/throughput-$stage.json" || tail -n 15 "$OUT/bench-$stage.log" ;;
  esac
done
