"""One forward over a packed batch of whole sequences (prefill only) into a scratch paged KV cache,
then pooling. The model's own forward (DecoderModel) runs unchanged; the LM head never does."""

from __future__ import annotations

import torch

from engine.attention_metadata import build_attention_metadata
from engine.loader import LoadedModel
from engine.pooling.pooler import PoolingConfig, pool


class PoolingRunner:
    def __init__(
        self,
        loaded: LoadedModel,
        pooling: PoolingConfig,
        max_batch_tokens: int,
        max_seqs: int,
        block_size: int = 16,
    ) -> None:
        self.model, self.spec = loaded.model, loaded.spec
        self.pooling = pooling
        self.block_size = block_size
        self.device = next(self.model.parameters()).device
        # every sequence may waste one partial block
        num_blocks = -(-max_batch_tokens // block_size) + max_seqs
        shape = (2, num_blocks, block_size, self.spec.num_kv_heads, self.spec.head_dim)
        self.kv_caches = [
            torch.zeros(shape, dtype=self.spec.dtype, device=self.device) for _ in range(self.spec.num_layers)
        ]

    @torch.inference_mode()
    def hidden_states(self, batch: list[list[int]]) -> torch.Tensor:
        """Last-layer hidden states (after the final norm) of every token, packed: [sum(len), H]."""
        bs = self.block_size
        tables, next_block = [], 0
        for ids in batch:
            n = -(-len(ids) // bs)
            tables.append(list(range(next_block, next_block + n)))
            next_block += n
        lens = [len(ids) for ids in batch]
        meta = build_attention_metadata(lens, lens, tables, bs, self.device)
        input_ids = torch.tensor([t for ids in batch for t in ids], dtype=torch.int64, device=self.device)
        positions = torch.cat([torch.arange(n, device=self.device) for n in lens])
        return self.model(input_ids, positions, self.kv_caches, meta)

    def embed(self, batch: list[list[int]]) -> torch.Tensor:
        """[len(batch), H] float32 pooled (and normalized, if the model is) embeddings, on the CPU."""
        hidden = self.hidden_states(batch)
        return pool(hidden, [len(ids) for ids in batch], self.pooling).cpu()
