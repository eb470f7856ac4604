#!/usr/bin/env bash
# Session 7, one H200. (#16) bench structured with the fill-thread default of 8 (bpe twice, random-ascii).
# (#13) bench serve through 4 proxy workers with more guardrail scan processes (is the input scan's
# capacity what holds the first token back?).
set -u
OUT=${OUT:-/tmp/s7m}
. gpu/lib.sh
for v in ${VOCABS:-bpe bpe random-ascii}; do
  t0=$SECONDS
  timeout 200 python3 -m teecube.cli bench structured --shape qwen3-0.6b --random-weights --num-prompts 256 \
    --vocab $v --tokenizer-json .whl/smollm2-tokenizer.json >"$OUT/structured-$v-$t0.json" 2>"$OUT/structured.log"
  echo "== structured $v rc=$? in $((SECONDS - t0)) s"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({'vocab': r['vocab']['kind'], 'overhead': r['overhead'], 'no_schema': r['no_schema']['output_tok_per_s'], 'json_schema': r['json_schema']['output_tok_per_s'], 'same': r['same_output_tokens']}))" "$OUT/structured-$v-$t0.json" || tail -n 5 "$OUT/structured.log"
done
python3 -m engine.bench.shape_dir qwen3-0.6b /tmp/qwen3-text >/dev/null
ENGINE=(--model /tmp/qwen3-text --engine-arg=--load-format=dummy --engine-arg=--max-model-len=4096
        --engine-arg=--max-num-batched-tokens=16384 --engine-arg=--max-num-seqs=256
        --engine-arg=--engine-core-process=on --dataset offline-workload --num-prompts 256 --max-concurrency 256)
for mode in ${MODES:-w4 w4-1}; do
  case $mode in scan12) extra=(--proxy-arg=--workers=4 --proxy-arg=--guard-scan-workers=12);;
                w8scan12) extra=(--proxy-arg=--workers=8 --proxy-arg=--guard-scan-workers=12);;
                w8|w8-2) extra=(--proxy-arg=--workers=8);;
                *) extra=(--proxy-arg=--workers=4);; esac
  t0=$SECONDS
  timeout 150 python3 -m teecube.cli bench serve "${ENGINE[@]}" --start-proxy "${extra[@]}" --save-result \
    --result-dir "$OUT" --result-filename "serve-$mode.json" >/dev/null 2>"$OUT/serve-$mode.log"
  echo "== $mode rc=$? in $((SECONDS - t0)) s"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); p=r.get('proxy') or {}; k=('output_throughput','median_ttft_ms','p99_ttft_ms','median_tpot_ms'); print(json.dumps({'direct': [r.get(x) for x in k], 'proxy': [p.get(x) for x in k], 'pre_forward_ms': p.get('proxy_pre_forward_mean_ms'), 'phases': p.get('proxy_phase_mean_ms'), 'ratio': {x: (r.get('proxy_vs_direct') or {}).get(x) for x in ('output_throughput','median_ttft_ms','p99_ttft_ms')}}))" "$OUT/serve-$mode.json" || tail -n 8 "$OUT/serve-$mode.log"
  (( SECONDS > 500 )) && break
done
