"""The batched sampler on synthetic logits."""

from __future__ import annotations

import pytest
import torch

from engine.errors import InvalidParam
from engine.sampler import Sampler
from engine.sampling_params import SamplingParams
from engine.sequence import Sequence

VOCAB = 50
EOS = 3


def seq(params: SamplingParams, prompt: list[int] | None = None, output: list[int] | None = None) -> Sequence:
    s = Sequence("r", 0, list(prompt or [1, 2]), params)
    s.token_ids.extend(output or [])
    if params.seed is not None:
        s.generator = torch.Generator().manual_seed(params.seed)
    return s


def logits(rows: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(rows, VOCAB, generator=torch.Generator().manual_seed(seed)) * 3


def test_greedy_and_top_k_1_pick_the_argmax() -> None:
    x = logits(4)
    seqs = [seq(SamplingParams(temperature=0)), seq(SamplingParams(top_k=1))]
    seqs.append(seq(SamplingParams(temperature=0.0)))
    seqs.append(seq(SamplingParams(temperature=1.5, top_k=1, seed=5)))
    assert Sampler([EOS])(x, seqs).token_ids == x.argmax(-1).tolist()


def test_seeded_rows_reproduce_whatever_the_batch() -> None:
    params = SamplingParams(temperature=1.0, seed=1234)

    def draw(batch_extra: int, sampler_seed: int) -> list[int]:
        s = seq(params)
        sampler = Sampler([EOS], seed=sampler_seed)
        tokens = []
        for step in range(20):
            x = logits(1 + batch_extra, seed=step)
            x[batch_extra] = logits(1, seed=100 + step)[0]
            others = [seq(SamplingParams(temperature=1.0)) for _ in range(batch_extra)]
            tokens.append(sampler(x, [*others, s]).token_ids[-1])
        return tokens

    alone = draw(0, 0)
    assert draw(3, 7) == alone
    assert draw(1, 1) == alone
    assert len(set(alone)) > 3


def test_top_k_top_p_and_min_p_restrict_the_support() -> None:
    x = logits(1).repeat(200, 1)
    order = x[0].argsort(descending=True).tolist()
    probs = x[0].softmax(-1)
    sampler = Sampler([EOS], seed=3)
    got = set(sampler(x, [seq(SamplingParams(top_k=3))] * 200).token_ids)
    assert got <= set(order[:3]) and len(got) > 1
    cum = probs[order].cumsum(0)
    nucleus = order[: int((cum < 0.6).sum()) + 1]
    got = set(sampler(x, [seq(SamplingParams(top_p=0.6))] * 200).token_ids)
    assert got <= set(nucleus)
    allowed = {i for i in range(VOCAB) if probs[i] >= 0.2 * probs.max()}
    got = set(sampler(x, [seq(SamplingParams(min_p=0.2))] * 200).token_ids)
    assert got <= allowed


def test_temperature_sampling_follows_the_distribution() -> None:
    x = torch.tensor([[2.0, 1.0, 0.0] + [-30.0] * (VOCAB - 3)]).repeat(4000, 1)
    tokens = torch.tensor(Sampler([EOS], seed=0)(x, [seq(SamplingParams(temperature=1.0))] * 4000).token_ids)
    freq = torch.bincount(tokens, minlength=3)[:3].float() / 4000
    assert torch.allclose(freq, x[0, :3].softmax(-1), atol=0.03)


def test_penalties_follow_vllm_semantics() -> None:
    x = logits(1)
    prompt, output = [5, 6], [6, 7, 7]
    params = SamplingParams(
        temperature=0, repetition_penalty=1.5, presence_penalty=0.5, frequency_penalty=0.25
    )
    expected = x[0].clone()
    for t in {5, 6, 7}:
        expected[t] = expected[t] / 1.5 if expected[t] > 0 else expected[t] * 1.5
    for t, c in {6: 1, 7: 2}.items():
        expected[t] -= 0.25 * c + 0.5
    from engine.sampler import apply_penalties

    got = apply_penalties(x.clone(), [seq(params, prompt, output)])
    assert torch.allclose(got[0], expected)
    x[0, 7] = 100.0
    assert Sampler([EOS])(x, [seq(params, prompt, output)]).token_ids == [7]  # 100 / 1.5 - 1.0 still wins
    x[0, 7] = 4.0
    x[0, 8] = 3.0
    assert Sampler([EOS])(x.clone(), [seq(params, prompt, output)]).token_ids[0] != 7


def test_min_tokens_suppresses_eos_and_stop_tokens() -> None:
    x = torch.zeros(2, VOCAB)
    x[:, EOS] = 10.0
    x[:, 9] = 9.0
    x[:, 4] = 8.0
    params = SamplingParams(temperature=0, min_tokens=2, stop_token_ids=[9])
    s_early, s_late = seq(params, output=[1]), seq(params, output=[1, 1])
    assert Sampler([EOS])(x, [s_early, s_late]).token_ids == [4, EOS]
    ignore = SamplingParams(temperature=0, min_tokens=2, ignore_eos=True)
    assert Sampler([EOS])(x[:1], [seq(ignore)]).token_ids == [EOS]


def test_logprobs_are_raw_log_softmax_with_sorted_alternatives() -> None:
    x = logits(3)
    seqs = [
        seq(SamplingParams(temperature=0, logprobs=4, repetition_penalty=1.3)),
        seq(SamplingParams(temperature=0.7, logprobs=0)),
        seq(SamplingParams(temperature=0)),
    ]
    out = Sampler([EOS])(x, seqs)
    ref = torch.log_softmax(x, -1)
    first, second, third = out.logprobs
    assert third is None
    assert first["token_id"] == out.token_ids[0]
    assert first["logprob"] == pytest.approx(ref[0, out.token_ids[0]].item(), abs=1e-5)
    assert [t for t, _ in first["top"]] == ref[0].argsort(descending=True)[:4].tolist()
    assert [lp for _, lp in first["top"]] == pytest.approx(ref[0].sort(descending=True).values[:4].tolist())
    assert second["top"] == []
    assert second["logprob"] == pytest.approx(ref[1, out.token_ids[1]].item(), abs=1e-5)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n", 0),
        ("temperature", -1.0),
        ("top_p", 0.0),
        ("top_k", -2),
        ("min_p", 1.5),
        ("max_tokens", 0),
        ("repetition_penalty", 0.0),
        ("presence_penalty", 3.0),
        ("logprobs", 21),
        ("stop", [""]),
        ("seed", -1),
    ],
)
def test_invalid_params_name_the_param(field: str, value: object) -> None:
    with pytest.raises(InvalidParam) as err:
        SamplingParams(**{field: value}).validate()
    assert err.value.param == field


def test_logit_bias_bans_and_forces_tokens_greedy_and_sampled() -> None:
    """OpenAI's logit_bias is added to the logits before sampling: -100 bans a greedy row's argmax,
    +100 forces a token in a sampled row; a row without it is untouched (and the fast path not taken)."""
    x = logits(3)
    top = int(x[0].argmax())
    seqs = [
        seq(SamplingParams(temperature=0, logit_bias={top: -100.0})),
        seq(SamplingParams(temperature=1.0, seed=7, logit_bias={11: 100.0})),
        seq(SamplingParams(temperature=0)),
    ]
    out = Sampler([EOS])(x, seqs).token_ids
    banned = x[0].clone()
    banned[top] -= 100
    assert out == [int(banned.argmax()), 11, int(x[2].argmax())]


@pytest.mark.parametrize(
    "bias",
    [{1: 100.5}, {1: float("nan")}, {-1: 1.0}, {2**31: 1.0}, {1: True}, {"1": 1.0},
     {i: 1.0 for i in range(301)}],
)
def test_bad_logit_bias_is_refused(bias: dict) -> None:
    with pytest.raises(InvalidParam, match="logit_bias"):
        SamplingParams(logit_bias=bias).validate()


def test_min_tokens_yields_to_a_mask_that_allows_only_a_stop_token() -> None:
    """A complete grammar allows only EOS: min_tokens must not hold it back (every logit -inf would make
    the sampler pick a token the grammar forbade). A row with other tokens left still has EOS held."""
    x = logits(2)
    x[0] = float("-inf")
    x[0, EOS] = 0.0
    x[1, EOS] = 100.0
    seqs = [seq(SamplingParams(temperature=0, min_tokens=3)),
            seq(SamplingParams(temperature=0.7, min_tokens=3))]
    out = Sampler([EOS])(x, seqs).token_ids
    assert out[0] == EOS and out[1] != EOS
