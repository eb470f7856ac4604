# shellcheck shell=bash
# Sourced by the gpu/session7_*.sh scripts (from the repository root, after setting OUT): makes $OUT, installs
# the wheels carried in .whl/ into /tmp/site, sets the environment, prints the GPU's name.
mkdir -p "$OUT"
python3 -m pip install -q --no-deps --target /tmp/site .whl/*.whl >/dev/null 2>&1 || echo "wheel install failed"
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name --format=csv,noheader
