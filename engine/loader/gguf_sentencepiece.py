"""SentencePiece vocabularies of GGUF files (tokenizer.ggml.model "llama": Llama 2, Mistral v0.x) as an
HF `tokenizers` BPE, encoding as sentencepiece and llama.cpp do.

SentencePiece BPE merges, at each step, the adjacent pair whose merged piece scores highest; HF BPE
applies merges by rank, so every (left, right) split of a vocabulary piece into two pieces becomes a
merge ranked by the piece's score (the construction of transformers' LlamaTokenizerFast). Spaces become
U+2581 with one prepended to the text (and, as llama.cpp does, after each special token); characters
outside the vocabulary fall back to <0xXX> byte tokens. Decoding reverses both and drops the leading
space."""

from __future__ import annotations

from typing import Any

from tokenizers import AddedToken, decoders, models, normalizers
from tokenizers import Tokenizer as HFTokenizer

SPACE = "\u2581"
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def sentencepiece_merges(tokens: list[str], scores: list[float]) -> list[tuple[str, str]]:
    """Every split of a piece into two vocabulary pieces, highest-scoring merged piece first."""
    ids = {t: i for i, t in enumerate(tokens)}
    ranked: list[tuple[float, int, int, str, str]] = []
    for piece, score in zip(tokens, scores, strict=True):
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in ids and right in ids:
                ranked.append((-score, ids[left], ids[right], left, right))
    ranked.sort()
    return [(left, right) for *_, left, right in ranked]


def sentencepiece_tokenizer(meta: dict[str, Any]) -> HFTokenizer:
    """The tokenizer of a GGUF "llama" vocabulary: tokens, scores and token types from its metadata."""
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    scores: list[float] = meta.get("tokenizer.ggml.scores") or [-float(i) for i in range(len(tokens))]
    types: list[int] = meta.get("tokenizer.ggml.token_type") or [NORMAL] * len(tokens)
    # control, unused and byte tokens never come out of merges: only normal and user-defined pieces merge
    mergeable = [t if k in (NORMAL, USER_DEFINED) else "" for t, k in zip(tokens, types, strict=True)]
    unk_id = meta.get("tokenizer.ggml.unknown_token_id", types.index(UNKNOWN) if UNKNOWN in types else None)
    model = models.BPE(
        {t: i for i, t in enumerate(tokens)},
        sentencepiece_merges(mergeable, scores),
        unk_token=tokens[unk_id] if unk_id is not None else None,
        byte_fallback=True,
        fuse_unk=True,
    )
    tokenizer = HFTokenizer(model)
    add_space_prefix = meta.get("tokenizer.ggml.add_space_prefix", True)
    steps = [normalizers.Prepend(SPACE)] if add_space_prefix else []
    tokenizer.normalizer = normalizers.Sequence([*steps, normalizers.Replace(" ", SPACE)])
    decode = [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
    tokenizer.decoder = decoders.Sequence(decode + ([decoders.Strip(" ", 1, 0)] if add_space_prefix else []))
    tokenizer.add_special_tokens(
        [
            AddedToken(t, special=True, normalized=False)
            for t, k in zip(tokens, types, strict=True)
            if k == CONTROL
        ]
    )
    tokenizer.add_tokens(
        [
            AddedToken(t, special=False, normalized=False)
            for t, k in zip(tokens, types, strict=True)
            if k == USER_DEFINED
        ]
    )
    return tokenizer
