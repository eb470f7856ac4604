"""Fused Gumbel-max sampling kernel (interpreter on the CPU): greedy rows are torch.argmax, sampled rows
follow softmax(logits / T), the seed decides the draw, and the split-vocabulary kernels return the same
tokens as the first one-program-per-row kernel (tests/kernels/sampling_reference.py) for any chunking."""

from __future__ import annotations

import pytest
import torch

import engine.kernels.sampling as sampling
from engine.kernels.sampling import chunk_columns, sample_tokens
from tests.kernels.sampling_reference import reference_sample_tokens

INV_TEMPERATURES = (0.0, 0.5, 1.0, 1.7, 0.0, 3.0)  # greedy and sampled rows mixed


def mixed_inv_temperature(rows: int) -> torch.Tensor:
    return torch.tensor([INV_TEMPERATURES[r % len(INV_TEMPERATURES)] for r in range(rows)])


def set_chunking(monkeypatch: pytest.MonkeyPatch, block: int, min_programs: int) -> None:
    """Smaller BLOCKs (and fewer required programs) give many chunks over a small interpreted vocabulary."""
    monkeypatch.setattr(sampling, "BLOCK", block)
    monkeypatch.setattr(sampling, "MIN_PROGRAMS", min_programs)


@pytest.mark.parametrize(
    ("rows", "vocab", "block", "min_programs", "dtype"),
    [
        (1, 20000, 1024, 264, torch.float32),  # 20 chunks of 1024, the last one partial
        (4, 5000, 1024, 1, torch.float32),  # one chunk of 8192 covers the whole vocabulary
        (3, 3000, 256, 1, torch.float32),  # 2 chunks of 2048, the last 952 columns
        (2, 777, 64, 5, torch.float32),  # chunks of 320 (not a power of 2)
        (4, 4000, 256, 8, torch.bfloat16),  # 2 chunks of 2048
        pytest.param(300, 300, 128, 1000, torch.float32, marks=pytest.mark.slow),  # 3 chunks a row; ~12 s
    ],
)
def test_split_kernels_equal_the_one_pass_kernel(
    monkeypatch: pytest.MonkeyPatch, rows: int, vocab: int, block: int, min_programs: int, dtype: torch.dtype
) -> None:
    set_chunking(monkeypatch, block, min_programs)
    gen = torch.Generator().manual_seed(rows * vocab)
    logits = (3 * torch.randn(rows, vocab, generator=gen)).to(dtype)
    if rows > 1:
        logits[1] = float("-inf")
    inv = mixed_inv_temperature(rows)
    for seed in (12345,) if rows > 100 else (0, 12345):  # the interpreter takes ~10 ms a program
        out = sample_tokens(logits, inv, seed)
        assert torch.equal(out, reference_sample_tokens(logits, inv, seed)), (seed, out)
    greedy = inv == 0
    assert torch.equal(out[greedy], logits.float().argmax(dim=-1)[greedy])


def test_ties_across_chunks_and_empty_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    set_chunking(monkeypatch, block=128, min_programs=42)  # 6 chunks of 256 over 1500 columns (the last 220)
    vocab = 1500
    assert chunk_columns(7, vocab) == 256
    logits = torch.randn(7, vocab, generator=torch.Generator().manual_seed(3))
    logits[0, [256, 255]] = 9.0  # greedy tie on a chunk boundary
    logits[1, [1499, 326, 70, 1200]] = 9.0  # greedy tie: same lane, different chunks; and other lanes
    logits[2, [1400, 900]] = float("inf")  # sampled row: +inf + noise ties, the lower index wins
    logits[3] = float("-inf")  # sampled row of all -inf
    logits[4] = float("-inf")  # greedy row of all -inf
    logits[5] = float("-inf")
    logits[5, vocab - 1] = -5.0  # only the last (partial chunk's last) column is finite
    logits[6, [3, 600, 1001]] = float("nan")  # NaN never wins
    logits[6, 1000] = 9.0
    inv = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    out = sample_tokens(logits, inv, seed=5)
    assert out.tolist() == [255, 70, 900, 0, 0, vocab - 1, 1000]
    assert torch.equal(out, reference_sample_tokens(logits, inv, seed=5))


def test_chunk_columns_fill_an_h200_at_small_batches() -> None:
    qwen3 = 151936
    expected = {1: 1024, 2: 1024, 4: 2048, 8: 4096, 16: 8192, 256: 8192}
    assert {rows: chunk_columns(rows, qwen3) for rows in expected} == expected
    for rows in (2, 8, 16, 256):
        chunk = chunk_columns(rows, qwen3)
        assert rows * -(-qwen3 // chunk) >= 264  # >= 2 stage-1 programs per SM on 132 SMs
    assert chunk_columns(1, 100) == 1024 and chunk_columns(1, 0) == 1024


def test_rows_without_columns_or_rows() -> None:
    assert sample_tokens(torch.empty(3, 0), torch.ones(3), seed=1).tolist() == [0, 0, 0]
    assert sample_tokens(torch.empty(0, 10), torch.ones(0), seed=1).shape == (0,)


def test_greedy_rows_are_argmax_with_first_index_ties() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3000, generator=gen)
    logits[2, [5, 2500]] = 50.0  # a tie: the lower index wins, as torch.argmax
    logits[4, :] = float("-inf")
    logits[4, 2999] = 0.0
    out = sample_tokens(logits, torch.zeros(6), seed=1)
    assert out.tolist() == logits.argmax(dim=-1).tolist()
    assert out[2] == 5 and out[4] == 2999


@pytest.mark.slow
def test_sampled_rows_follow_the_tempered_softmax() -> None:
    # 600 rows (the Triton interpreter runs each row on the CPU; 3000 took 95 s here). Without the
    # temperature the first token would come out at 0.35, not 0.5: far outside the tolerance.
    rows = 600
    probs = torch.tensor([0.5, 0.25, 0.15, 0.1, 0.0])
    temperature = 0.5
    logits = (probs.log() * temperature).repeat(rows, 1)  # softmax(logits / T) == probs
    out = sample_tokens(logits, torch.full((rows,), 1 / temperature), seed=123)
    freq = torch.bincount(out, minlength=5).float() / rows
    assert freq[4] == 0  # a -inf logit is never drawn
    assert torch.allclose(freq, probs, atol=0.08), freq  # ~4 standard deviations at 600 rows


@pytest.mark.slow
def test_seed_decides_the_draw_and_bf16_logits_work() -> None:
    logits = torch.zeros(64, 100, dtype=torch.bfloat16)  # uniform: the noise alone decides
    inv = torch.ones(64)
    a, b, c = (sample_tokens(logits, inv, seed=s) for s in (7, 7, 8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len(set(a.tolist())) > 20  # rows draw independently


def test_fast_sampler_takes_only_plain_batches() -> None:
    from engine.fast_sampling import FastSampler, is_plain
    from engine.sampling_params import SamplingParams
    from engine.sequence import Sequence

    def seq(**params: object) -> Sequence:
        return Sequence("r", 0, [1, 2, 3], SamplingParams(**params))  # type: ignore[arg-type]

    plain = [seq(temperature=0), seq(temperature=0.7), seq(temperature=1.3, max_tokens=4)]
    assert all(map(is_plain, plain))
    others = [
        seq(top_k=5),
        seq(top_p=0.9),
        seq(min_p=0.1),
        seq(seed=3),
        seq(logprobs=2),
        seq(repetition_penalty=1.1),
        seq(presence_penalty=0.5),
        seq(frequency_penalty=0.5),
        seq(min_tokens=2),
    ]
    assert not any(map(is_plain, others))
    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    fast = FastSampler(seed=0)
    assert fast(logits, plain) is None  # CPU logits: the generic sampler runs
    tokens = fast.sample(logits, plain)
    assert tokens is not None and tokens[0] == int(logits[0].argmax()) and all(0 <= t < 50 for t in tokens)
    assert fast.sample(logits, [*plain[:2], others[0]]) is None


class _Launches:
    """Stands in for a Triton kernel: records the compile-time constants of each launch."""

    def __init__(self) -> None:
        self.constants: list[tuple[tuple[str, object], ...]] = []

    def __getitem__(self, grid: object):  # type: ignore[no-untyped-def]
        def launch(*args: object, **kwargs: object) -> None:
            self.constants.append(tuple(sorted(kwargs.items())))

        return launch


def test_one_compile_per_model_whatever_the_batch_or_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-step values must not pick a new kernel mid-run: the launch constants depend on the vocabulary
    only, and the per-step integers (the seed, the chunk counts) are not specialised on."""
    assert {"seed", "chunk", "num_chunks"} <= set(_unspecialised(sampling._sample_kernel_partial))
    assert "num_chunks" in _unspecialised(sampling._sample_kernel_reduce)
    partial, reduce = _Launches(), _Launches()
    monkeypatch.setattr(sampling, "_sample_kernel_partial", partial)
    monkeypatch.setattr(sampling, "_sample_kernel_reduce", reduce)
    for rows in (1, 2, 3, 5, 6, 8, 16, 17, 64, 255, 256):
        for seed in (1, 16, 12345):
            sample_tokens(torch.zeros(rows, 128256), torch.ones(rows), seed)
    assert len(set(partial.constants)) == 1 and len(set(reduce.constants)) == 1


def _unspecialised(kernel) -> list[str]:  # type: ignore[no-untyped-def]
    """The kernel's do_not_specialize names (a JITFunction, or the interpreter's wrapper of one)."""
    listed = kernel.kwargs["do_not_specialize"] if hasattr(kernel, "kwargs") else kernel.do_not_specialize
    return [kernel.arg_names[i] if isinstance(i, int) else i for i in listed or []]
