"""`EngineConfig`: one object per engine process, with vLLM's flag names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import InvalidParam

# what the loader can read: "auto" picks GGUF or safetensors from the path; "dummy": random weights
LOAD_FORMATS = ("auto", "safetensors", "gguf", "dummy")
# the serving engine core (scheduler, model runner, sampler) in its own process, or in a thread of the
# server's; "auto": its own process on CUDA (engine/core_client.py)
ENGINE_CORE_PROCESS = ("auto", "on", "off")


@dataclass(slots=True)
class EngineConfig:
    model: str = ""
    served_model_name: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    max_model_len: int | None = None
    max_num_seqs: int = 256
    max_num_batched_tokens: int | None = None
    block_size: int = 16
    num_kv_blocks: int | None = None
    gpu_memory_utilization: float = 0.9
    cpu_kv_cache_space_gb: float = 1.0
    enable_prefix_caching: bool = True
    seed: int = 0
    enforce_eager: bool = False
    max_queue_size: int | None = None
    tensor_parallel_size: int = 1
    # loading (vLLM's flags): "auto" reads the checkpoint; "dummy" draws random weights for its config
    load_format: str = "auto"
    tokenizer: str | None = None  # a directory holding tokenizer.json, if not the model's own
    skip_tokenizer_init: bool = False  # prompts are token ids; outputs carry no text
    # serving behaviour, read by engine/server (vLLM's flags of the same names)
    chat_template: str | None = None  # the template itself (--chat-template FILE is read by the CLI)
    generation_config: str = "auto"  # "auto"/"vllm": the model's generation_config.json defaults; "none"
    default_sampling: dict[str, Any] = field(default_factory=dict)  # from generation_config.json
    enable_auto_tool_choice: bool = False
    tool_call_parser: str | None = None
    reasoning_parser: str | None = None
    guided_decoding_backend: str | None = None
    task: str = "generate"
    pooling_type: str | None = None  # --task embed: "last", "mean" or "cls" (None: the model files' choice)
    quantization: str | None = None  # "fp8": online FP8 weights + activations (engine/quantization)
    kv_cache_dtype: str = "auto"  # "fp8" / "fp8_e4m3": an FP8 KV cache (engine/kv_cache_spec.py)
    engine_core_process: str = "auto"  # AsyncEngine: the core in its own process ("on"), a thread ("off")

    def __post_init__(self) -> None:
        import torch  # here, so that the CLI parses flags without loading torch

        if self.device == "auto":
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        if self.pooling_type not in (None, "last", "mean", "cls"):
            raise ValueError("pooling_type must be 'last', 'mean' or 'cls'")
        if self.max_num_batched_tokens is None:
            self.max_num_batched_tokens = 8192 if self.device.startswith("cuda") else 2048
        if self.served_model_name is None:
            self.served_model_name = self.model
        for name in ("max_num_seqs", "max_num_batched_tokens", "block_size", "tensor_parallel_size"):
            if getattr(self, name) < 1:
                raise InvalidParam(name, "must be at least 1")
        if self.device.startswith("cuda") and self.tensor_parallel_size > torch.cuda.device_count():
            needed = self.tensor_parallel_size
            raise InvalidParam("tensor_parallel_size", f"needs {needed} GPUs (one per rank)")
        if self.num_kv_blocks is not None and self.num_kv_blocks < 1:
            raise InvalidParam("num_kv_blocks", "must be at least 1")
        if not 0.0 < self.gpu_memory_utilization <= 1.0:
            raise InvalidParam("gpu_memory_utilization", "must be in (0, 1]")
        if self.cpu_kv_cache_space_gb <= 0:
            raise InvalidParam("cpu_kv_cache_space_gb", "must be positive")
        if self.load_format not in LOAD_FORMATS:
            raise InvalidParam("load_format", f"must be one of {', '.join(LOAD_FORMATS)}")
        if self.engine_core_process not in ENGINE_CORE_PROCESS:
            raise InvalidParam("engine_core_process", f"must be one of {', '.join(ENGINE_CORE_PROCESS)}")
        from engine.kv_cache_spec import check_fp8_options

        check_fp8_options(self)
