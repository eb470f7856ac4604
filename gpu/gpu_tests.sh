#!/usr/bin/env bash
# Session 4: every GPU test on one H200, families first (issue #21's parity), then FP8, kernels, grammar,
# serving. Run from the repo root with the wheels in .whl carried. Logs per file in $OUT, one tarball.
set -u
OUT=${OUT:-/tmp/gpu_tests_out}
mkdir -p "$OUT/logs"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
# The HF oracle at the version constraints.txt pins (the machine's own transformers may differ):
ls .whl/hf/*.whl >/dev/null 2>&1 && { python3 -m pip install -q --no-deps --target /tmp/site .whl/hf/*.whl >/dev/null 2>&1 || echo "hf wheel install failed"; }
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/logs/gpu.txt"
python3 -c "import torch, triton, transformers; print('torch', torch.__version__, 'triton', triton.__version__, 'transformers', transformers.__version__)" | tee -a "$OUT/logs/gpu.txt"
run() {  # file, seconds
    local f=$1 limit=$2 start=$SECONDS name
    name=$(basename "$f" .py)
    timeout -s INT -k 5 "$limit" python3 -m pytest -p no:cacheprovider -q -rfE -m gpu "$f" \
        --junitxml="$OUT/logs/$name.xml" >"$OUT/logs/$name.log" 2>&1
    echo "== $name rc=$? $((SECONDS - start)) s: $(tail -n 1 "$OUT/logs/$name.log")"
}
run tests/gpu/test_moe_gpu.py 90
run tests/gpu/test_window_families_gpu.py 60
run tests/gpu/test_engine_gpu.py 90
run tests/gpu/test_sliding_window_gpu.py 40
run tests/gpu/test_fp8_gpu.py 90
run tests/gpu/test_kernels_gpu.py 60
run tests/gpu/test_grammar_overlap_gpu.py 40
run tests/gpu/test_serve_dummy_gpu.py 60
grep -h -E "^(FAILED|ERROR)" "$OUT"/logs/*.log | head -40
tar czf "$OUT/gpu_tests.tgz" -C "$OUT" logs && rm -rf "$OUT/logs"
