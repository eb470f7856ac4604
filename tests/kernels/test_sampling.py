"""Fused Gumbel-max sampling kernel (interpreter on the CPU): greedy rows are torch.argmax, sampled rows
follow softmax(logits / T), and the seed decides the draw."""

from __future__ import annotations

import pytest
import torch

from engine.kernels.sampling import sample_tokens


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
    others = [seq(top_k=5), seq(top_p=0.9), seq(min_p=0.1), seq(seed=3), seq(logprobs=2),
              seq(repetition_penalty=1.1), seq(presence_penalty=0.5), seq(frequency_penalty=0.5),
              seq(min_tokens=2)]
    assert not any(map(is_plain, others))
    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    fast = FastSampler(seed=0)
    assert fast(logits, plain) is None  # CPU logits: the generic sampler runs
    tokens = fast.sample(logits, plain)
    assert tokens is not None and tokens[0] == int(logits[0].argmax()) and all(0 <= t < 50 for t in tokens)
    assert fast.sample(logits, [*plain[:2], others[0]]) is None
