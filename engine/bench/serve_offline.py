"""`teecube bench serve --compare-offline`: the same requests through `bench throughput`'s offline runner,
before the server starts, with the engine flags the server will get. It runs in a child process
(`python -m engine.bench.serve_offline`), so that every byte of GPU memory it held (KV cache, CUDA
graph pools) is free again when the server sizes its KV cache."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import inspect
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from engine.bench.serve_client import BenchRequest
from engine.bench.throughput import Workload, run_engine


def engine_config(model: str, engine_args: list[str]) -> Any:
    """The EngineConfig `teecube engine MODEL ENGINE_ARGS` would run with."""
    from engine.cli import build_parser, configs

    config, _ = configs(build_parser().parse_args([model, *engine_args]))
    return config


def run_offline(model: str, engine_args: list[str], requests: list[BenchRequest], temperature: float,
                seed: int) -> dict[str, Any]:  # fmt: skip
    """Output and total tok/s of the offline engine on these requests (token ids in and out, no
    detokenization), then every GPU byte it held released for the server."""
    import torch

    from engine.llm import LLM

    config = engine_config(model, engine_args)
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "model"}
    llm = LLM(config.model, **fields)
    try:
        prompts = [
            r.prompt if isinstance(r.prompt, list) else llm.tokenizer.encode(r.prompt) for r in requests
        ]
        workload = Workload(prompts, [r.max_tokens for r in requests], seed)
        # the fastest offline loop `bench throughput` has (engine/overlap.py while it exists; once the
        # engine has one loop, run_engine has no such choice and this is that loop)
        fastest = {"overlap": True} if "overlap" in inspect.signature(run_engine).parameters else {}
        result = run_engine(llm, workload, temperature, detokenize=False, **fastest)
        result["loop"] = "overlap" if fastest else "engine"
        result["prompt_tokens"] = workload.prompt_tokens
    finally:
        llm.shutdown()
    del llm
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return result


def run_offline_in_child(
    model: str, engine_args: list[str], requests: list[BenchRequest], temperature: float, seed: int
) -> dict[str, Any]:
    """run_offline in a child process (its GPU memory is gone when it exits); returns its JSON."""
    with tempfile.TemporaryDirectory(prefix="teecube-offline-") as tmp:
        path = Path(tmp) / "requests.json"
        path.write_text(json.dumps([[r.prompt, r.max_tokens] for r in requests]))
        cmd = [sys.executable, "-m", "engine.bench.serve_offline", "--model", model, "--requests", str(path)]
        cmd += ["--temperature", str(temperature), "--seed", str(seed)]
        cmd += [f"--engine-arg={a}" for a in engine_args]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the offline run failed with status {done.returncode} (its log is above)")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m engine.bench.serve_offline", description=__doc__.splitlines()[0]
    )
    p.add_argument("--model", required=True)
    p.add_argument("--requests", required=True, help="JSON: [[prompt, max_tokens], ...]")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--engine-arg", action="append", default=[])
    args = p.parse_args(argv)
    requests = [BenchRequest(prompt, n) for prompt, n in json.loads(Path(args.requests).read_text())]
    print(json.dumps(run_offline(args.model, args.engine_arg, requests, args.temperature, args.seed)))
    return 0


def offline_vs_serve(offline: dict[str, Any], serve: dict[str, Any]) -> dict[str, float | None]:
    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 4) if a is not None and b else None

    return {
        "output_throughput": ratio(serve.get("output_throughput"), offline["output_tok_per_s"]),
        "total_token_throughput": ratio(serve.get("total_token_throughput"), offline["total_tok_per_s"]),
    }


__all__ = ["engine_config", "offline_vs_serve", "run_offline"]


if __name__ == "__main__":
    sys.exit(main())
