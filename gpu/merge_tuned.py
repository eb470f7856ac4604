"""Merge a sweep's "tuned" rows (gpu/gemm256_sweep.py's last JSON line) into a 16-bit skinny GEMM table
(engine/kernels/configs/bf16_skinny_sm90_132sm.json's format) for an end-to-end A/B through
TEECUBE_BF16_SKINNY_TUNED. A measured (N, K) the table lacked gets a null (cuBLAS) row at M = 64, so
smaller batches keep cuBLAS; measured rows replace the table's rows at the same (N, K, M).
Usage: python3 gpu/merge_tuned.py TABLE SWEEP_JSONL OUT"""

from __future__ import annotations

import json
import sys


def main() -> None:
    table_path, sweep_path, out_path = sys.argv[1:4]
    table = json.load(open(table_path))
    sweep = [json.loads(line) for line in open(sweep_path) if line.startswith("{")]
    new = next(s for s in reversed(sweep) if "tuned" in s)["tuned"]
    rows = {(r["n"], r["k"], r["m"]): r for r in table["tuned"]}
    known = {(n, k) for n, k, _ in rows}
    for r in new:
        if (r["n"], r["k"]) not in known:
            rows.setdefault((r["n"], r["k"], 64), {"m": 64, "n": r["n"], "k": r["k"], "config": None})
        rows[(r["n"], r["k"], r["m"])] = r
    table["tuned"] = sorted(rows.values(), key=lambda r: (r["n"], r["k"], r["m"]))
    table["note"] = f"{table.get('note', '')}; merged with {sweep_path}"
    json.dump(table, open(out_path, "w"), indent=1)
    wins = [r for r in new if r["config"]]
    print(json.dumps({"merged": out_path, "rows": len(table["tuned"]), "new_wins": len(wins)}))


if __name__ == "__main__":
    main()
