#!/usr/bin/env bash
# Session 19, one H200 or H100 (issue #13): gpu/gemm256_sweep.py (full-batch decode GEMMs, cuBLAS vs a
# wider tiling sweep of the skinny kernel), its winners merged into a table (gpu/merge_tuned.py), then the
# throughput bench with the shipped table and the merged one, alternating (session9.sh's envab).
# STAGES picks what runs: kvlayout (gpu/kv_layout_bench.py), layouttests, layoutab, sweep, ab (AB_SHAPE), base (the committed engine once per shape in BASE_SHAPES).
set -u
export OUT=${OUT:-/tmp/s19}
. gpu/lib.sh
STAGES=${STAGES:-"sweep ab"}
SHIPPED=$PWD/engine/kernels/configs/bf16_skinny_sm90_132sm.json
for stage in $STAGES; do
  t0=$SECONDS
  case $stage in
    kvlayout)  # decode attention over the NHD and HND cache layouts (gpu/kv_layout_bench.py)
      timeout ${KVLAYOUT_TIMEOUT:-200} python3 gpu/kv_layout_bench.py >"$OUT/kv-layout.jsonl" 2>"$OUT/kv-layout.log"
      echo "== kvlayout rc=$? in $((SECONDS - t0)) s"; tail -n 2 "$OUT/kv-layout.log"
      python3 -c "
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if 'shape' not in r: print(r); continue
    print(r['shape'], r['kv_gb'], 'default TB/s', [(l, (r.get(l + '_default') or {}).get('tb_s'), (r.get(l + '_default') or {}).get('identical')) for l in ('nhd', 'hnd', 'headfirst')], 'x', r.get('hnd_vs_nhd_default'), r.get('headfirst_vs_nhd_default'))
    print('   best', [(l, r.get(l + '_best')) for l in ('nhd', 'hnd', 'headfirst')], r.get('errors', [])[:2])
" "$OUT/kv-layout.jsonl" ;;
    layouttests)  # the engine's GPU tests (HF parity included) with a head-major KV cache
      TEECUBE_KV_LAYOUT=hnd timeout ${LAYOUTTESTS_TIMEOUT:-170} python3 -m pytest tests/gpu/test_engine_gpu.py \
        tests/gpu/test_kernels_gpu.py -m gpu -q -x -p no:cacheprovider >"$OUT/layout-tests.log" 2>&1
      echo "== layouttests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/layout-tests.log")"
      grep -E "^(FAILED|ERROR)|Error" "$OUT/layout-tests.log" | head -10 ;;
    layoutab)  # end to end, TEECUBE_KV_LAYOUT alternating (AB_SHAPE)
      AB_VAR=TEECUBE_KV_LAYOUT AB_VALUES="${LAYOUT_VALUES:-nhd hnd headfirst nhd hnd headfirst}" STAGES=envab \
        bash gpu/session9.sh 2>&1 | grep -v "^NVIDIA" ;;
    sweep)
      timeout ${SWEEP_TIMEOUT:-330} python3 gpu/gemm256_sweep.py ${SWEEP256_ARGS:-} >"$OUT/gemm256.jsonl" 2>"$OUT/gemm256.log"
      echo "== sweep rc=$? in $((SECONDS - t0)) s"; tail -n 2 "$OUT/gemm256.log"
      python3 -c "
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if 'shape' in r: print(r['shape'], r['m'], 'cublas', r['cublas_us'], r['cublas_tflop_s'], 'kernel', r.get('kernel_us'), r.get('kernel_tflop_s'), 'x', r.get('speedup'), 'ideal', r['ideal_us_at_791'], 'n', r['tilings_timed'], r.get('config'))
" "$OUT/gemm256.jsonl"
      python3 gpu/merge_tuned.py "$SHIPPED" "$OUT/gemm256.jsonl" "$OUT/merged.json" | tee "$OUT/merge.json" ;;
    ab)
      if grep -q '"new_wins": 0' "$OUT/merge.json" 2>/dev/null; then echo "== ab skipped: the sweep found no win"; continue; fi
      AB_VAR=TEECUBE_BF16_SKINNY_TUNED AB_VALUES="${AB_VALUES:-$SHIPPED $OUT/merged.json $SHIPPED $OUT/merged.json}" \
        STAGES=envab bash gpu/session9.sh 2>&1 | grep -v "^NVIDIA" ;;
    base)
      for shape in ${BASE_SHAPES:-qwen3-0.6b llama3-8b}; do
        timeout 200 python3 -m teecube.cli bench throughput --shape "$shape" --random-weights --skip-hf \
          >"$OUT/base-$shape.json" 2>"$OUT/base-$shape.log"
        python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('base', r['model'], r['engine']['output_tok_per_s'], r['fraction_of_roofline'], r['roofline'].get('with_decode_flops', {}).get('fraction'))" "$OUT/base-$shape.json" || tail -n 5 "$OUT/base-$shape.log"
      done ;;
  esac
done
