#!/usr/bin/env bash
# Session 6, one H200 (#19): FP8-KV decode attention variants (gpu/fp8_attn_variants.py), then llama3-8b
# bf16 vs FP8 vs FP8 + FP8 KV end to end with the variant that was fastest over the three shapes among
# those at the reference's accuracy (k16_*: q stays 16-bit) unless VARIANT is set. Few files in $OUT.
set -u
OUT=${OUT:-/tmp/s6f}; mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name --format=csv,noheader
t0=$SECONDS
OUT=$OUT timeout 200 python3 gpu/fp8_attn_variants.py >/dev/null 2>"$OUT/variants.log"
echo "== variants rc=$? in $((SECONDS - t0)) s"
best=$(python3 - "$OUT/fp8_attn_variants.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
shapes = [k for k in r if k.startswith("b")]
for s in shapes:
    rows = {k: v for k, v in r[s].items() if isinstance(v, dict) and isinstance(v.get("ms"), float)}
    top = sorted(rows, key=lambda k: rows[k]["ms"])[:8]
    print(s, " ".join(f"{k}={rows[k]['ms']}ms/{rows[k].get('tb_s')}TB/s/rms{rows[k].get('rel_rms_err')}" for k in top), file=sys.stderr)
    print(s, "bf16", rows.get("bf16", {}).get("ms"), "fp8_ref", rows.get("fp8_ref", {}).get("ms"), file=sys.stderr)
total = {}
for s in shapes:
    for k, v in r[s].items():
        if isinstance(v, dict) and isinstance(v.get("ms"), float) and k.startswith("k16"):
            total.setdefault(k, []).append(v["ms"] / r[s]["fp8_ref"]["ms"])
full = {k: sum(v) / len(v) for k, v in total.items() if len(v) == len(shapes)}
print(min(full, key=full.get) if full else "best")
PY
)
best=${VARIANT:-$best}
echo "== end to end with TEECUBE_FP8_DECODE_VARIANT=$best"
t0=$SECONDS
TEECUBE_FP8_DECODE_VARIANT=$best timeout 230 python3 -m teecube.cli bench throughput --shape llama3-8b --random-weights --skip-hf \
  --quantization fp8 --kv-cache-dtype fp8 --compare-bf16 --max-model-len 16384 --num-prompts 128 >"$OUT/bench-fp8-kv.json" 2>"$OUT/bench.log"
echo "== bench rc=$? in $((SECONDS - t0)) s"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(r['targets']), {k: (v['output_tok_per_s'], v['fraction_of_roofline']) for k, v in r['summary'].items()})" "$OUT/bench-fp8-kv.json" || tail -n 20 "$OUT/bench.log"
