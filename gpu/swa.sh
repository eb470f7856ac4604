#!/usr/bin/env bash
# Session 3, branch swa (issue #21): on one H200, from the repo root. Under 4 minutes (each step capped).
# 1. Mistral / Qwen2 / Qwen2-MoE sliding windows: greedy parity with HF, graphs on/off, prefix hits.
# 2. The windowed paged kernels against the reference.  3. The fused MoE (new tile defaults) against
# the reference, and greedy parity of Gemma 2/3, Phi-3, Mixtral, Qwen MoE.  4. The MoE tile sweep at
# qwen3-30b-a3b's shapes -> $OUT/moe_sweep.json.  5. Dense greedy parity (Llama, Mistral, Qwen2/3).
# 6. Diagnosis of the gemma2 greedy failure seen on an H200 (Triton vs PyTorch attention, batched/alone).
# Per-step summary: $OUT/summary.jsonl; logs: $OUT/<step>.log; JUnit XML: $OUT/<step>.xml.
set -u
OUT=${OUT:-/tmp/swa_out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PYTEST="python3 -m pytest -p no:cacheprovider -q -rfE -m gpu"

step() {  # name, seconds, command...
    local name=$1 limit=$2 start rc
    shift 2
    start=$(date +%s)
    timeout -s INT -k 5 "$limit" "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $(($(date +%s) - start))}" | tee -a "$OUT/summary.jsonl"
    tail -n 4 "$OUT/$name.log"
}

nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
step window_families 45 $PYTEST tests/gpu/test_window_families_gpu.py --junitxml="$OUT/window_families.xml"
step sliding_window_kernels 30 $PYTEST tests/gpu/test_sliding_window_gpu.py --junitxml="$OUT/sliding_window_kernels.xml"
step moe_gpu 60 $PYTEST tests/gpu/test_moe_gpu.py --junitxml="$OUT/moe_gpu.xml"
step moe_sweep 70 python3 -m engine.bench.moe_sweep --tokens 1,4,16,64,128,256,4096 --out "$OUT/moe_sweep.json"
step engine_greedy 30 $PYTEST tests/gpu/test_engine_gpu.py -k greedy --junitxml="$OUT/engine_greedy.xml"
step gemma2_diag 30 python3 gpu/gemma2_diag.py
echo "best MoE tiles (TEECUBE_MOE_CONFIG table):"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); [print(json.dumps({k: r[k] for k in ('num_tokens','best_us','default_us','old_us','weight_gbps','tflops','best')})) for r in d['results']]" "$OUT/moe_sweep.json" 2>/dev/null || grep '"num_tokens"' "$OUT/moe_sweep.log"
