#!/usr/bin/env bash
# Session 7, one H200. (#16) grammar_loop's host time per step against xgrammar fill threads, both
# vocabularies. (#13) bench serve, engine --load-format dummy (qwen3-0.6b as a word-level-tokenizer
# directory, offline workload, 256 at once, ids prompts), direct and through the proxy (4 workers, default
# guardrails) in each invocation: the proxy decoding token-id prompts itself, then through /detokenize.
set -u
OUT=${OUT:-/tmp/s7v}
. gpu/lib.sh
if [ -z "${SKIP_LOOP:-}" ]; then
for v in bpe random-ascii; do for t in ${THREADS:-1 2 4 8 16}; do
  TEECUBE_GRAMMAR_THREADS=$t timeout 60 python3 -m engine.bench.grammar_loop --vocab-kind $v --steps 32 \
    --tokenizer-json .whl/smollm2-tokenizer.json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); c=d['json_schema']; print(json.dumps({'vocab': '$v', 'threads': $t, 'host_ms': [d['no_schema']['host_ms_per_step'], c['host_ms_per_step']], 'accept_ms': c['phases_ms_per_step'].get('accept_xgrammar'), 'fill_thread_ms': c['fill_thread_ms_per_step'], 'overhead': d['predicted'].get('overhead')}))"
done; done
fi
python3 -m engine.bench.shape_dir qwen3-0.6b /tmp/qwen3-text >/dev/null
ENGINE=(--model /tmp/qwen3-text --engine-arg=--load-format=dummy --engine-arg=--max-model-len=4096
        --engine-arg=--max-num-batched-tokens=16384 --engine-arg=--max-num-seqs=256
        --engine-arg=--engine-core-process=on --dataset offline-workload --num-prompts 256 --max-concurrency 256)
for mode in ${MODES:-local detokenize}; do
  case $mode in local) export TEECUBE_PROXY_LOCAL_ID_DECODE=1;; *) export TEECUBE_PROXY_LOCAL_ID_DECODE=0;; esac
  t0=$SECONDS
  timeout 150 python3 -m teecube.cli bench serve "${ENGINE[@]}" --start-proxy --proxy-arg=--workers=4 --save-result \
    --result-dir "$OUT" --result-filename "serve-w4-$mode.json" >/dev/null 2>"$OUT/serve-$mode.log"
  echo "== $mode rc=$? in $((SECONDS - t0)) s"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); p=r.get('proxy') or {}; k=('output_throughput','median_ttft_ms','p99_ttft_ms','median_tpot_ms'); print(json.dumps({'direct': [r.get(x) for x in k], 'proxy': [p.get(x) for x in k], 'pre_forward_ms': p.get('proxy_pre_forward_mean_ms'), 'ratio': {x: (r.get('proxy_vs_direct') or {}).get(x) for x in ('output_throughput','median_ttft_ms','p99_ttft_ms')}}))" "$OUT/serve-w4-$mode.json" || tail -n 8 "$OUT/serve-$mode.log"
  (( SECONDS > 540 )) && break
done
