"""Embedding models (--task embed): decoder checkpoints (Qwen3-Embedding, gte-Qwen2 style) served by the
engine core's scheduler and step loop: prompts prefilled (chunked by the token budget), then their hidden
states pooled on the device (last token, mean or CLS) and normalized if the model is."""

from engine.pooling.pooler import PoolingConfig

__all__ = ["PoolingConfig"]
