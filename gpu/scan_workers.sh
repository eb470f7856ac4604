#!/usr/bin/env bash
# Session 21 (issue #13): the 512/512 x256 burst through a started proxy, --guard-scan-workers variants
# (default: 4 in all, 1 per worker at --workers 8; 16: 2 each; 0: inline) against one running engine,
# a new --seed (new prompts, no prefix-cache hits) each run. OUT, MODEL, N, LEN, VARIANTS, WORKERS, ENGINE_ARGS.
# A variant is SCAN or SCAN@WORKERS (session 22: "0@12" is inline scans in 12 proxy workers).
set -u
MODEL=${MODEL:-qwen3-0.6b}; N=${N:-256}; LEN=${LEN:-512}; VARIANTS=${VARIANTS:-"default 16 0 default 16 0"}
python3 -m teecube.cli engine --model "$MODEL" --port 8011 --log-level warning ${ENGINE_ARGS:-} >"$OUT/engine.log" 2>&1 &
EPID=$!
python3 - <<'PY' || { tail -n 20 "$OUT/engine.log"; kill $EPID; exit 4; }
import time, urllib.request
for _ in range(240):
    try:
        urllib.request.urlopen("http://127.0.0.1:8011/health", timeout=2); break
    except Exception: time.sleep(0.5)
else: raise SystemExit("engine not ready")
PY
echo "engine ready at $SECONDS s"
B="--base-url http://127.0.0.1:8011 --start-proxy --max-concurrency $N --save-result --result-dir $OUT --dataset random --random-input-len $LEN --random-output-len $LEN --random-range-ratio 0 --num-prompts $N"
i=0
for v in $VARIANTS; do
  i=$((i+1)); s=${v%@*}; w=${WORKERS:-8}; [ "$v" != "$s" ] && w=${v#*@}
  P="--proxy-arg=--workers=$w"; [ "$s" != default ] && P="$P --proxy-arg=--guard-scan-workers=$s"
  timeout ${VARIANT_TIMEOUT:-70} python3 -m teecube.cli bench serve $B $P --seed $i --result-filename "r$LEN-$i-scan$s-w$w.json" >/dev/null 2>"$OUT/r$LEN-$i.log"
  echo "$i scan=$v rc=$? at $SECONDS s"
done
kill $EPID
for f in "$OUT"/r$LEN-*-scan*.json; do python3 -c "
import json,sys; r=json.load(open(sys.argv[1])); p=r['proxy']; v=r['proxy_vs_direct']
print(sys.argv[1].split('/')[-1], 'direct', r['output_throughput'], r['p50_ttft_ms'], 'proxy', p['output_throughput'], p['p50_ttft_ms'], 'x tput', v['output_throughput'], 'ttft p50', v['median_ttft_ms'], 'p99', v['p99_ttft_ms'], 'pre', p.get('proxy_pre_forward_mean_ms'), p.get('proxy_phase_mean_ms'))" "$f"; done
