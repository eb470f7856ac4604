"""Incremental detokenization, vLLM style: decode only a short window of recent tokens each step and emit
the text beyond what the window's prefix already produced. Text ending in U+FFFD (half a UTF-8
character from byte-level BPE) is held back until the next token completes it."""

from __future__ import annotations

from engine.tokenizer import Tokenizer

INITIAL_PREFIX_TOKENS = 5


class IncrementalDetokenizer:
    def __init__(self, tokenizer: Tokenizer, prompt_ids: list[int], skip_special_tokens: bool = True) -> None:
        self.tokenizer = tokenizer
        self.skip_special_tokens = skip_special_tokens
        self.token_ids = list(prompt_ids[-INITIAL_PREFIX_TOKENS:])
        self.prefix_offset = 0
        self.read_offset = len(self.token_ids)
        self.output_text = ""

    def step(self, token_id: int) -> str:
        """Append one token; return the new complete text (possibly empty)."""
        self.token_ids.append(token_id)
        decode = self.tokenizer.decode
        prefix_text = decode(self.token_ids[self.prefix_offset : self.read_offset], self.skip_special_tokens)
        new_text = decode(self.token_ids[self.prefix_offset :], self.skip_special_tokens)
        if len(new_text) <= len(prefix_text) or new_text.endswith("\ufffd"):
            return ""
        delta = new_text[len(prefix_text) :]
        # keep only the window still needed, so each step costs O(window), not O(length)
        del self.token_ids[: self.read_offset]
        self.prefix_offset, self.read_offset = 0, len(self.token_ids)
        self.output_text += delta
        return delta
