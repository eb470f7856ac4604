"""Mixture-of-experts decoders: Mixtral, Qwen2-MoE (shared expert), Qwen3-MoE (q/k norm, norm_topk_prob).

The Llama-style decoder with engine/layers/moe.SparseMoeBlock as the MLP of its sparse layers
(DecoderConfig.is_moe_layer). Checkpoints hold one tensor per expert and projection; they are routed
to the fused expert weights with shard id (expert, gate | up | down). Mixtral's names
(block_sparse_moe, w1 / w3 / w2) are read as Qwen's (mlp, gate_proj / up_proj / down_proj)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import torch

from engine.models.decoder import DecoderForCausalLM

EXPERT = re.compile(r"^(.*\.mlp\.experts)\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$")
MIXTRAL_NAMES = {".w1.": ".gate_proj.", ".w3.": ".up_proj.", ".w2.": ".down_proj."}
PROJECTIONS = {"gate_proj": ("w13", "gate"), "up_proj": ("w13", "up"), "down_proj": ("w2", "down")}


class MoeForCausalLM(DecoderForCausalLM):
    def checkpoint_weights(
        self, weights: Iterable[tuple[str, torch.Tensor]]
    ) -> Iterator[tuple[str, torch.Tensor]]:
        for name, tensor in weights:
            if ".block_sparse_moe." in name:
                name = name.replace(".block_sparse_moe.", ".mlp.")
                for old, new in MIXTRAL_NAMES.items():
                    name = name.replace(old, new)
            yield name, tensor

    def checkpoint_tensors(self, param_name: str) -> int | None:
        """Checkpoint tensors behind a fused expert parameter (None: the loader's default)."""
        if param_name.endswith(".experts.w13"):
            return 2 * self.config.num_experts
        if param_name.endswith(".experts.w2"):
            return self.config.num_experts
        return None

    def checkpoint_shard(self, name: str) -> tuple[str, tuple[int, str], int] | None:
        """One expert's projection -> (fused parameter, (expert, projection), loads it expects)."""
        match = EXPERT.match(name)
        if match is None:
            return None
        prefix, expert, projection = match.groups()
        param, which = PROJECTIONS[projection]
        num_experts = self.config.num_experts
        return f"{prefix}.{param}", (int(expert), which), 2 * num_experts if param == "w13" else num_experts
