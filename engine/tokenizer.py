"""Tokenizer: HF `tokenizers` for encode/decode plus the model's Jinja chat template (sandboxed)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import processors

from engine.errors import ModelLoadError


class Tokenizer:
    def __init__(
        self,
        tokenizer: HFTokenizer,
        *,
        chat_template: str | None = None,
        bos_token: str | None = None,
        eos_token: str | None = None,
        eos_token_ids: list[int] | None = None,
    ) -> None:
        self._tokenizer = tokenizer
        self.chat_template = chat_template
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.bos_token_id = tokenizer.token_to_id(bos_token) if bos_token else None
        eos_ids = list(eos_token_ids or [])
        eos_id = tokenizer.token_to_id(eos_token) if eos_token else None
        if eos_id is not None and eos_id not in eos_ids:
            eos_ids.insert(0, eos_id)
        self.eos_token_ids = eos_ids
        if eos_token is None and eos_ids:
            self.eos_token = tokenizer.id_to_token(eos_ids[0])

    @classmethod
    def from_pretrained(
        cls, path: str | Path, eos_token_ids: list[int] | None = None, chat_template: str | None = None
    ) -> Tokenizer:
        """Load tokenizer.json, tokenizer_config.json and chat_template.jinja from an HF directory.
        chat_template (`--chat-template`, a file or the template itself) replaces the model's."""
        path = Path(path)
        if not (path / "tokenizer.json").is_file():
            raise ModelLoadError(f"{path}: no tokenizer.json (only HF fast tokenizers are supported)")
        try:
            tokenizer = HFTokenizer.from_file(str(path / "tokenizer.json"))
            config = _read_json(path / "tokenizer_config.json")
        except Exception as e:  # tokenizers raises a bare Exception on a malformed file
            raise ModelLoadError(f"{path}: cannot read tokenizer: {e}") from e
        bos_token = _token_content(config.get("bos_token"))
        if config.get("add_bos_token") and bos_token and tokenizer.post_processor is None:
            # transformers' Llama tokenizer adds this at load time when tokenizer.json lacks it
            bos_id = tokenizer.token_to_id(bos_token)
            tokenizer.post_processor = processors.TemplateProcessing(
                single=f"{bos_token} $A",
                pair=f"{bos_token} $A {bos_token} $B",
                special_tokens=[(bos_token, bos_id)],
            )
        model_template = config.get("chat_template")
        if isinstance(model_template, list):
            model_template = next((t["template"] for t in model_template if t.get("name") == "default"), None)
        if (path / "chat_template.jinja").is_file():
            model_template = (path / "chat_template.jinja").read_text()
        return cls(
            tokenizer,
            chat_template=resolve_chat_template(chat_template) if chat_template else model_template,
            bos_token=bos_token,
            eos_token=_token_content(config.get("eos_token")),
            eos_token_ids=eos_token_ids,
        )

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    @cached_property
    def all_special_ids(self) -> frozenset[int]:
        return frozenset(i for i, t in self._tokenizer.get_added_tokens_decoder().items() if t.special)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        # A plain pass-through: the proxy decodes token-id prompts with `to_json()` alone (GET /tokenizer);
        # any step added here must be described there too.
        return self._tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)

    def id_to_token(self, token_id: int) -> str | None:
        return self._tokenizer.id_to_token(token_id)

    def to_json(self) -> str:
        """The HF `tokenizers` JSON this tokenizer encodes and decodes with (GET /tokenizer):
        `tokenizers.Tokenizer.from_str(...).decode(ids, skip_special_tokens=...)` equals `decode`."""
        return self._tokenizer.to_str()

    def token_to_id(self, token: str) -> int | None:
        return self._tokenizer.token_to_id(token)

    def apply_chat_template(
        self, messages: list[dict[str, Any]], add_generation_prompt: bool = True, **kwargs: Any
    ) -> str:
        if self.chat_template is None:
            raise ValueError("this model has no chat template")
        template = _compile_template(self.chat_template)
        return template.render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token or "",
            eos_token=self.eos_token or "",
            **kwargs,
        )


def resolve_chat_template(value: str) -> str:
    """`--chat-template`: a file's contents, or the template itself when it has Jinja syntax in it
    (as vLLM reads it); a name that is neither is an error, not a template that renders the path."""
    path = Path(value)
    try:
        if path.is_file():
            return path.read_text()
    except OSError:  # a template long enough to be an invalid file name
        pass
    if any(c in value for c in "{}\n"):
        return value
    raise ModelLoadError(f"--chat-template {value}: no such file, and not a Jinja template")


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _token_content(token: str | dict | None) -> str | None:
    return token.get("content") if isinstance(token, dict) else token


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, separators=None, sort_keys=False
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


_templates: dict[str, jinja2.Template] = {}


def _compile_template(source: str) -> jinja2.Template:
    """As transformers does: sandboxed, trim_blocks + lstrip_blocks, loop controls, raise_exception."""
    if source not in _templates:
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        _templates[source] = env.from_string(source)
    return _templates[source]
