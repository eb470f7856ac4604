#!/usr/bin/env bash
# Issue #13, host time of the engine loop on one H200 (run from the repo root, under 3 minutes; files in $OUT):
# 1. engine/bench/host_profile.py on this machine's CPU (stand-in forward: schedule, prefix hashing, block
#    tables, inputs, sampler bookkeeping, collect) -> $OUT/host_profile.json; with git, also at the base
#    commit (a2b4bbf, before this work) -> $OUT/host_profile_base.json
# 2. bench throughput --shape qwen3-0.6b --random-weights --skip-hf --profile -> $OUT/bench.json
#    (fraction_of_roofline; profile.first_steps: the workload's first prefill steps, the prefix cache now
#    emptied first -- before this change that window was prefix hits over 256 resubmitted prompts;
#    profile.decode_steps: the full decode batch)
set -u
export OUT=${OUT:-out}
export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name --format=csv,noheader || true

t0=$SECONDS
timeout 40 python3 -m engine.bench.host_profile --repeats 3 >"$OUT/host_profile.json" 2>"$OUT/host_profile.log"
echo "== host_profile: rc=$? in $((SECONDS - t0)) s"
cat "$OUT/host_profile.json"
if git rev-parse --verify -q a2b4bbf >/dev/null 2>&1; then
  rm -rf /tmp/host_base && mkdir -p /tmp/host_base && git archive a2b4bbf | tar -x -C /tmp/host_base
  cp engine/bench/host_profile.py /tmp/host_base/engine/bench/
  t0=$SECONDS
  (cd /tmp/host_base && PYTHONPATH="/tmp/site:/tmp/host_base" timeout 40 python3 -m engine.bench.host_profile \
    --repeats 3 >"$OUT/host_profile_base.json" 2>"$OUT/host_profile_base.log")
  echo "== host_profile at a2b4bbf: rc=$? in $((SECONDS - t0)) s"
  cat "$OUT/host_profile_base.json"
fi

t0=$SECONDS
left=$((170 - SECONDS))
timeout "$((left > 60 ? left : 60))" python3 -m teecube.cli bench throughput --shape qwen3-0.6b --random-weights \
  --skip-hf --profile >"$OUT/bench.json" 2>"$OUT/bench.log"
echo "== bench: rc=$? in $((SECONDS - t0)) s"
python3 - "$OUT/bench.json" <<'PY' || tail -n 30 "$OUT/bench.log"
import json, sys
r = json.load(open(sys.argv[1]))
print("fraction_of_roofline", r["fraction_of_roofline"], "engine", json.dumps(r["engine"]))
for window in ("first_steps", "decode_steps"):
    w = (r.get("profile") or {}).get(window) or {}
    print(window, json.dumps({k: w.get(k) for k in ("steps", "wall_ms_per_step", "ms_per_step", "batch_size")}))
PY
