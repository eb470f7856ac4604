#!/usr/bin/env bash
# Session 22 (issue #13): the 512/512 x256 burst through a started proxy against one running engine,
# alternating proxy settings, a new --seed each run. Engine 1: the qwen3-0.6b shape with no tokenizer
# (token-id prompts), A/B of TEECUBE_PROXY_LOCAL_ID_DECODE (0: a /detokenize round trip per request, the
# path a tokenizer-less engine got before its GET /tokenizer answered `token-ids`; 1: decoded in the
# proxy). Engine 2: the shape with a word-level tokenizer (engine.bench.shape_dir: the prompts are text
# the guardrails scan), --guard-scan-workers default vs 16. OUT, ENGINE_ARGS, N, LEN.
set -u
N=${N:-256}; LEN=${LEN:-512}
B="--base-url http://127.0.0.1:8011 --start-proxy --max-concurrency $N --save-result --result-dir $OUT --dataset random --random-input-len $LEN --random-output-len $LEN --random-range-ratio 0 --num-prompts $N --proxy-arg=--workers=8"
# shellcheck source=gpu/serve_lib.sh
source gpu/serve_lib.sh
run() {  # name seed env proxy-args...
  local name=$1 seed=$2 env=$3; shift 3
  env TEECUBE_PROXY_LOCAL_ID_DECODE=$env timeout ${VARIANT_TIMEOUT:-75} python3 -m teecube.cli bench serve $B "$@" \
      --seed "$seed" --result-filename "$name.json" >/dev/null 2>"$OUT/$name.log"
  echo "$name rc=$? at $SECONDS s"
}
# REPEAT="5 6 7": only the shipped settings (local decoding, default scan processes), one run per seed
# on each engine: the spread of TTFT p50 proxy/direct over runs.
start_engine qwen3-0.6b ids
if [ -n "${REPEAT:-}" ]; then for s in $REPEAT; do run "ids-local-s$s" $s 1; done
else for s in 1 2; do run "ids-detok0-s$s" $s 0; run "ids-local-s$s" $s 1; done; fi
kill $EPID; wait $EPID 2>/dev/null
python3 -m engine.bench.shape_dir qwen3-0.6b /tmp/qdir >/dev/null
start_engine /tmp/qdir words
if [ -n "${REPEAT:-}" ]; then for s in $REPEAT; do run "words-scandefault-s$s" $s 1; done
else
  run words-scandefault-s3 3 1; run words-scan16-s3 3 1 --proxy-arg=--guard-scan-workers=16
  run words-scan16-s4 4 1 --proxy-arg=--guard-scan-workers=16; run words-scandefault-s4 4 1
fi
kill $EPID
summarize "$OUT"/*.json
