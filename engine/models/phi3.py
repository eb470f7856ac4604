"""Phi-3 / Phi-4: the Llama-style decoder with checkpoints that store qkv_proj and gate_up_proj fused.

The fused tensors are cut back into q/k/v and gate/up before loading, so each rank takes its heads and
its half-slices exactly as for Llama (tensor parallelism unchanged). LongRoPE and partial rotary come
through DecoderConfig (engine/layers/rotary_embedding.py); Phi-3's sliding window through the layers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from engine.models.decoder import DecoderForCausalLM


class Phi3ForCausalLM(DecoderForCausalLM):
    def checkpoint_tensors(self, param_name: str) -> int | None:
        """qkv_proj and gate_up_proj are one checkpoint tensor each."""
        return 1 if param_name.endswith((".qkv_proj.weight", ".gate_up_proj.weight")) else None

    def checkpoint_weights(
        self, weights: Iterable[tuple[str, torch.Tensor]]
    ) -> Iterator[tuple[str, torch.Tensor]]:
        config = self.config
        q_size = config.num_heads * config.head_dim
        kv_size = config.num_kv_heads * config.head_dim
        for name, tensor in weights:
            if ".qkv_proj." in name:
                q, k, v = tensor.split([q_size, kv_size, kv_size], dim=0)
                for part, t in (("q_proj", q), ("k_proj", k), ("v_proj", v)):
                    yield name.replace(".qkv_proj.", f".{part}."), t
            elif ".gate_up_proj." in name:
                gate, up = tensor.chunk(2, dim=0)
                yield name.replace(".gate_up_proj.", ".gate_proj."), gate
                yield name.replace(".gate_up_proj.", ".up_proj."), up
            else:
                yield name, tensor
