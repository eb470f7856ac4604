"""Pooling inside the engine's step loop: a step's hidden states (after the final norm) are pooled on the
device for each sequence whose prompt the step completes; a sequence split by chunked prefill carries its
partial (mean: the sum so far; cls: its first token's state) from chunk to chunk on the device."""

from __future__ import annotations

import torch

from engine.attention_metadata import AttentionMetadata
from engine.pooling.pooler import PoolingConfig
from engine.sequence import Sequence


class PoolRun:
    """A launched pooling step's vectors: float32 [len(seqs), H], copied to the host (CUDA: pinned,
    non-blocking, then an event), so waiting for them does not wait for the step queued after it."""

    def __init__(self, seqs: list[Sequence], vectors: torch.Tensor) -> None:
        self.seqs = seqs
        self.copied: torch.cuda.Event | None = None
        if vectors.is_cuda:
            host = torch.empty(vectors.shape, dtype=vectors.dtype, pin_memory=True)
            host.copy_(vectors, non_blocking=True)
            self.copied = torch.cuda.Event()
            self.copied.record()
            vectors = host
        self.host = vectors

    def result(self) -> torch.Tensor:
        if self.copied is not None:
            self.copied.synchronize()
            self.copied = None
        return self.host


def pool_step(
    hidden: torch.Tensor,
    meta: AttentionMetadata,
    seqs: list[Sequence],
    query_lens: list[int],
    starts: list[int],
    config: PoolingConfig,
) -> tuple[list[Sequence], torch.Tensor | None]:
    """The sequences this step's chunk completes and their pooled vectors ([F, H] float32, normalized if
    the model is); None when it completes none. hidden: [T, H], the scheduled chunks packed in order."""
    ends = zip(seqs, starts, query_lens, strict=True)
    done = [i for i, (s, a, n) in enumerate(ends) if a + n == s.num_tokens]
    kind = config.pooling_type
    if kind == "last" and not done:
        return [], None
    cu = meta.query_start_loc.long()
    if kind == "last":
        rows = hidden[cu[1:] - 1].float()
    elif kind == "cls":
        rows = hidden[cu[:-1]].float()  # each chunk's first token: the sequence's first where it starts at 0
    else:
        seg = torch.repeat_interleave(
            torch.arange(len(seqs), device=hidden.device), cu.diff(), output_size=hidden.shape[0]
        )
        rows = torch.zeros(len(seqs), hidden.shape[1], device=hidden.device)
        rows.index_add_(0, seg, hidden.float())
    if kind != "last":
        finishing = set(done)
        for i, (seq, a) in enumerate(zip(seqs, starts, strict=True)):
            if a > 0:  # a later chunk: the partial of the ones before (prefix caching is off for these)
                if seq.pool_partial is None:
                    raise RuntimeError("a later prefill chunk of a pooled sequence without its partial")
                rows[i] = seq.pool_partial if kind == "cls" else rows[i] + seq.pool_partial
            seq.pool_partial = None if i in finishing else rows[i].clone()
    if not done:
        return [], None
    out = rows[torch.tensor(done, device=hidden.device)]
    if kind == "mean":
        lens = [starts[i] + query_lens[i] for i in done]
        out = out / torch.tensor(lens, dtype=out.dtype, device=out.device).unsqueeze(1)
    if config.normalize:
        out = torch.nn.functional.normalize(out, dim=-1)
    return [seqs[i] for i in done], out
