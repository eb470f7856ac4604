#!/usr/bin/env bash
# Session 9, one H200: session 8's stages plus gramprof (#16: where a schema step's host time goes),
# fp8prof (#19: the FP8 + FP8-KV llama3-8b run with --profile) and fp8variants (gpu/fp8_attn_variants.py).
# base/ holds an earlier engine (run from that folder so `python -m` imports it first). STAGES picks what runs.
set -u
OUT=${OUT:-/tmp/s9}
. gpu/lib.sh
ROOT=$PWD
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
abrun() {  # abrun LABEL DIR [VAR=VALUE...]: the throughput bench once, from DIR, with that environment
  local label=$1 dir=$2 shape=${AB_SHAPE:-qwen3-0.6b}
  shift 2
  (cd "$dir" && env "$@" timeout 300 python3 -m teecube.cli bench throughput --shape "$shape" \
    --random-weights --skip-hf ${AB_ARGS:-} >"$OUT/ab.json" 2>"$OUT/ab.log")
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('$label', r['model'], r['engine']['output_tok_per_s'], r['engine']['elapsed_s'], r['fraction_of_roofline'], r['roofline'].get('with_decode_flops', {}).get('fraction'), 'gc', r['engine'].get('gc'))" \
    "$OUT/ab.json" || tail -n 5 "$OUT/ab.log"
  mv "$OUT/ab.json" "$OUT/ab-$shape-${label//[^A-Za-z0-9_.=-]/_}-$SECONDS.json"
}
envab() {  # envab VAR "VALUES": the throughput bench once per value of one environment switch, in turn
  local var=$1 v t0=$SECONDS
  for v in $2; do abrun "$var=${v##*/}" "$PWD" "$var=$v"; done
  echo "== envab $var in $((SECONDS - t0)) s"
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
    structured|structured-base|structured-acc4)  # #16: JSON schema on every request vs none, BPE vocabulary
      dir=$PWD; [ $stage = structured-base ] && dir=$PWD/base
      env=(); [ $stage = structured-acc4 ] && env=(TEECUBE_GRAMMAR_ACCEPT_THREADS=4)
      for run in ${RUNS:-1 2}; do
        (cd "$dir" && env "${env[@]}" timeout 200 python3 -m teecube.cli bench structured --shape qwen3-0.6b --random-weights --num-prompts 256 \
          --vocab bpe ${STRUCTURED_ARGS:-} --tokenizer-json "$ROOT/.whl/smollm2-tokenizer.json" >"$OUT/$stage-bpe-run$run.json" 2>"$OUT/structured.log")
        echo "== $stage run $run rc=$? in $((SECONDS - t0)) s"
        python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({'overhead': r['overhead'], 'no_schema': r['no_schema']['output_tok_per_s'], 'json_schema': r['json_schema']['output_tok_per_s'], 'pairs': r.get('pair_overheads')}))" "$OUT/$stage-bpe-run$run.json" || tail -n 5 "$OUT/structured.log"
      done ;;
    steps)  # per-step kernels at several decode batch sizes (where the workload's tail goes)
      timeout 200 python3 gpu/step_profile.py qwen3-0.6b 1,8,32,64,128,256 >"$OUT/step-profile.jsonl" 2>"$OUT/steps.log"
      echo "== steps rc=$? in $((SECONDS - t0)) s"
      python3 -c "
import json,sys
for l in open(sys.argv[1]):
    d=json.loads(l)
    if 'batch' not in d: print(d); continue
    print(d['batch'], d['wall_ms_per_step'], d['gpu_busy_ms_per_step'], d['launches_per_step'], [(k[0][:22], k[1], k[2]) for k in d['kernels'][:8]])
" "$OUT/step-profile.jsonl" || tail -n 5 "$OUT/steps.log" ;;
    gramprof|gramprof-base)  # #16: wall-clock timers around the step loop's pieces, schema vs none
      dir=$PWD; [ $stage = gramprof-base ] && dir=$PWD/base
      cp gpu/gram_profile.py "$dir/gram_profile_run.py"  # a script's own folder comes first on sys.path
      (cd "$dir" && timeout 200 python3 gram_profile_run.py --tokenizer-json "$ROOT/.whl/smollm2-tokenizer.json" ${GRAMPROF_ARGS:-} \
        >"$OUT/$stage.json" 2>"$OUT/$stage.log")
      echo "== $stage rc=$? in $((SECONDS - t0)) s"
      python3 -c "
import json,sys; r=json.load(open(sys.argv[1]))
for k, x in r.items():
    if isinstance(x, dict): print(k, x['output_tok_per_s'], 'steps', x['steps'], 'outside', x.get('outside_steps_s'), json.dumps(x['ms_per_step']))
" "$OUT/$stage.json" || tail -n 8 "$OUT/$stage.log" ;;
    fp8prof)  # #19: where an FP8 + FP8-KV step goes (single run, --profile)
      timeout 200 python3 -m teecube.cli bench throughput --shape llama3-8b --random-weights --skip-hf \
        --quantization fp8 --kv-cache-dtype fp8 --max-model-len 16384 --num-prompts 128 --profile \
        >"$OUT/fp8-profile.json" 2>"$OUT/fp8-profile.log"
      echo "== fp8prof rc=$? in $((SECONDS - t0)) s"
      summary "$OUT/fp8-profile.json" || tail -n 15 "$OUT/fp8-profile.log" ;;
    fp8wprof|fp8kvprof)  # #19 at PERFORMANCE.md's workload: where an FP8 (+ FP8-KV) step goes (--profile)
      kv=(); [ $stage = fp8kvprof ] && kv=(--kv-cache-dtype fp8)
      timeout 300 python3 -m teecube.cli bench throughput --shape llama3-8b --random-weights --skip-hf \
        --quantization fp8 "${kv[@]}" --profile >"$OUT/$stage.json" 2>"$OUT/$stage.log"
      echo "== $stage rc=$? in $((SECONDS - t0)) s"
      summary "$OUT/$stage.json" || tail -n 15 "$OUT/$stage.log" ;;
    order)  # decode attention, rows in batch order vs longest context first (bf16 and FP8 caches)
      timeout 300 python3 gpu/decode_order_bench.py ${ORDER_ARGS:-} >"$OUT/decode-order.jsonl" 2>"$OUT/order.log"
      echo "== order rc=$? in $((SECONDS - t0)) s"; cat "$OUT/decode-order.jsonl"; tail -n 3 "$OUT/order.log" ;;
    orderab)  # end to end, TEECUBE_DECODE_ORDER=0 (row order) vs 1 (longest first), alternating; AB_ORDER, AB_SHAPE, AB_ARGS
      envab TEECUBE_DECODE_ORDER "${AB_ORDER:-0 1 0 1}" ;;
    fp8tune)  # #19: a finer FP8 skinny GEMM table (gpu/fp8_gemm_tune.py), then the issue's runs with it vs shipped
      timeout ${TUNE_TIMEOUT:-300} python3 gpu/fp8_gemm_tune.py --budget-s ${TUNE_BUDGET:-200} >"$OUT/fp8-tune.stdout" 2>"$OUT/fp8tune.log"
      echo "== fp8tune rc=$? in $((SECONDS - t0)) s"
      python3 -c "
import json,sys; r=json.load(open(sys.argv[1]))
print({k: v for k, v in r.items() if k.startswith('sum_M')})
" "$OUT/fp8_tuned.json" || tail -n 5 "$OUT/fp8tune.log" ;;
    tunedab)  # #19: the FP8 + FP8 KV llama3-8b run with fp8tune's table ($OUT/fp8_tuned.json) vs the shipped one
      shipped=$ROOT/engine/kernels/configs/fp8_skinny_sm90_132sm.json
      AB_SHAPE=llama3-8b AB_ARGS="--quantization fp8 --kv-cache-dtype fp8" \
        envab TEECUBE_FP8_SKINNY_TUNED "$shipped $OUT/fp8_tuned.json $shipped $OUT/fp8_tuned.json" ;;
    bf16tune)  # #13: a finer 16-bit skinny GEMM table (gpu/bf16_gemm_tune.py; TUNE_ONLY qwen3 / llama3 / all)
      timeout ${TUNE_TIMEOUT:-300} python3 gpu/bf16_gemm_tune.py --budget-s ${TUNE_BUDGET:-200} --only ${TUNE_ONLY:-all} \
        >"$OUT/bf16-tune.stdout" 2>"$OUT/bf16tune.log"
      echo "== bf16tune rc=$? in $((SECONDS - t0)) s"
      python3 -c "
import json,sys; r=json.load(open(sys.argv[1]))
print({k: v for k, v in r.items() if k.startswith('sum_M')})
" "$OUT/bf16_tuned.json" || tail -n 5 "$OUT/bf16tune.log"
      rm -f "$OUT/bf16-tune.stdout" ;;
    bf16tests)  # the 16-bit skinny route's GPU tests with bf16tune's table ($OUT/bf16_tuned.json)
      TEECUBE_BF16_SKINNY_TUNED=$OUT/bf16_tuned.json timeout 150 python3 -m pytest tests/gpu/test_bf16_gemm_gpu.py \
        -m gpu -q -x -p no:cacheprovider >"$OUT/bf16-tests.log" 2>&1
      echo "== bf16tests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/bf16-tests.log")"
      grep -E "^(FAILED|ERROR)" "$OUT/bf16-tests.log" | head ;;
    bf16ab)  # #13: bf16tune's table vs the shipped one, alternating: qwen3-0.6b (AB_VALUES16 pairs), then llama3-8b
      shipped=$ROOT/engine/kernels/configs/bf16_skinny_sm90_132sm.json tuned=$OUT/bf16_tuned.json
      AB_SHAPE=qwen3-0.6b envab TEECUBE_BF16_SKINNY_TUNED "$shipped $tuned $shipped $tuned $shipped $tuned"
      [ -n "${BF16AB_LLAMA-1}" ] && AB_SHAPE=llama3-8b envab TEECUBE_BF16_SKINNY_TUNED "$shipped $tuned $shipped $tuned" ;;
    qkvab8)  # #19: the fused QKV projection off/on in the FP8 + FP8 KV llama3-8b run, alternating
      AB_SHAPE=llama3-8b AB_ARGS="--quantization fp8 --kv-cache-dtype fp8" \
        envab TEECUBE_FUSED_QKV_GEMM "${AB_VALUES8:-0 1 0 1}" ;;
    dirab)  # end to end, base/ (an earlier commit's tree) against this tree, alternating: AB_DIRS, AB_SHAPE, AB_ARGS
      for d in ${AB_DIRS:-base new base new}; do
        dir=$PWD; [ "$d" = base ] && dir=$PWD/base
        abrun "$d" "$dir"
      done
      echo "== dirab in $((SECONDS - t0)) s" ;;
    envab)  # end to end, one environment switch, alternating: AB_VAR (name), AB_VALUES, AB_SHAPE, AB_ARGS
      envab "$AB_VAR" "${AB_VALUES:-0 1 0 1}" ;;
    bf16gemm)  # decode-shaped bf16 GEMMs: cuBLAS vs the skinny-M kernel with 16-bit weights (tiling sweep)
      timeout 400 python3 gpu/bf16_gemm_bench.py ${BF16GEMM_ARGS:-} >"$OUT/bf16-gemm.jsonl" 2>"$OUT/bf16gemm.log"
      echo "== bf16gemm rc=$? in $((SECONDS - t0)) s"; tail -n 3 "$OUT/bf16gemm.log"
      python3 -c "
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l)
    if 'rows' in r: print(r['shape'], [(x['m'], x['cublas_us'], x.get('kernel_us'), x.get('speedup')) for x in r['rows']])
" "$OUT/bf16-gemm.jsonl" ;;
    busy|busyllama|busyfp8)  # GPU busy vs idle over the timed run (CUDA-only profiler), qwen3-0.6b / llama3-8b / FP8 + FP8 KV
      args=(--shape qwen3-0.6b); [ $stage = busyllama ] && args=(--shape llama3-8b)
      [ $stage = busyfp8 ] && args=(--shape llama3-8b --quantization fp8 --kv-cache-dtype fp8)
      timeout 300 python3 gpu/busy_watch.py throughput "${args[@]}" --random-weights --skip-hf >"$OUT/$stage.json" 2>"$OUT/$stage.log"
      echo "== $stage rc=$? in $((SECONDS - t0)) s"
      python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['model'], r['engine']['output_tok_per_s'], r['fraction_of_roofline'])" "$OUT/$stage.json"
      tail -n 1 "$OUT/$stage.log" ;;
    qkvtests)  # qkv_prep, the fused QKV projection (engine/kernels/qkv_gemm.py; 16-bit and FP8 weights) and the engine
      # against HF, and FP8 against bf16, with it on
      TEECUBE_FUSED_QKV_GEMM=${QKV_GEMM:-1} timeout 240 python3 -m pytest tests/gpu/test_kernels_gpu.py tests/gpu/test_engine_gpu.py \
        tests/gpu/test_fp8_gpu.py -m gpu -q -x -p no:cacheprovider \
        -k "qkv_prep or qkv_gemm or greedy_matches_hf or async_loop_matches or fp8_tracks_bf16 or engine_with_fp8" \
        >"$OUT/qkv-tests.log" 2>&1
      echo "== qkvtests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/qkv-tests.log")"
      grep -E "^(FAILED|ERROR)" "$OUT/qkv-tests.log" | head ;;
    ordertests)  # decode order on the GPU, the decode kernels, and the engine against HF (greedy) and its sync loop
      timeout 200 python3 -m pytest tests/gpu/test_kernels_gpu.py tests/gpu/test_engine_gpu.py -m gpu -q -x -p no:cacheprovider \
        -k "decode or greedy_matches_hf or async_loop_matches" >"$OUT/order-tests.log" 2>&1
      echo "== ordertests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/order-tests.log")"
      grep -E "^(FAILED|ERROR)" "$OUT/order-tests.log" | head ;;
    phases)  # the host's time per step and phase in a real timed run (gpu/step_phases.py), AB_SHAPE (qwen3-0.6b)
      timeout 200 python3 gpu/step_phases.py throughput --shape ${AB_SHAPE:-qwen3-0.6b} --random-weights --skip-hf \
        >"$OUT/phases.json" 2>"$OUT/phases.log"
      echo "== phases rc=$? in $((SECONDS - t0)) s"; tail -n 1 "$OUT/phases.log" | cut -c1-3000 ;;
    silubench)  # the fused SiLU-and-mul + FP8 quantizer: one tile by warps vs the chunked passes
      timeout 200 python3 gpu/silu_fp8_bench.py >"$OUT/silu-fp8-bench.json" 2>"$OUT/silubench.log"
      echo "== silubench rc=$? in $((SECONDS - t0)) s"; cat "$OUT/silubench.log" | tail -n 20 ;;
    fp8kvab)  # FP8 + FP8-KV runs alone (PERFORMANCE.md's workload), default decode variant vs $AB_VARIANT, alternating
      for v in best "$AB_VARIANT" best "$AB_VARIANT"; do
        TEECUBE_FP8_DECODE_VARIANT=$v timeout 200 python3 -m teecube.cli bench throughput --shape llama3-8b \
          --random-weights --skip-hf --quantization fp8 --kv-cache-dtype fp8 >"$OUT/fp8kv-$v.json" 2>"$OUT/fp8kv-$v.log"
        python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('$v', r['engine']['output_tok_per_s'], r['fraction_of_roofline'])" \
          "$OUT/fp8kv-$v.json" || tail -n 5 "$OUT/fp8kv-$v.log"
        cp "$OUT/fp8kv-$v.json" "$OUT/fp8kv-$v-$((SECONDS)).json"
      done
      echo "== fp8kvab in $((SECONDS - t0)) s" ;;
    bf16tests)  # the 16-bit skinny GEMM route (and the FP8 skinny GEMM it shares) on the GPU
      timeout 200 python3 -m pytest tests/gpu/test_bf16_gemm_gpu.py tests/gpu/test_fp8_gemm_gpu.py -m gpu -q \
        -p no:cacheprovider >"$OUT/bf16-tests.log" 2>&1
      echo "== bf16tests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/bf16-tests.log")"
      grep -E "^(FAILED|ERROR)" "$OUT/bf16-tests.log" | head ;;
    firstcall)  # does a bf16 GEMM's first call at a new row count wait for the GPU? (gpu/first_call_probe.py)
      timeout 200 python3 gpu/first_call_probe.py >"$OUT/first-call.json" 2>"$OUT/first-call.log"
      echo "== firstcall rc=$? in $((SECONDS - t0)) s"; tail -n 12 "$OUT/first-call.log" ;;
    compilewatchq)  # compilewatch for qwen3-0.6b only
      timeout 200 python3 gpu/compile_watch.py throughput --shape qwen3-0.6b --random-weights --skip-hf \
        >"$OUT/watch-qwen3.json" 2>"$OUT/watch-qwen3.log"
      echo "== compilewatchq rc=$? in $((SECONDS - t0)) s"
      python3 -c "
import json,sys; r=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print({k: r[k] for k in ('init','warm_up','timed')})
for e in r['timed_kernels']: print('   ', e['seconds'], e['specialization'][:300])
" "$OUT/watch-qwen3.log" || tail -n 5 "$OUT/watch-qwen3.log" ;;
    compilewatch)  # which Triton kernels the timed runs launch first (compile or disk load on the clock)
      timeout 300 python3 gpu/compile_watch.py throughput --shape llama3-8b --random-weights --skip-hf \
        --quantization fp8 --kv-cache-dtype fp8 --compare-bf16 >"$OUT/watch-llama-fp8.json" 2>"$OUT/watch-llama-fp8.log"
      echo "== compilewatch llama rc=$? in $((SECONDS - t0)) s"
      timeout 200 python3 gpu/compile_watch.py throughput --shape qwen3-0.6b --random-weights --skip-hf \
        >"$OUT/watch-qwen3.json" 2>"$OUT/watch-qwen3.log"
      echo "== compilewatch qwen3 rc=$? in $((SECONDS - t0)) s"
      for f in watch-llama-fp8 watch-qwen3; do
        python3 -c "
import json,sys; r=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); t=json.load(open(sys.argv[2]))
print(sys.argv[1], {k: r[k] for k in ('init','warm_up','timed')}, t.get('summary') and {k: v['output_tok_per_s'] for k, v in t['summary'].items()} or t.get('engine', {}).get('output_tok_per_s'))
for e in r['timed_kernels']: print('   ', e['seconds'], e['specialization'][:300])
" "$OUT/$f.log" "$OUT/$f.json" || tail -n 5 "$OUT/$f.log"
      done ;;
    samplingtests)  # the fused sampler on the GPU (against the one-pass oracle, greedy, the tempered softmax)
      timeout 200 python3 -m pytest tests/gpu/test_engine_gpu.py -m gpu -q -p no:cacheprovider \
        -k "sampling or sampled or async_loop" >"$OUT/sampling-tests.log" 2>&1
      echo "== samplingtests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/sampling-tests.log")"
      grep -E "^(FAILED|ERROR)" "$OUT/sampling-tests.log" | head ;;
    fp8variants)
      timeout 260 python3 gpu/fp8_attn_variants.py ${VARIANT_ARGS:-} >"$OUT/fp8_attn_variants.stdout" 2>"$OUT/fp8var.log"
      echo "== fp8variants rc=$? in $((SECONDS - t0)) s"
      python3 -c "
import json,sys; r=json.load(open(sys.argv[1]))
for shape, rows in r.items():
    if not isinstance(rows, dict): continue
    print(shape, {k: (v.get('ms'), v.get('tb_s'), v.get('rel_rms_err')) for k, v in rows.items() if isinstance(v, dict)})
" "$OUT/fp8_attn_variants.json" || tail -n 8 "$OUT/fp8var.log" ;;
    fp8tests)
      timeout 200 python3 -m pytest tests/gpu/test_fp8_gpu.py -m gpu -q -p no:cacheprovider >"$OUT/fp8-tests.log" 2>&1
      echo "== fp8 tests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/fp8-tests.log")"
      grep -E "^(FAILED|ERROR)" "$OUT/fp8-tests.log" | head ;;
    gputests)  # the kernels (FP8 decode default) and the grammar overlap path on the GPU
      timeout 200 python3 -m pytest tests/gpu/test_kernels_gpu.py tests/gpu/test_grammar_overlap_gpu.py -m gpu -q \
        -p no:cacheprovider >"$OUT/gpu-tests.log" 2>&1
      echo "== gputests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/gpu-tests.log")"
      grep -E "^(FAILED|ERROR)" "$OUT/gpu-tests.log" | head ;;
    fp8bench|fp8bench-k16)  # issue #19's command, 128 prompts as in sessions 5-6 (k16: the previous FP8 decode default)
      env=(); [ $stage = fp8bench-k16 ] && env=(TEECUBE_FP8_DECODE_VARIANT=k16_ci_s3)
      env "${env[@]}" timeout 230 python3 -m teecube.cli bench throughput --shape llama3-8b --random-weights --skip-hf \
        --quantization fp8 --kv-cache-dtype fp8 --compare-bf16 --max-model-len 16384 --num-prompts 128 \
        >"$OUT/$stage.json" 2>"$OUT/$stage.log"
      echo "== $stage rc=$? in $((SECONDS - t0)) s"
      python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(r['targets']), {k: (v['output_tok_per_s'], v['fraction_of_roofline']) for k, v in r['summary'].items()})" "$OUT/$stage.json" || tail -n 20 "$OUT/$stage.log" ;;
    fp8default|fp8default2|fp8default3)  # issue #19's command as written: PERFORMANCE.md's workload (256 prompts, max-model-len 4096)
      timeout 560 python3 -m teecube.cli bench throughput --shape llama3-8b --random-weights --skip-hf \
        --quantization fp8 --kv-cache-dtype fp8 --compare-bf16 >"$OUT/$stage.json" 2>"$OUT/$stage.log"
      echo "== $stage rc=$? in $((SECONDS - t0)) s"
      python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(r['targets']), {k: (v['output_tok_per_s'], v['fraction_of_roofline']) for k, v in r['summary'].items()})" "$OUT/$stage.json" || tail -n 20 "$OUT/$stage.log" ;;
    serve)  # #13: offline engine, then served directly and through 8 proxy workers (dummy qwen3-0.6b text dir)
      python3 -m engine.bench.shape_dir qwen3-0.6b /tmp/qwen3-text >/dev/null
      timeout 240 python3 -m teecube.cli bench serve --model /tmp/qwen3-text --engine-arg=--load-format=dummy \
        --engine-arg=--max-model-len=4096 --engine-arg=--max-num-batched-tokens=16384 --engine-arg=--max-num-seqs=256 \
        --engine-arg=--engine-core-process=on --dataset offline-workload --num-prompts 256 --max-concurrency 256 \
        --compare-offline --start-proxy --proxy-arg=--workers=8 --save-result --result-dir "$OUT" \
        --result-filename serve-w8.json >/dev/null 2>"$OUT/serve.log"
      echo "== serve rc=$? in $((SECONDS - t0)) s"
      python3 -c "
import json,sys; r=json.load(open(sys.argv[1])); p=r.get('proxy') or {}; k=('output_throughput','median_ttft_ms','p99_ttft_ms','median_tpot_ms')
print(json.dumps({'direct': [r.get(x) for x in k], 'proxy': [p.get(x) for x in k], 'offline': (r.get('offline') or {}).get('output_tok_per_s'),
  'serve_vs_offline': r.get('serve_vs_offline'), 'proxy_vs_offline': r.get('proxy_vs_offline'),
  'proxy_vs_direct': {x: (r.get('proxy_vs_direct') or {}).get(x) for x in ('output_throughput','median_ttft_ms','p99_ttft_ms')},
  'phases': p.get('proxy_phase_mean_ms')}))" "$OUT/serve-w8.json" || tail -n 8 "$OUT/serve.log" ;;
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
      (cd "$dir" && python3 -c "import engine, sys; print('  engine from', engine.__file__)")
      echo "== $stage rc=$? in $((SECONDS - t0)) s"
      summary "$OUT/throughput-$stage.json" || tail -n 15 "$OUT/bench-$stage.log" ;;
  esac
done
