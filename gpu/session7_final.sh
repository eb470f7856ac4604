#!/usr/bin/env bash
# Session 7, one H200: the FP8 GPU tests (the q-in-e4m3 variant test was changed in session 6 without a GPU
# run), then one more bench serve through 8 proxy workers (#13).
set -u
OUT=${OUT:-/tmp/s7f}
. gpu/lib.sh
t0=$SECONDS
timeout 170 python3 -m pytest tests/gpu/test_fp8_gpu.py -m gpu -q -p no:cacheprovider -rfE >"$OUT/fp8-tests.log" 2>&1
echo "== fp8 gpu tests rc=$? in $((SECONDS - t0)) s: $(tail -n 1 "$OUT/fp8-tests.log")"; grep -E "^(FAILED|ERROR)" "$OUT/fp8-tests.log" | head
MODES=${MODES:-w8} VOCABS=" " OUT=$OUT bash gpu/session7_more.sh 2>&1 | grep -v "^NVIDIA"
