"""Tokenizer (HF directory and GGUF metadata), chat templates, incremental detokenization."""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_models import CHATML_TEMPLATE, build_tiny_tokenizer

from engine.detokenizer import IncrementalDetokenizer
from engine.loader.gguf import gguf_tokenizer
from engine.loader.gguf_file import read_gguf_file
from engine.tokenizer import Tokenizer

os.environ["HF_HUB_OFFLINE"] = "1"

TEXTS = [
    "Hello, world!",
    "  leading spaces and trailing  ",
    "Numbers 12345 and 3.14159, dates 2026-11-23.",
    "Émigré café naïve Zürich",
    "日本語のテキスト、中文字符。한국어",
    "Emoji: 😀🎉🚀👩‍👩‍👧 flags 🇫🇷",
    "code:\n\tdef f(x):\n\t\treturn x ** 2\n",
    "<|im_start|>user\nHi<|im_end|>",
]
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4"},
    {"role": "user", "content": "And 3+3? 😀"},
]


@pytest.fixture(scope="module")
def gguf_tok(bundled_model: Path) -> Tokenizer:
    return gguf_tokenizer(read_gguf_file(bundled_model).metadata, bundled_model)


@pytest.fixture(scope="module")
def hf_gguf_tok(bundled_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(bundled_model.parent), gguf_file=bundled_model.name)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tok")
    build_tiny_tokenizer(path)
    return path


@pytest.mark.slow
def test_gguf_tokenizer_encodes_like_hf(gguf_tok, hf_gguf_tok):
    assert gguf_tok.vocab_size == len(hf_gguf_tok)
    for text in TEXTS:
        ids = gguf_tok.encode(text)
        assert ids == hf_gguf_tok.encode(text, add_special_tokens=False), text
        assert gguf_tok.decode(ids, skip_special_tokens=False) == text
    assert gguf_tok.encode("<|im_end|>") == [2]
    assert gguf_tok.eos_token_ids == [2] and gguf_tok.bos_token_id == 1


@pytest.mark.slow
def test_gguf_chat_template_renders_like_hf(gguf_tok, hf_gguf_tok):
    for messages in (MESSAGES, MESSAGES[1:2]):
        for add_generation_prompt in (True, False):
            ours = gguf_tok.apply_chat_template(messages, add_generation_prompt=add_generation_prompt)
            theirs = hf_gguf_tok.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=add_generation_prompt
            )
            assert ours == theirs
    prompt = gguf_tok.apply_chat_template(MESSAGES[1:2])
    assert prompt.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert prompt.endswith("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")


def test_hf_dir_tokenizer_matches_transformers(tiny_dir):
    from transformers import AutoTokenizer

    ours = Tokenizer.from_pretrained(tiny_dir)
    theirs = AutoTokenizer.from_pretrained(str(tiny_dir))
    for text in TEXTS:
        assert ours.encode(text) == theirs.encode(text, add_special_tokens=False)
        assert ours.decode(ours.encode(text)) == theirs.decode(theirs.encode(text), skip_special_tokens=True)
    assert ours.apply_chat_template(MESSAGES) == theirs.apply_chat_template(
        MESSAGES, tokenize=False, add_generation_prompt=True
    )
    assert ours.eos_token_ids == [ours.token_to_id("<|im_end|>")]
    assert ours.id_to_token(ours.eos_token_ids[0]) == "<|im_end|>"


def test_chat_template_jinja_file_overrides_config(tiny_dir, tmp_path):
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((tiny_dir / name).read_bytes())
    (tmp_path / "chat_template.jinja").write_text(
        "{{ bos_token }}{{ messages[0]['content'] }}{{ eos_token }}"
    )
    tokenizer = Tokenizer.from_pretrained(tmp_path)
    assert tokenizer.apply_chat_template([{"role": "user", "content": "x"}]) == "x<|im_end|>"


def test_chat_template_helpers(tiny_dir):
    tokenizer = Tokenizer.from_pretrained(tiny_dir)
    tokenizer.chat_template = (
        "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be from the user') }}"
        "{% endif %}{{ strftime_now('%Y') }}|{{ messages | tojson }}|{{ eos_token }}"
        "{% if add_generation_prompt %}<gen>{% endif %}"
    )
    from datetime import datetime

    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "é"}])
    assert rendered == f'{datetime.now().year}|[{{"role": "user", "content": "é"}}]|<|im_end|><gen>'
    assert not tokenizer.apply_chat_template(
        [{"role": "user", "content": ""}], add_generation_prompt=False
    ).endswith("<gen>")
    with pytest.raises(jinja2.TemplateError, match="first message must be from the user"):
        tokenizer.apply_chat_template([{"role": "assistant", "content": "x"}])


def test_chat_template_is_sandboxed(tiny_dir):
    tokenizer = Tokenizer.from_pretrained(tiny_dir)
    tokenizer.chat_template = "{{ messages.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(jinja2.exceptions.SecurityError):
        tokenizer.apply_chat_template(MESSAGES)
    assert CHATML_TEMPLATE  # the tiny tokenizer's template is the ChatML one rendered above


def stream(
    tokenizer: Tokenizer, prompt_ids: list[int], ids: list[int], skip_special_tokens: bool = True
) -> list[str]:
    detokenizer = IncrementalDetokenizer(tokenizer, prompt_ids, skip_special_tokens)
    return [detokenizer.step(token_id) for token_id in ids]


def test_detokenizer_never_emits_half_a_character(gguf_tok):
    text = " Emoji 😀🎉 and 日本語 and 👩‍👩‍👧 done"
    ids = gguf_tok.encode(text)
    assert any("\ufffd" in gguf_tok.decode([i]) for i in ids)  # some tokens hold partial UTF-8
    deltas = stream(gguf_tok, gguf_tok.encode("Say:"), ids)
    assert "".join(deltas) == text
    assert not any("\ufffd" in d for d in deltas)
    assert "" in deltas  # held back while a character was incomplete


def test_detokenizer_skip_special_tokens(gguf_tok):
    ids = gguf_tok.encode("Hi<|im_end|> there")
    assert "".join(stream(gguf_tok, [], ids, skip_special_tokens=True)) == gguf_tok.decode(ids)
    assert "".join(stream(gguf_tok, [], ids, skip_special_tokens=False)) == "Hi<|im_end|> there"


def test_detokenizer_keeps_a_bounded_window(gguf_tok):
    ids = gguf_tok.encode("word " * 300)
    detokenizer = IncrementalDetokenizer(gguf_tok, [], True)
    for token_id in ids:
        detokenizer.step(token_id)
        assert len(detokenizer.token_ids) <= 8
    assert detokenizer.output_text == gguf_tok.decode(ids)


@settings(max_examples=60, deadline=None)
@given(prompt=st.text(max_size=20), text=st.text(min_size=1, max_size=40))
def test_detokenizer_deltas_concatenate_to_decode(gguf_tok, prompt, text):
    ids = gguf_tok.encode(text)
    deltas = stream(gguf_tok, gguf_tok.encode(prompt), ids)
    full = gguf_tok.decode(ids)
    if "\ufffd" not in full:
        assert "".join(deltas) == full
    assert all("\ufffd" not in d for d in deltas) or "\ufffd" in full


def test_add_bos_token_without_post_processor(tiny_dir, tmp_path):
    """Llama-style tokenizer_config (add_bos_token) over a tokenizer.json without a post-processor."""
    import json

    tokenizer_json = json.loads((tiny_dir / "tokenizer.json").read_text())
    tokenizer_json["post_processor"] = None
    (tmp_path / "tokenizer.json").write_text(json.dumps(tokenizer_json))
    config = json.loads((tiny_dir / "tokenizer_config.json").read_text())
    (tmp_path / "tokenizer_config.json").write_text(
        json.dumps({**config, "bos_token": "<|endoftext|>", "add_bos_token": True})
    )
    tokenizer = Tokenizer.from_pretrained(tmp_path)
    bos = tokenizer.token_to_id("<|endoftext|>")
    assert tokenizer.bos_token_id == bos
    assert tokenizer.encode("hi", add_special_tokens=True) == [bos, *tokenizer.encode("hi")]
    assert bos not in tokenizer.encode("hi")
