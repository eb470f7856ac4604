"""engine.structured builds xgrammar's TokenizerInfo from the `tokenizers` vocabulary, without
transformers (absent from the runtime venv): the same as TokenizerInfo.from_huggingface gives."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import xgrammar as xgr

from engine.loader.gguf import gguf_tokenizer, open_gguf
from engine.loader.gguf_file import read_gguf_file
from engine.structured.compiler import tokenizer_info

transformers = pytest.importorskip("transformers")


def from_huggingface(tokenizer, vocab_size: int) -> xgr.TokenizerInfo:
    hf = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer._tokenizer)
    stop = list(tokenizer.eos_token_ids) or None
    return xgr.TokenizerInfo.from_huggingface(hf, vocab_size=vocab_size, stop_token_ids=stop)


@pytest.mark.slow
def test_byte_level_bpe_equals_from_huggingface(bundled_model: Path) -> None:
    config, _, tokenizer = open_gguf(bundled_model)
    for vocab in (config["vocab_size"], config["vocab_size"] + 64):  # padded lm_head too
        ours = tokenizer_info(tokenizer, vocab)
        assert ours.vocab_type == xgr.VocabType.BYTE_LEVEL
        assert ours.serialize_json() == from_huggingface(tokenizer, vocab).serialize_json()


def test_byte_fallback_sentencepiece_equals_from_huggingface(tmp_path: Path) -> None:
    spm = pytest.importorskip("sentencepiece")
    sys.path.insert(0, str(Path(__file__).parent))
    from test_models_gguf_sentencepiece import TRAINING_TEXT, write_vocab_gguf

    (tmp_path / "corpus.txt").write_text("\n".join(TRAINING_TEXT))
    spm.SentencePieceTrainer.train(
        input=str(tmp_path / "corpus.txt"),
        model_prefix=str(tmp_path / "sp"),
        vocab_size=400,
        model_type="bpe",
        byte_fallback=True,
        add_dummy_prefix=True,
        bos_id=1,
        eos_id=2,
        unk_id=0,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "sp.model"))
    path = write_vocab_gguf(sp, tmp_path / "vocab.gguf")
    tokenizer = gguf_tokenizer(read_gguf_file(path).metadata, path)
    ours = tokenizer_info(tokenizer, 400)
    assert ours.vocab_type == xgr.VocabType.BYTE_FALLBACK
    assert ours.serialize_json() == from_huggingface(tokenizer, 400).serialize_json()


@pytest.mark.slow
def test_xgrammar_imports_without_transformers() -> None:
    """The runtime venv has no transformers: engine.structured still imports and compiles there."""
    import subprocess

    code = """if True:
        import sys
        sys.modules["transformers"] = None  # as if not installed
        from engine.structured import GrammarCompilerCache, parse_structured_fields
        import xgrammar as xgr
        info = xgr.TokenizerInfo(["a", "b", "</s>"], stop_token_ids=[2])
        GrammarCompilerCache(info).compile(parse_structured_fields({"guided_choice": ["ab"]}))
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
