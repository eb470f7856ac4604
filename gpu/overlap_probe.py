"""Would two micro-batches on two streams close llama3-8b's gap? A probe for issue #13 (no engine change).

At 256 live sequences a llama3-8b decode step is ~15 ms on an H100: GEMMs ~7.1 ms (near the ridge point,
neither bound reached), decode attention ~6.8 ms (memory-bound). One stream runs them in turn. Split the
batch in two halves A and B and a layer can run A's GEMMs on one stream while B's attention runs on the
other, then swap. Per batch size this times, for one layer's work repeated LAYERS times:

- `sequential_ms`: GEMMs (qkv, o, gate_up, down) then attention, whole batch, one stream (today);
- `halves_ms`: the same for half the batch (each half alone, one stream);
- `overlapped_ms`: per layer, GEMMs of A beside attention of B, then attention of A beside GEMMs of B (two
  streams, joined per phase);
- `gain`: sequential / overlapped. Above ~1.1 the engine-side work (two half-batch CUDA graphs, attention
  split by sequence) is worth a session; near 1.0 the GPU already runs out of one resource.

Run from the repo root: PYTHONPATH=$PWD python3 gpu/overlap_probe.py [--batches 256,192,128] (JSON lines).
`--device cpu` runs tiny shapes once through the same code (a smoke test; TRITON_INTERPRET=1 needed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from engine.kernels.decode_attention import decode_attention
from gpu.decode_sweep import BATCHES, HEAD_DIM, KV_HEADS, paged_batch

HIDDEN, INTER, Q_HEADS = 4096, 14336, 32  # llama3-8b (8 KV heads of 128: decode_sweep's)
CONTEXT = BATCHES[256]  # live contexts at a full batch of the offline workload


def weights(hidden: int, inter: int, q: int, kv: int, dim: int, device: str, dtype: torch.dtype) -> list:
    """qkv, o, gate_up, down as the engine stores them: [out, in], applied by F.linear (x @ W^T)."""
    shapes = [((q + 2 * kv) * dim, hidden), (hidden, q * dim), (2 * inter, hidden), (hidden, inter)]
    return [torch.randn(n, k, device=device, dtype=dtype) * 0.02 for n, k in shapes]


def gemms(x: torch.Tensor, w: list[torch.Tensor]) -> torch.Tensor:
    """One layer's matrix products for rows x (activations stand in: only the shapes matter)."""
    qkv = F.linear(x, w[0])
    out = F.linear(qkv[:, : w[1].shape[1]].contiguous(), w[1])
    up = F.linear(out, w[2])
    return F.linear(up[:, : w[3].shape[1]].contiguous(), w[3])


class Streams:
    """Two side streams joined to the current one per phase (plain calls on a CPU)."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.side = [torch.cuda.Stream(), torch.cuda.Stream()] if cuda else [None, None]

    @contextlib.contextmanager
    def on(self, i: int) -> Iterator[None]:
        if not self.cuda:
            yield
            return
        self.side[i].wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.side[i]):
            yield

    def join(self) -> None:
        if self.cuda:
            for s in self.side:
                torch.cuda.current_stream().wait_stream(s)


def timed(fn: Callable[[], object], cuda: bool, reps: int) -> float:
    """Median milliseconds of fn() over reps (after two warm-up calls)."""
    fn()
    fn()
    times = []
    for _ in range(reps):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
    return sorted(times)[len(times) // 2]


def probe(batch: int, layers: int, reps: int, device: str, small: bool) -> dict[str, object]:
    cuda = device == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    dims = (64, 128, 4, 2, 32) if small else (HIDDEN, INTER, Q_HEADS, KV_HEADS, HEAD_DIM)
    hidden, inter, q_heads, kv, dim = dims
    lo, hi = (8, 40) if small else CONTEXT
    gen = torch.Generator().manual_seed(0)
    w = weights(hidden, inter, q_heads, kv, dim, device, dtype)
    half = batch // 2
    xs = [torch.randn(n, hidden, device=device, dtype=dtype) for n in (batch, half, half)]
    whole = paged_batch(q_heads, batch, lo, hi, dtype, gen, device=device, kv_heads=kv, head_dim=dim,
                        q_dtype=dtype)[:4]
    a = tuple(t[:half] if t.dim() and t.shape[0] == batch else t for t in whole)
    b = tuple(t[half:] if t.dim() and t.shape[0] == batch else t for t in whole)
    scale = dim**-0.5
    streams = Streams(cuda)

    def attention(part: tuple[torch.Tensor, ...]) -> torch.Tensor:
        q, cache, tables, lens = part
        return decode_attention(q, cache, tables, lens, scale)

    def sequential(x: torch.Tensor, part: tuple[torch.Tensor, ...]) -> None:
        for _ in range(layers):
            gemms(x, w)
            attention(part)

    def overlapped() -> None:
        for _ in range(layers):
            with streams.on(0):
                gemms(xs[1], w)
            with streams.on(1):
                attention(b)
            streams.join()
            with streams.on(0):
                attention(a)
            with streams.on(1):
                gemms(xs[2], w)
            streams.join()

    seq = timed(lambda: sequential(xs[0], whole), cuda, reps)
    halves = timed(lambda: sequential(xs[1], a), cuda, reps)
    over = timed(overlapped, cuda, reps)
    gemm_ms = timed(lambda: [gemms(xs[0], w) for _ in range(layers)], cuda, reps)
    attn_ms = timed(lambda: [attention(whole) for _ in range(layers)], cuda, reps)
    return {
        "batch": batch, "layers": layers, "device": torch.cuda.get_device_name() if cuda else "cpu",
        "sequential_ms": round(seq, 3), "gemm_ms": round(gemm_ms, 3), "attention_ms": round(attn_ms, 3),
        "halves_ms": round(halves, 3), "overlapped_ms": round(over, 3), "gain": round(seq / over, 3),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="256,192,128")
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = p.parse_args(argv)
    small = args.device == "cpu"
    for batch in (int(b) for b in args.batches.split(",")):
        layers, reps = (2, 1) if small else (args.layers, args.reps)
        print(json.dumps(probe(batch, layers, reps, args.device, small)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
