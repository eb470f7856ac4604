#!/usr/bin/env bash
# Session 8, one H200 (#13): GPU tests of the fused q/k-norm + rotary + KV-store kernel and the one-split
# decode path, the bf16 decode-attention sweep (gpu/decode_sweep.py), and the offline bench of this tree
# against the previous commit's engine (carried in base/). The stages now live in gpu/session9.sh (a
# superset; fp8bench writes fp8bench.json there); this keeps session 8's defaults.
OUT=${OUT:-/tmp/s8} STAGES=${STAGES:-"tests sweep base new"} exec bash "$(dirname "$0")/session9.sh"
