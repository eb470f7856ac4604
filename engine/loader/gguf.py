"""GGUF files as HF checkpoints: llama.cpp tensor names mapped to HF names, Q/K un-permuted, weights
dequantized to float32, tokenizer and chat template rebuilt from the file's metadata.

    hf_config, state_dict, tokenizer = read_gguf(path)   # LlamaForCausalLM(LlamaConfig(**hf_config)) loads it
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gguf.quants import dequantize
from tokenizers import AddedToken, Regex, decoders, models, pre_tokenizers, processors
from tokenizers import Tokenizer as HFTokenizer

from engine.errors import ModelLoadError, UnsupportedModel
from engine.loader.gguf_file import GGUFFile, GGUFTensor, read_gguf_file
from engine.loader.gguf_sentencepiece import sentencepiece_tokenizer
from engine.tokenizer import Tokenizer

ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}
TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED = 3, 4
LAYER_TENSORS = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
GLOBAL_TENSORS = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
# llama.cpp's pre-tokenizer regexes (tokenizer.ggml.pre); others use GPT-2's ByteLevel split
PRE_TOKENIZER_REGEX = {
    "llama-bpe": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+",
    "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+",
}


def read_gguf(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], Tokenizer]:
    """(HF config.json dict, HF-named float32 state dict, tokenizer) of a GGUF file."""
    hf_config, weights, tokenizer = open_gguf(path)
    return hf_config, dict(weights), tokenizer


def open_gguf(path: str | Path) -> tuple[dict[str, Any], Iterator[tuple[str, torch.Tensor]], Tokenizer]:
    """As read_gguf, but the weights are dequantized one at a time as the iterator is consumed."""
    gguf_file = read_gguf_file(path)
    hf_config = gguf_hf_config(gguf_file, path)
    return hf_config, iter_gguf_weights(gguf_file, hf_config, path), gguf_tokenizer(gguf_file.metadata, path)


def iter_gguf_weights(
    gguf_file: GGUFFile, hf_config: dict[str, Any], path: str | Path
) -> Iterator[tuple[str, torch.Tensor]]:
    for tensor in gguf_file.tensors.values():
        name = hf_tensor_name(tensor.name)
        if name is None:
            raise UnsupportedModel(f"{path}: GGUF tensor {tensor.name!r} has no HF equivalent")
        weight = dequantize_tensor(tensor)
        if hf_config["model_type"] == "llama" and name.endswith(("q_proj.weight", "k_proj.weight")):
            heads = hf_config["num_attention_heads" if "q_proj" in name else "num_key_value_heads"]
            weight = unpermute_qk(weight, heads)
        yield name, weight


def gguf_hf_config(gguf_file: GGUFFile, path: str | Path) -> dict[str, Any]:
    meta = gguf_file.metadata
    arch = meta.get("general.architecture")
    if arch not in ARCHITECTURES:
        raise UnsupportedModel(
            f"{path}: GGUF architecture {arch!r} is not supported; supported: {list(ARCHITECTURES)}"
        )
    if "rope_freqs.weight" in gguf_file.tensors or f"{arch}.rope.scaling.type" in meta:
        raise UnsupportedModel(f"{path}: GGUF rope scaling is not supported")
    try:
        hidden_size = meta[f"{arch}.embedding_length"]
        num_heads = meta[f"{arch}.attention.head_count"]
        vocab_size = meta.get(f"{arch}.vocab_size") or len(meta["tokenizer.ggml.tokens"])
        return {
            "architectures": [ARCHITECTURES[arch]],
            "model_type": arch,
            "vocab_size": vocab_size,
            "hidden_size": hidden_size,
            "intermediate_size": meta[f"{arch}.feed_forward_length"],
            "num_hidden_layers": meta[f"{arch}.block_count"],
            "num_attention_heads": num_heads,
            "num_key_value_heads": meta.get(f"{arch}.attention.head_count_kv", num_heads),
            "head_dim": meta.get(f"{arch}.attention.key_length", hidden_size // num_heads),
            "rms_norm_eps": meta[f"{arch}.attention.layer_norm_rms_epsilon"],
            "rope_theta": meta.get(f"{arch}.rope.freq_base", 10000.0),
            "max_position_embeddings": meta.get(f"{arch}.context_length", 2048),
            "tie_word_embeddings": "output.weight" not in gguf_file.tensors,
            "bos_token_id": meta.get("tokenizer.ggml.bos_token_id"),
            "eos_token_id": meta.get("tokenizer.ggml.eos_token_id"),
            "hidden_act": "silu",
            "torch_dtype": "bfloat16",
        }
    except KeyError as e:
        raise ModelLoadError(f"{path}: GGUF metadata lacks {e.args[0]!r}") from e


def hf_tensor_name(gguf_name: str) -> str | None:
    if m := re.fullmatch(r"blk\.(\d+)\.(\w+)\.(weight|bias)", gguf_name):
        layer, part, kind = m.groups()
        return f"model.layers.{layer}.{LAYER_TENSORS[part]}.{kind}" if part in LAYER_TENSORS else None
    base, _, kind = gguf_name.rpartition(".")
    return f"{GLOBAL_TENSORS[base]}.{kind}" if base in GLOBAL_TENSORS else None


def dequantize_tensor(tensor: GGUFTensor) -> torch.Tensor:
    values = dequantize(tensor.data, tensor.tensor_type)
    if np.may_share_memory(values, tensor.data):
        values = values.copy()
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)).reshape(tensor.shape)


def unpermute_qk(weight: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Undo convert_hf_to_gguf.py's permute (interleaved rotary halves back to HF's rotate_half layout)."""
    rows = weight.shape[0]
    return (
        weight.reshape(num_heads, rows // num_heads // 2, 2, *weight.shape[1:])
        .transpose(1, 2)
        .reshape(weight.shape)
    )


def gguf_tokenizer(meta: dict[str, Any], path: str | Path) -> Tokenizer:
    model = meta.get("tokenizer.ggml.model")
    if model == "llama":
        return _sentencepiece(meta)
    if model != "gpt2":
        raise UnsupportedModel(
            f"{path}: GGUF tokenizer model {model!r} is not supported"
            " (byte-level BPE 'gpt2' and SentencePiece 'llama' are)"
        )
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    token_types: list[int] = meta.get("tokenizer.ggml.token_type", [1] * len(tokens))
    merges = [tuple(m.split(" ", 1)) for m in meta.get("tokenizer.ggml.merges", [])]
    tokenizer = HFTokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges, fuse_unk=False))
    tokenizer.pre_tokenizer = _pre_tokenizer(meta.get("tokenizer.ggml.pre", "gpt2"))
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_tokens(
        [
            AddedToken(t, special=False, normalized=False)
            for t, k in zip(tokens, token_types, strict=True)
            if k == TOKEN_TYPE_USER_DEFINED
        ]
    )
    tokenizer.add_special_tokens(
        [
            AddedToken(t, special=True, normalized=False)
            for t, k in zip(tokens, token_types, strict=True)
            if k == TOKEN_TYPE_CONTROL
        ]
    )
    bos_id, eos_id = meta.get("tokenizer.ggml.bos_token_id"), meta.get("tokenizer.ggml.eos_token_id")
    bos = tokens[bos_id] if bos_id is not None else None
    if meta.get("tokenizer.ggml.add_bos_token") and bos is not None:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
        )
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return Tokenizer(
        tokenizer,
        chat_template=meta.get("tokenizer.chat_template"),
        bos_token=bos,
        eos_token=tokens[eos_id] if eos_id is not None else None,
    )


def _sentencepiece(meta: dict[str, Any]) -> Tokenizer:
    tokenizer = sentencepiece_tokenizer(meta)
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    bos_id, eos_id = meta.get("tokenizer.ggml.bos_token_id"), meta.get("tokenizer.ggml.eos_token_id")
    bos = tokens[bos_id] if bos_id is not None else None
    if meta.get("tokenizer.ggml.add_bos_token", True) and bos is not None:  # llama.cpp's default for SPM
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
        )
    return Tokenizer(
        tokenizer,
        chat_template=meta.get("tokenizer.chat_template"),
        bos_token=bos,
        eos_token=tokens[eos_id] if eos_id is not None else None,
    )


def _pre_tokenizer(pre: str) -> pre_tokenizers.PreTokenizer:
    if pre in PRE_TOKENIZER_REGEX:
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(PRE_TOKENIZER_REGEX[pre]), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre == "smollm":
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    return byte_level
