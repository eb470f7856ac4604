# shellcheck shell=bash
# Sourced by gpu/scan_workers.sh and gpu/detok_ab.sh: one engine on port 8011 for many `bench serve` runs.

# start_engine MODEL NAME: `teecube engine --model MODEL $ENGINE_ARGS` in the background (log
# $OUT/engine-NAME.log, pid in EPID), returning once /health answers; exits 4 if it never does.
start_engine() {
  python3 -m teecube.cli engine --model "$1" --port 8011 --log-level warning ${ENGINE_ARGS:-} \
      >"$OUT/engine-$2.log" 2>&1 &
  EPID=$!
  python3 - <<'PY' || { tail -n 20 "$OUT/engine-$2.log"; kill $EPID; exit 4; }
import time, urllib.request
for _ in range(240):
    try:
        urllib.request.urlopen("http://127.0.0.1:8011/health", timeout=2); break
    except Exception: time.sleep(0.5)
else: raise SystemExit("engine not ready")
PY
  echo "engine $2 ready at $SECONDS s"
}

# summarize FILE...: one line per `bench serve --start-proxy` result JSON.
summarize() {
  for f in "$@"; do python3 -c "
import json,sys; r=json.load(open(sys.argv[1])); p=r['proxy']; v=r['proxy_vs_direct']
print(sys.argv[1].split('/')[-1], 'direct', r['output_throughput'], r['p50_ttft_ms'], 'proxy', p['output_throughput'],
      p['p50_ttft_ms'], 'x tput', v['output_throughput'], 'ttft p50', v['median_ttft_ms'], 'p99', v['p99_ttft_ms'],
      'pre', p.get('proxy_pre_forward_mean_ms'), p.get('proxy_phase_mean_ms'))" "$f"; done
}
