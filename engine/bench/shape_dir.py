"""Write a named shape as an HF directory with no weights: config.json, a word-level tokenizer and a
ChatML template, so that `teecube engine DIR --load-format dummy` serves text (chat, the proxy's output
guard) on a machine that cannot download a checkpoint.

    python -m engine.bench.shape_dir qwen3-0.6b /tmp/qwen3-0.6b-dummy
    teecube engine /tmp/qwen3-0.6b-dummy --load-format dummy

Token i decodes to a common English word for the first ids and to `w<i>` beyond them; the shape's
BOS and EOS ids are the ChatML special tokens.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers

from engine.bench.serve_data import WORDS
from engine.loader.shapes import SHAPES

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<unk>")


def word_vocab(vocab_size: int, bos_id: int, eos_id: int) -> dict[str, int]:
    specials = {bos_id: "<|endoftext|>", eos_id: "<|im_end|>"}
    free = [i for i in range(vocab_size) if i not in specials]
    vocab = {token: i for i, token in specials.items()}
    vocab["<|im_start|>"], vocab["<unk>"] = free.pop(), free.pop()
    words = list(dict.fromkeys(["system", "user", "assistant", *WORDS]))
    for n, i in enumerate(free):
        vocab.setdefault(words[n] if n < len(words) else f"w{i}", i)
    return vocab


def write_shape_dir(shape: str, path: Path) -> Path:
    hf = dict(SHAPES[shape])
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(hf, indent=2))
    bos, eos = hf.get("bos_token_id", 0), hf["eos_token_id"]
    tokenizer = Tokenizer(models.WordLevel(word_vocab(hf["vocab_size"], bos, eos), unk_token="<unk>"))  # noqa: S106 (a token, not a secret)
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.add_special_tokens(list(SPECIAL))
    tokenizer.save(str(path / "tokenizer.json"))
    config = {"eos_token": "<|im_end|>", "bos_token": None, "chat_template": CHATML}
    (path / "tokenizer_config.json").write_text(json.dumps(config))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine.bench.shape_dir", description=__doc__.splitlines()[0])
    p.add_argument("shape", choices=sorted(SHAPES))
    p.add_argument("path", type=Path)
    args = p.parse_args(argv)
    print(write_shape_dir(args.shape, args.path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
