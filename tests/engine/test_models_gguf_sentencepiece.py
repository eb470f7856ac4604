"""GGUF files with a SentencePiece vocabulary (tokenizer.ggml.model "llama", as Llama 2 and Mistral v0.x
ship): a real SentencePiece BPE model trained here with Llama's options (byte fallback, split digits,
identity normalisation, a dummy prefix), written into a GGUF with the `gguf` package the way llama.cpp's
converter writes it; our tokenizer must encode and decode as sentencepiece does."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.loader.gguf import gguf_tokenizer
from engine.loader.gguf_file import read_gguf_file

spm = pytest.importorskip("sentencepiece")

TRAINING_TEXT = [
    "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.",
    "Confidential computing keeps data encrypted while in use, inside a trusted execution environment.",
    "Paged attention stores keys and values in fixed-size blocks; the scheduler allocates them.",
    "Hello, world! How are you today? I am fine, thank you. Numbers: 12345 and 2026-12-03.",
    "Mixture of experts routes every token to a few experts out of many, e.g. 8 of 128.",
    "def main():\n    return 42\n\nclass Model:\n    pass\n",
    "café, naïve, Zürich, résumé — déjà vu. Straße. Ελληνικά. Русский текст.",
] * 20
TEXTS = [
    "Hello, world!",
    " leading space and  double  spaces",
    "trailing space ",
    "new\nlines\n\n and\ttabs",
    "digits 1234567890 and 3.14159",
    "unicode: café naïve Zürich — déjà vu",
    "unseen characters: 日本語 😀🎉 ∑∫ ǅ",
    "   ",
    "",
    "the quick brown fox jumps over the lazy dog",
    "a <b> tag & an ampersand; __dunder__ and CamelCase",
]


@pytest.fixture(scope="module")
def sp_model(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("spm")
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(TRAINING_TEXT))
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(root / "sp"), vocab_size=400, model_type="bpe",
        byte_fallback=True, split_digits=True, allow_whitespace_only_pieces=True,
        normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=True,
        character_coverage=0.9995, bos_id=1, eos_id=2, unk_id=0, minloglevel=2,
    )
    return spm.SentencePieceProcessor(model_file=str(root / "sp.model"))


def write_vocab_gguf(sp, path: Path) -> Path:
    """A GGUF holding only the vocabulary metadata, as convert_hf_to_gguf.py writes a SentencePiece one."""
    import gguf

    writer = gguf.GGUFWriter(path, "llama")
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(gguf.TokenType.UNKNOWN)
        elif sp.is_control(i):
            types.append(gguf.TokenType.CONTROL)
        elif sp.is_byte(i):
            types.append(gguf.TokenType.BYTE)
        elif sp.is_unused(i):
            types.append(gguf.TokenType.UNUSED)
        else:
            types.append(gguf.TokenType.NORMAL)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(sp.bos_id())
    writer.add_eos_token_id(sp.eos_id())
    writer.add_unk_token_id(sp.unk_id())
    writer.add_add_bos_token(True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def tokenizer(sp_model, tmp_path_factory: pytest.TempPathFactory):
    path = write_vocab_gguf(sp_model, tmp_path_factory.mktemp("gguf") / "vocab.gguf")
    return gguf_tokenizer(read_gguf_file(path).metadata, path)


@pytest.mark.parametrize("text", TEXTS)
def test_encodes_and_decodes_like_sentencepiece(sp_model, tokenizer, text: str) -> None:
    expected = sp_model.encode(text)
    assert tokenizer.encode(text) == expected
    assert tokenizer.decode(expected) == sp_model.decode(expected)
    assert tokenizer.encode(text, add_special_tokens=True) == [sp_model.bos_id(), *expected]


def test_bytes_fall_back_and_special_ids(sp_model, tokenizer) -> None:
    ids = tokenizer.encode("😀")
    assert all(sp_model.is_byte(i) for i in ids[1:]) and len(ids) >= 4  # 4 UTF-8 bytes
    assert tokenizer.decode(ids) == "😀"
    assert tokenizer.bos_token_id == sp_model.bos_id() and tokenizer.eos_token_ids == [sp_model.eos_id()]
    assert tokenizer.decode([sp_model.bos_id(), *sp_model.encode("hi")]) == "hi"  # <s> skipped
    # as llama.cpp and HF's Llama tokenizer (not bare sentencepiece): control tokens in text are tokens,
    # and the text after one gets its own dummy-prefix space
    assert tokenizer.encode("<s>hi</s>") == [sp_model.bos_id(), *sp_model.encode("hi"), sp_model.eos_id()]


def write_llama_gguf(sp, model_dir: Path, path: Path) -> Path:
    """A whole Llama-2-style GGUF: the tiny model's tensors (Q/K permuted as llama.cpp's converter does)
    and the SentencePiece vocabulary."""
    import json

    import gguf
    from safetensors.torch import load_file

    from engine.loader.gguf import GLOBAL_TENSORS, LAYER_TENSORS

    config = json.loads((model_dir / "config.json").read_text())
    vocab_path = write_vocab_gguf(sp, path.with_suffix(".vocab.gguf"))
    meta = read_gguf_file(vocab_path).metadata
    writer = gguf.GGUFWriter(path, "llama")
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(config.get("rope_theta") or config["rope_parameters"]["rope_theta"])
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_tokenizer_model("llama")
    writer.add_token_list(meta["tokenizer.ggml.tokens"])
    writer.add_token_scores(meta["tokenizer.ggml.scores"])
    writer.add_token_types(meta["tokenizer.ggml.token_type"])
    writer.add_bos_token_id(sp.bos_id())
    writer.add_eos_token_id(sp.eos_id())
    to_gguf = {hf: ours for ours, hf in (LAYER_TENSORS | GLOBAL_TENSORS).items()}
    for name, tensor in load_file(model_dir / "model.safetensors").items():
        base, _, kind = name.rpartition(".")
        parts = base.split(".")
        if parts[:2] == ["model", "layers"]:
            gguf_name = f"blk.{parts[2]}.{to_gguf['.'.join(parts[3:])]}.{kind}"
        else:
            gguf_name = f"{to_gguf[base]}.{kind}"
        array = tensor.float().numpy()
        if base.endswith(("q_proj", "k_proj")):
            n = heads if base.endswith("q_proj") else kv_heads
            array = array.reshape(n, 2, array.shape[0] // n // 2, -1).swapaxes(1, 2).reshape(array.shape)
        writer.add_tensor(gguf_name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_llama2_style_gguf_loads_with_its_sentencepiece_tokenizer(sp_model, tmp_path: Path) -> None:
    import torch
    from test_models import run_chunks
    from tiny_models import tiny_hf_config
    from transformers import AutoModelForCausalLM

    from engine.loader import load_model

    torch.manual_seed(0)
    config = tiny_hf_config("llama")
    config.vocab_size = sp_model.get_piece_size()
    hf_model = AutoModelForCausalLM.from_config(config).eval()
    hf_model.save_pretrained(tmp_path / "hf", safe_serialization=True)
    loaded = load_model(model_path=write_llama_gguf(sp_model, tmp_path / "hf", tmp_path / "m.gguf"))
    text = "Hello, world! café 😀 12345"
    ids = loaded.tokenizer.encode(text, add_special_tokens=True)
    assert ids == [sp_model.bos_id(), *sp_model.encode(text)]
    assert loaded.tokenizer.decode(ids) == text
    with torch.no_grad():
        expected = hf_model(torch.tensor([ids])).logits[0]
    logits = run_chunks(loaded, torch.tensor(ids), [0, len(ids)])
    torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)
