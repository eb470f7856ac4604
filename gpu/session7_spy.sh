#!/usr/bin/env bash
# Session 7, one H200 (#13): where the proxy's time before forwarding goes under the 256-request burst:
# bench serve (4 proxy workers, offline workload, ids prompts, default guardrails) with py-spy sampling
# the proxy supervisor and every child (workers, scan processes); collapsed stacks in $OUT.
set -u
OUT=${OUT:-/tmp/s7p}
. gpu/lib.sh
python3 -m pip install -q --no-deps --target /tmp/spy .whl/spy/*.whl >/dev/null 2>&1 || echo "py-spy install failed"
python3 -m engine.bench.shape_dir qwen3-0.6b /tmp/qwen3-text >/dev/null
timeout 200 python3 -m teecube.cli bench serve --model /tmp/qwen3-text --engine-arg=--load-format=dummy \
  --engine-arg=--max-model-len=4096 --engine-arg=--max-num-batched-tokens=16384 --engine-arg=--max-num-seqs=256 \
  --engine-arg=--engine-core-process=on --dataset offline-workload --num-prompts 256 --max-concurrency 256 \
  --start-proxy --proxy-arg=--workers=4 ${EXTRA:-} --save-result --result-dir "$OUT" --result-filename serve-spy.json \
  >/dev/null 2>"$OUT/serve-spy.log" &
BP=$!
SP=""
for i in $(seq 1 240); do SP=$(pgrep -f "teecube.cli proxy --no-tls" | head -1); [ -n "$SP" ] && break; sleep 0.5; done
echo "proxy supervisor pid=$SP after $i polls"
/tmp/spy/bin/py-spy record -p "$SP" --subprocesses -r 200 -f raw -o "$OUT/proxy-spy.txt" >"$OUT/spy.log" 2>&1 &
SPY=$!
wait $BP; echo "== bench rc=$?"
kill -INT $SPY 2>/dev/null; sleep 3; kill $SPY 2>/dev/null; tail -n 3 "$OUT/spy.log"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); p=r.get('proxy') or {}; k=('output_throughput','median_ttft_ms'); print(json.dumps({'direct': [r.get(x) for x in k], 'proxy': [p.get(x) for x in k], 'pre_forward_ms': p.get('proxy_pre_forward_mean_ms'), 'phases': p.get('proxy_phase_mean_ms')}))" "$OUT/serve-spy.json"
ls -la "$OUT"; wc -l "$OUT/proxy-spy.txt"
