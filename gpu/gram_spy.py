"""py-spy over the real step loop with a JSON schema on every request (issue #16): bench structured's
workload (qwen3-0.6b shape, dummy weights, BPE vocabulary), warmed with one no-schema and one schema run,
then py-spy attached (all threads, idle included, raw collapsed stacks to $OUT/gram-spy.txt) for three
schema runs. Prints each run's throughput. Run from the repo root: OUT=DIR PY_SPY=path/to/py-spy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from engine.bench import structured
from engine.bench.throughput import random_workload
from engine.structured.spec import json_schema_spec


def main() -> None:
    out = os.environ["OUT"]
    args = structured.parser().parse_args(
        ["--shape", "qwen3-0.6b", "--random-weights", "--tokenizer-json", ".whl/smollm2-tokenizer.json"]
    )
    llm, cache, _ = structured._llm(args)
    factory = cache.factory(json_schema_spec(structured.DEFAULT_SCHEMA, "json_schema"))
    prompts = random_workload(256, (128, 128), (1, 1), llm.spec.vocab_size, 0).prompts
    warm = [structured._run(llm, prompts, 256, f)["output_tok_per_s"] for f in (None, factory)]
    print("warm", json.dumps(warm))
    spy = subprocess.Popen(
        [os.environ.get("PY_SPY", "py-spy"), "record", "-p", str(os.getpid()), "--threads", "--idle",
         "-r", "250", "-f", "raw", "-o", f"{out}/gram-spy.txt"],
        stdout=subprocess.DEVNULL, stderr=open(f"{out}/spy.log", "w"),
    )
    time.sleep(2)
    runs = [structured._run(llm, prompts, 256, factory)["output_tok_per_s"] for _ in range(3)]
    runs.append(structured._run(llm, prompts, 256, None)["output_tok_per_s"])
    spy.send_signal(signal.SIGINT)
    spy.wait(timeout=30)
    print("schema x3, then no schema (under py-spy)", json.dumps(runs))


if __name__ == "__main__":
    main()
