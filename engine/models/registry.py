"""Which model class runs an architecture (all take a DecoderConfig and a max position)."""

from __future__ import annotations

from torch import nn

from engine.models.config import GEMMA, MOE, DecoderConfig
from engine.models.decoder import DecoderForCausalLM
from engine.models.gemma import GemmaForCausalLM
from engine.models.moe import MoeForCausalLM
from engine.models.phi3 import Phi3ForCausalLM


def build_model(config: DecoderConfig, max_position: int | None = None) -> nn.Module:
    """The model for config.architecture, built on the current default device and dtype."""
    if config.architecture in GEMMA:
        return GemmaForCausalLM(config, max_position)
    if config.architecture == "Phi3ForCausalLM":
        return Phi3ForCausalLM(config, max_position)
    if config.architecture in MOE:
        return MoeForCausalLM(config, max_position)
    return DecoderForCausalLM(config, max_position)
