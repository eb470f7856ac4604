"""The `vllm serve` flags teecube engine does not implement: accepted with a one-line warning where they
have no meaning here, refused (naming the flag) where ignoring them would silently change behaviour.

The flags teecube implements are in engine/cli.py; `--config FILE` (vLLM's YAML of flag: value) is
expanded here too, so a unit file or config written for vLLM starts teecube engine unchanged.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEST_PREFIX = "vllm_flag_"


@dataclass(frozen=True, slots=True)
class VllmFlag:
    names: tuple[str, ...]  # the long name first, then vLLM's short aliases
    arity: str  # "bool": a switch (with --no-X); "value": one argument; "values": one or more
    why: str  # why it is ignored, or why a value other than the harmless ones is refused
    harmless: Callable[[Any], bool] | None = None  # None: any value is only warned about

    @property
    def dest(self) -> str:
        return DEST_PREFIX + self.names[0].lstrip("-").replace("-", "_")


def _is(*values: Any) -> Callable[[Any], bool]:
    return lambda value: value in values


def _at_most_one(value: Any) -> bool:
    return int(value) <= 1


def _off(value: Any) -> bool:
    return value is False


NO_GPU_LOGS = "teecube logs no request or output content, ever"
NO_EFFECT = "has no effect in teecube engine"
TEXT_ONLY = "teecube serves text-only decoder models"
NO_LORA = "LoRA adapters are not supported; serving the base model instead would answer for the adapter"

# fmt: off
FLAGS: tuple[VllmFlag, ...] = (
    # frontend
    VllmFlag(("--allow-credentials",), "bool", "CORS is not served (the proxy is the only client)"),
    VllmFlag(("--allowed-origins",), "value", "CORS is not served (the proxy is the only client)"),
    VllmFlag(("--allowed-methods",), "value", "CORS is not served (the proxy is the only client)"),
    VllmFlag(("--allowed-headers",), "value", "CORS is not served (the proxy is the only client)"),
    VllmFlag(("--root-path",), "value", "routes are served at /v1 whatever the prefix of a proxy in front"),
    VllmFlag(("--middleware",), "values", "Python middleware cannot be loaded",
             _is(None, [])),
    VllmFlag(("--response-role",), "value", "the response role is always 'assistant'", _is("assistant")),
    VllmFlag(("--return-tokens-as-token-ids",), "bool", "logprob tokens are always strings", _off),
    VllmFlag(("--chat-template-content-format",), "value", "content is rendered as the template expects"),
    VllmFlag(("--disable-frontend-multiprocessing",), "bool", NO_EFFECT),
    VllmFlag(("--enable-request-id-headers",), "bool", "X-Request-Id is always sent"),
    VllmFlag(("--tool-parser-plugin",), "value", "tool parsers are built in"),
    VllmFlag(("--tool-server",), "value", "built-in tools are not served"),
    VllmFlag(("--exclude-tools-when-tool-choice-none",), "bool", NO_EFFECT),
    VllmFlag(("--log-config-file",), "value", "use --log-level"),
    VllmFlag(("--max-log-len",), "value", NO_GPU_LOGS),
    VllmFlag(("--disable-fastapi-docs",), "bool", "no API docs are served"),
    VllmFlag(("--enable-prompt-tokens-details",), "bool", NO_EFFECT),
    VllmFlag(("--enable-server-load-tracking",), "bool", NO_EFFECT),
    VllmFlag(("--enable-force-include-usage",), "bool", "usage is sent when the request asks for it"),
    VllmFlag(("--enable-tokenizer-info-endpoint",), "bool", NO_EFFECT),
    VllmFlag(("--enable-log-outputs",), "bool", NO_GPU_LOGS),
    VllmFlag(("--enable-log-requests",), "bool", NO_GPU_LOGS),
    VllmFlag(("--disable-log-requests",), "bool", NO_GPU_LOGS),
    VllmFlag(("--disable-log-stats",), "bool", "statistics are served at /metrics, never logged"),
    VllmFlag(("--h11-max-incomplete-event-size",), "value", NO_EFFECT),
    VllmFlag(("--h11-max-header-count",), "value", NO_EFFECT),
    VllmFlag(("--log-error-stack",), "bool", "stack traces are logged, never sent to clients"),
    VllmFlag(("--enable-ssl-refresh",), "bool", "restart the engine to load a new certificate"),
    VllmFlag(("--headless",), "bool", NO_EFFECT),
    VllmFlag(("--api-server-count", "-asc"), "value", "one server process per engine"),
    VllmFlag(("--prompt-adapters",), "values", "prompt adapters are not supported", _is(None, [])),
    # model
    VllmFlag(("--runner",), "value", "generation or pooling (embeddings) is served",
             _is("auto", "generate", "pooling")),
    VllmFlag(("--convert",), "value", "only embedding pooling is served", _is("auto", "none", "embed")),
    VllmFlag(("--tokenizer-mode",), "value", "only HF fast tokenizers are loaded", _is("auto", "hf", "slow")),
    VllmFlag(("--trust-remote-code",), "bool", "no remote code is ever run: architectures are built in"),
    VllmFlag(("--hf-config-path",), "value", "the config is read from the model", _is(None)),
    VllmFlag(("--allowed-local-media-path",), "value", TEXT_ONLY),
    VllmFlag(("--allowed-media-domains",), "values", TEXT_ONLY),
    VllmFlag(("--code-revision",), "value", "no remote code is ever run"),
    VllmFlag(("--tokenizer-revision",), "value", "the tokenizer is read with the model's --revision"),
    VllmFlag(("--rope-scaling",), "value", "the model's own RoPE settings are used", _is(None)),
    VllmFlag(("--rope-theta",), "value", "the model's own RoPE settings are used", _is(None)),
    VllmFlag(("--hf-overrides",), "value", "the model's config is used as it is", _is(None, "{}")),
    VllmFlag(("--max-logprobs",), "value", "top_logprobs is limited to 20, as OpenAI's API"),
    VllmFlag(("--logprobs-mode",), "value", "logprobs are the model's raw log-probabilities",
             _is("raw_logprobs")),
    VllmFlag(("--disable-sliding-window",), "bool", "sliding windows are always honoured"),
    VllmFlag(("--disable-cascade-attn",), "bool", NO_EFFECT),
    VllmFlag(("--enable-prompt-embeds",), "bool", "prompt embeddings are not accepted", _off),
    VllmFlag(("--config-format",), "value", "HF configs are read"),
    VllmFlag(("--hf-token",), "value", "the engine never downloads (models come from disk or the HF cache)"),
    VllmFlag(("--pooler-config", "--override-pooler-config"), "value", "pooling models are not served"),
    VllmFlag(("--logits-processor-pattern",), "value", "custom logits processors cannot be loaded",
             _is(None)),
    VllmFlag(("--logits-processors",), "values", "custom logits processors cannot be loaded", _is(None, [])),
    VllmFlag(("--enable-sleep-mode",), "bool", NO_EFFECT),
    VllmFlag(("--model-impl",), "value", "the engine's own model implementation is used"),
    VllmFlag(("--override-attention-dtype",), "value", NO_EFFECT),
    VllmFlag(("--io-processor-plugin",), "value", NO_EFFECT),
    VllmFlag(("--max-seq-len-to-capture",), "value", "CUDA graphs cover decode batch sizes"),
    VllmFlag(("--structured-outputs-config",), "value", "use --guided-decoding-backend"),
    VllmFlag(("--reasoning-parser-plugin",), "value", "reasoning parsers are built in"),
    # loading
    VllmFlag(("--safetensors-load-strategy",), "value", NO_EFFECT),
    VllmFlag(("--model-loader-extra-config",), "value", NO_EFFECT),
    VllmFlag(("--ignore-patterns",), "values", NO_EFFECT),
    VllmFlag(("--use-tqdm-on-load",), "bool", NO_EFFECT),
    VllmFlag(("--pt-load-map-location",), "value", "pickled checkpoints are never loaded"),
    # parallelism
    VllmFlag(("--pipeline-parallel-size", "-pp"), "value", "only tensor parallelism is supported",
             _at_most_one),
    VllmFlag(("--data-parallel-size", "-dp"), "value", "run one engine per replica behind the proxy",
             _at_most_one),
    VllmFlag(("--data-parallel-rank", "-dpn"), "value", "run one engine per replica behind the proxy"),
    VllmFlag(("--data-parallel-start-rank", "-dpr"), "value", "run one engine per replica behind the proxy"),
    VllmFlag(("--data-parallel-size-local", "-dpl"), "value", "run one engine per replica behind the proxy"),
    VllmFlag(("--data-parallel-address", "-dpa"), "value", "run one engine per replica behind the proxy"),
    VllmFlag(("--data-parallel-rpc-port", "-dpp"), "value", "run one engine per replica behind the proxy"),
    VllmFlag(("--data-parallel-backend", "-dpb"), "value", "run one engine per replica behind the proxy"),
    VllmFlag(("--data-parallel-hybrid-lb",), "bool", "run one engine per replica behind the proxy"),
    VllmFlag(("--decode-context-parallel-size", "-dcp"), "value", "context parallelism is not supported",
             _at_most_one),
    VllmFlag(("--distributed-executor-backend",), "value", "tensor-parallel ranks are local processes"),
    VllmFlag(("--enable-expert-parallel",), "bool", "mixture-of-experts models are not served"),
    VllmFlag(("--enable-eplb",), "bool", "mixture-of-experts models are not served"),
    VllmFlag(("--eplb-config",), "value", "mixture-of-experts models are not served"),
    VllmFlag(("--expert-placement-strategy",), "value", "mixture-of-experts models are not served"),
    VllmFlag(("--enable-dbo",), "bool", NO_EFFECT),
    VllmFlag(("--max-parallel-loading-workers",), "value", NO_EFFECT),
    VllmFlag(("--ray-workers-use-nsight",), "bool", "Ray is not used"),
    VllmFlag(("--disable-custom-all-reduce",), "bool", "NCCL's all-reduce is used"),
    VllmFlag(("--worker-cls",), "value", "the engine's own worker is used", _is(None, "auto")),
    VllmFlag(("--worker-extension-cls",), "value", "the engine's own worker is used", _is(None, "")),
    # cache
    VllmFlag(("--swap-space",), "value", "preempted requests are recomputed, not swapped to the CPU"),
    VllmFlag(("--kv-cache-memory-bytes",), "value", "use --num-gpu-blocks-override",
             _is(None)),
    VllmFlag(("--prefix-caching-hash-algo",), "value", NO_EFFECT),
    VllmFlag(("--cpu-offload-gb",), "value", "weights are not offloaded to the CPU", lambda v: float(v) == 0),
    VllmFlag(("--calculate-kv-scales",), "bool", "the KV cache is stored in the model's dtype"),
    VllmFlag(("--kv-sharing-fast-prefill",), "bool", NO_EFFECT),
    VllmFlag(("--mamba-cache-dtype",), "value", "Mamba models are not served"),
    VllmFlag(("--mamba-ssm-cache-dtype",), "value", "Mamba models are not served"),
    # multimodal
    VllmFlag(("--limit-mm-per-prompt",), "value", TEXT_ONLY),
    VllmFlag(("--media-io-kwargs",), "value", TEXT_ONLY),
    VllmFlag(("--mm-processor-kwargs",), "value", TEXT_ONLY),
    VllmFlag(("--mm-processor-cache-gb",), "value", TEXT_ONLY),
    VllmFlag(("--disable-mm-preprocessor-cache",), "bool", TEXT_ONLY),
    VllmFlag(("--mm-encoder-tp-mode",), "value", TEXT_ONLY),
    VllmFlag(("--interleave-mm-strings",), "bool", TEXT_ONLY),
    VllmFlag(("--skip-mm-profiling",), "bool", TEXT_ONLY),
    # LoRA
    VllmFlag(("--enable-lora",), "bool", NO_LORA, _off),
    VllmFlag(("--lora-modules",), "values", NO_LORA, _is(None, [])),
    VllmFlag(("--enable-lora-bias",), "bool", NO_LORA),
    VllmFlag(("--max-loras",), "value", NO_LORA),
    VllmFlag(("--max-lora-rank",), "value", NO_LORA),
    VllmFlag(("--lora-extra-vocab-size",), "value", NO_LORA),
    VllmFlag(("--lora-dtype",), "value", NO_LORA),
    VllmFlag(("--max-cpu-loras",), "value", NO_LORA),
    VllmFlag(("--fully-sharded-loras",), "bool", NO_LORA),
    VllmFlag(("--default-mm-loras",), "value", NO_LORA),
    # observability
    VllmFlag(("--show-hidden-metrics-for-version",), "value", "every metric is shown"),
    VllmFlag(("--otlp-traces-endpoint",), "value", "traces are not exported (they would carry request data)"),
    VllmFlag(("--collect-detailed-traces",), "value", "traces are not exported"),
    # scheduler
    VllmFlag(("--enable-chunked-prefill",), "bool", "long prompts are always prefilled in chunks"),
    VllmFlag(("--max-num-partial-prefills",), "value", NO_EFFECT),
    VllmFlag(("--max-long-partial-prefills",), "value", NO_EFFECT),
    VllmFlag(("--long-prefill-token-threshold",), "value", NO_EFFECT),
    VllmFlag(("--num-lookahead-slots",), "value", NO_EFFECT),
    VllmFlag(("--scheduling-policy",), "value", "requests are served first come, first served",
             _is("fcfs")),
    VllmFlag(("--disable-chunked-mm-input",), "bool", TEXT_ONLY),
    VllmFlag(("--scheduler-cls",), "value", "the engine's own scheduler is used", _is(None)),
    VllmFlag(("--disable-hybrid-kv-cache-manager",), "bool", NO_EFFECT),
    VllmFlag(("--async-scheduling",), "bool", NO_EFFECT),
    VllmFlag(("--cuda-graph-sizes",), "values", "CUDA graphs cover decode batch sizes up to --max-num-seqs"),
    VllmFlag(("--preemption-mode",), "value", "preempted requests are recomputed"),
    VllmFlag(("--num-scheduler-steps",), "value", NO_EFFECT),
    VllmFlag(("--multi-step-stream-outputs",), "bool", NO_EFFECT),
    VllmFlag(("--use-v2-block-manager",), "bool", NO_EFFECT),
    VllmFlag(("--disable-async-output-proc",), "bool", NO_EFFECT),
    VllmFlag(("--tokenizer-pool-size",), "value", NO_EFFECT),
    # speculative decoding, compilation, disaggregation
    VllmFlag(("--speculative-config",), "value", "speculative decoding is not supported"),
    VllmFlag(("--compilation-config", "-O"), "value", "CUDA graphs follow --enforce-eager"),
    VllmFlag(("--kv-transfer-config",), "value", "KV transfer (disaggregated prefill) is not supported",
             _is(None)),
    VllmFlag(("--kv-events-config",), "value", "KV cache events are not published", _is(None)),
    VllmFlag(("--additional-config",), "value", NO_EFFECT),
)
# fmt: on
FLAGS_BY_NAME = {flag.names[0]: flag for flag in FLAGS}


def add_vllm_flags(parser: argparse.ArgumentParser) -> None:
    """Every flag in FLAGS, defaulting to 'not given' (absent from the namespace)."""
    group = parser.add_argument_group("vLLM flags accepted for compatibility (warned or refused)")
    for flag in FLAGS:
        common: dict[str, Any] = dict(dest=flag.dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if flag.arity == "bool":
            group.add_argument(*flag.names, action=argparse.BooleanOptionalAction, **common)
        elif flag.arity == "values":
            group.add_argument(*flag.names, nargs="+", **common)
        else:
            group.add_argument(*flag.names, **common)


class RefusedFlag(ValueError):
    """A vLLM flag whose value would change behaviour if ignored."""


def check_vllm_flags(args: argparse.Namespace) -> list[str]:
    """The one-line warnings for the ignored flags given; raises RefusedFlag for a refused one."""
    warnings = []
    for flag in FLAGS:
        if not hasattr(args, flag.dest):
            continue
        value = getattr(args, flag.dest)
        name = flag.names[0]
        try:
            harmless = flag.harmless is None or flag.harmless(value)
        except (TypeError, ValueError):
            harmless = False
        if not harmless:
            shown = (
                "" if value is True else " " + (" ".join(value) if isinstance(value, list) else str(value))
            )
            raise RefusedFlag(f"{name}{shown}: not supported: {flag.why}")
        if flag.harmless is None:  # a harmless value of a checked flag is what teecube does anyway
            warnings.append(f"{name} ignored: {flag.why}")
    return warnings


def task_from_flags(args: argparse.Namespace) -> str:
    """--task, or vLLM's newer spelling of it: `--runner pooling` and/or `--convert embed` mean
    `--task embed`; `--runner generate` with `--convert embed` is refused."""
    task = str(getattr(args, "task", None) or "generate")
    runner = getattr(args, FLAGS_BY_NAME["--runner"].dest, "auto")
    convert = getattr(args, FLAGS_BY_NAME["--convert"].dest, "auto")
    if runner == "generate" and convert == "embed":
        raise RefusedFlag(
            "--runner generate --convert embed: not supported: embeddings need --runner pooling"
        )
    if runner == "pooling" or convert == "embed":
        return "embed"
    return task


def expand_config_file(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`--config FILE` (vLLM's YAML of flag: value) becomes flags placed before the rest of argv, so that
    flags on the command line win. true is a switch, false its --no- form (or nothing when the switch
    has none: off is its default), a list several values, a mapping JSON."""
    if "--config" not in argv and not any(a.startswith("--config=") for a in argv):
        return argv
    rest: list[str] = []
    path: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--config" and i + 1 < len(argv):
            path, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--config="):
            path = arg.partition("=")[2]
        else:
            rest.append(arg)
        i += 1
    if path is None:
        return argv
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RefusedFlag(f"--config {path}: cannot read it: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise RefusedFlag(f"--config {path}: expected a mapping of flag: value")
    flags: list[str] = []
    for key, value in data.items():
        name = "--" + str(key).replace("_", "-")
        if value is True:
            flags.append(name)
        elif value is False:
            if "--no-" + name[2:] in parser._option_string_actions:
                flags.append("--no-" + name[2:])
        elif isinstance(value, list):
            flags += [name, *map(str, value)]
        elif isinstance(value, dict):
            flags += [name, json.dumps(value)]
        else:
            flags += [name, str(value)]
    return flags + rest
