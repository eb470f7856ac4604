"""`EngineConfig`: one object per engine process, with vLLM's flag names."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.errors import InvalidParam


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
    quantization: str | None = None  # "fp8": online FP8 weights + activations (engine/quantization)
    kv_cache_dtype: str = "auto"  # "fp8" / "fp8_e4m3": an FP8 KV cache (engine/kv_cache_spec.py)

    def __post_init__(self) -> None:
        if self.device == "auto":
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
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
        from engine.kv_cache_spec import check_fp8_options

        check_fp8_options(self)
