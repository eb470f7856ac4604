"""Embedding models (--task embed): decoder checkpoints (Qwen3-Embedding, gte-Qwen2 style) run through
the same DecoderModel forward, pooled (last token or mean), normalized, batched by token budget."""

from engine.pooling.engine import AsyncPoolingEngine
from engine.pooling.pooler import PoolingConfig, pool

__all__ = ["AsyncPoolingEngine", "PoolingConfig", "pool"]
