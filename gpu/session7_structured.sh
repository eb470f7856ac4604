#!/usr/bin/env bash
# Session 7, one H200 (#16): bench structured (qwen3-0.6b random weights, 256 prompts, a JSON schema on every
# request vs none, same run) over the BPE vocabulary (SmolLM2's tokenizer.json carried in .whl/, extended to
# 151,936 tokens) and over the random-ASCII stress vocabulary; then grammar_loop's host breakdown (bpe).
set -u
OUT=${OUT:-/tmp/s7s}
. gpu/lib.sh
brief() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({k: r.get(k) for k in ('vocab','overhead','same_output_tokens')} | {'no_schema': r['no_schema']['output_tok_per_s'], 'json_schema': r['json_schema']['output_tok_per_s']}))" "$1"; }
for v in ${VOCABS:-bpe random-ascii bpe}; do
  t0=$SECONDS
  timeout 200 python3 -m teecube.cli bench structured --shape qwen3-0.6b --random-weights --num-prompts 256 \
    --vocab $v --tokenizer-json .whl/smollm2-tokenizer.json >"$OUT/structured-$v-$t0.json" 2>"$OUT/structured-$v.log"
  echo "== structured $v rc=$? in $((SECONDS - t0)) s"; brief "$OUT/structured-$v-$t0.json" || tail -n 5 "$OUT/structured-$v.log"
  (( SECONDS > 420 )) && break
done
t0=$SECONDS
timeout 120 python3 -m engine.bench.grammar_loop --vocab-kind bpe --tokenizer-json .whl/smollm2-tokenizer.json >"$OUT/grammar-loop-bpe.json" 2>/dev/null
echo "== grammar_loop bpe rc=$? in $((SECONDS - t0)) s"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); c=d['json_schema']; print(json.dumps({'host_ms': [d['no_schema']['host_ms_per_step'], c['host_ms_per_step']], 'accept_ms': c['phases_ms_per_step'].get('accept_xgrammar'), 'fill_thread_ms': c['fill_thread_ms_per_step'], 'predicted': d['predicted']}))" "$OUT/grammar-loop-bpe.json"
