#!/usr/bin/env bash
# Session 8, one H200 (#16): py-spy over the real step loop with a schema on every request (gpu/gram_spy.py).
set -u
OUT=${OUT:-/tmp/s8g}
. gpu/lib.sh
python3 -m pip install -q --no-deps --target /tmp/spy .whl/spy/*.whl >/dev/null 2>&1 || echo "py-spy install failed"
OUT=$OUT PY_SPY=/tmp/spy/bin/py-spy timeout 200 python3 gpu/gram_spy.py 2>"$OUT/gram.log"; echo "== rc=$?"; tail -n 3 "$OUT/spy.log"; tail -n 3 "$OUT/gram.log"
wc -l "$OUT/gram-spy.txt"; gzip -9 "$OUT/gram-spy.txt"; ls -la "$OUT"
