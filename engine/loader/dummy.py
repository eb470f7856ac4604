"""`--load-format dummy` (vLLM's flag): a model of any HF config with random weights, no checkpoint read.

The config comes from a directory holding config.json (its tokenizer.json is used when present) or from a
named shape (engine/loader/shapes.py). Weights are small normal draws with every norm weight 1, so logits
stay in a sane range. Without a tokenizer, prompts are token ids and outputs decode to no text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.errors import ModelLoadError
from engine.loader.safetensors_dir import read_hf_config
from engine.loader.shapes import SHAPES

INIT_STD = 0.02


class TokenIdTokenizer:
    """For a model served without a tokenizer (vLLM's skip_tokenizer_init): prompts are token ids,
    nothing can be encoded, and every token decodes to no text."""

    def __init__(self, vocab_size: int, eos_token_ids: list[int]) -> None:
        self.vocab_size = vocab_size
        self.eos_token_ids = list(eos_token_ids)
        self.bos_token_id = None
        self.bos_token = None
        self.eos_token = None
        self.chat_template = None
        self.all_special_ids: frozenset[int] = frozenset()

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        raise ValueError("this model has no tokenizer: give prompts as token ids")

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return ""

    def id_to_token(self, token_id: int) -> str:
        return ""

    def token_to_id(self, token: str) -> None:
        return None

    def apply_chat_template(
        self, messages: list[dict[str, Any]], add_generation_prompt: bool = True, **kwargs: Any
    ) -> str:
        raise ValueError("this model has no tokenizer or chat template")


def has_tokenizer(tokenizer: Any) -> bool:
    return not isinstance(tokenizer, TokenIdTokenizer)


def dummy_hf_config(model: str) -> tuple[dict[str, Any], Path | None]:
    """(HF config, the directory it came from or None for a named shape)."""
    path = Path(model)
    if path.is_dir():
        return read_hf_config(path), path
    if path.is_file() and path.name == "config.json":
        return read_hf_config(path.parent), path.parent
    if model in SHAPES:
        return dict(SHAPES[model]), None
    names = ", ".join(sorted(SHAPES))
    raise ModelLoadError(
        f"{model}: --load-format dummy needs a directory holding config.json or a named shape ({names})"
    )


@torch.no_grad()
def init_random_(model: torch.nn.Module, seed: int = 0) -> None:
    """Fill every parameter in place (construction leaves them uninitialised): norm weights 1,
    everything else N(0, 0.02)."""
    first = next(model.parameters())
    gen = torch.Generator(device=first.device).manual_seed(seed)
    for name, param in model.named_parameters():
        if param.dim() == 1 and "norm" in name:
            param.fill_(1.0)
        else:
            param.normal_(0.0, INIT_STD, generator=gen)
