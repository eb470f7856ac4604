"""bench structured's vocabularies for random-weight shapes: a real BPE vocabulary extended to the
shape's size (the default), and the random-ASCII stress case; the JSON says which ran."""

from __future__ import annotations

from engine.bench.structured import STRUCTURAL, vocabulary


def _vocab(kind: str, size: int, eos: int):
    return vocabulary(kind, None, size, [eos])


def test_bpe_vocabulary_is_the_bundled_tokenizer_extended_by_pairs() -> None:
    info, described = _vocab("bpe", 60_000, 59_999)
    assert described["kind"] == "bpe" and described["real_tokens"] == 49_152 and described["size"] == 60_000
    vocab = info.decoded_vocab
    assert len(vocab) == 60_000 and len(set(vocab)) == 60_000
    assert vocab[59_999] == b"<|eos|>" and list(info.stop_token_ids) == [59_999]
    # the extension joins two real pieces: each added token starts with some real token's bytes
    real = set(vocab[:49_152])
    assert all(any(p[:k] in real for k in range(1, len(p))) for p in vocab[49_152:49_400])
    assert described["structural_fraction"] < 0.05  # a real BPE vocabulary: ~1 % punctuation tokens


def test_random_ascii_vocabulary_is_mostly_structural() -> None:
    info, described = _vocab("random-ascii", 20_000, 19_999)
    assert described == {
        "kind": "random-ascii",
        "size": 20_000,
        "structural_fraction": described["structural_fraction"],
    }
    share = sum(1 for p in info.decoded_vocab if any(c in STRUCTURAL for c in p)) / 20_000
    assert share == described["structural_fraction"] > 0.3


def test_bench_structured_reports_alternating_pairs_and_their_medians(capsys) -> None:
    import json

    from engine.bench.structured import main

    argv = ["--shape", "tiny", "--random-weights", "--device", "cpu", "--vocab", "random-ascii"]
    argv += ["--num-prompts", "3", "--input-len", "4", "--output-len", "6", "--repeats", "3"]
    argv += ["--enforce-eager"]
    assert main(argv) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["repeats"] == 3 and len(r["pair_overheads"]) == 3 and r["detokenize"] is False
    plain, schema = r["no_schema_tok_per_s"], r["json_schema_tok_per_s"]
    assert r["no_schema"]["output_tok_per_s"] == sorted(plain)[1]
    assert r["json_schema"]["output_tok_per_s"] == sorted(schema)[1]
    assert r["overhead"] == round(1 - sorted(schema)[1] / sorted(plain)[1], 4)
    assert all(p["output_tokens"] == 18 for p in (r["no_schema"], r["json_schema"]))
    assert r["same_output_tokens"]
