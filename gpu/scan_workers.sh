#!/usr/bin/env bash
# Session 21 (issue #13): the 512/512 x256 burst through a started proxy, --guard-scan-workers variants
# (default: 4 in all, 1 per worker at --workers 8; 16: 2 each; 0: inline) against one running engine,
# a new --seed (new prompts, no prefix-cache hits) each run. OUT, MODEL, N, LEN, VARIANTS, WORKERS, ENGINE_ARGS.
# A variant is SCAN or SCAN@WORKERS (session 22: "0@12" is inline scans in 12 proxy workers).
set -u
MODEL=${MODEL:-qwen3-0.6b}; N=${N:-256}; LEN=${LEN:-512}; VARIANTS=${VARIANTS:-"default 16 0 default 16 0"}
# shellcheck source=gpu/serve_lib.sh
source gpu/serve_lib.sh
start_engine "$MODEL" main
B="--base-url http://127.0.0.1:8011 --start-proxy --max-concurrency $N --save-result --result-dir $OUT --dataset random --random-input-len $LEN --random-output-len $LEN --random-range-ratio 0 --num-prompts $N"
i=0
for v in $VARIANTS; do
  i=$((i+1)); s=${v%@*}; w=${WORKERS:-8}; [ "$v" != "$s" ] && w=${v#*@}
  P="--proxy-arg=--workers=$w"; [ "$s" != default ] && P="$P --proxy-arg=--guard-scan-workers=$s"
  timeout ${VARIANT_TIMEOUT:-70} python3 -m teecube.cli bench serve $B $P --seed $i --result-filename "r$LEN-$i-scan$s-w$w.json" >/dev/null 2>"$OUT/r$LEN-$i.log"
  echo "$i scan=$v rc=$? at $SECONDS s"
done
kill $EPID
summarize "$OUT"/r$LEN-*-scan*.json
