"""Tiny random HF checkpoints for engine tests: save_pretrained (safetensors) + a byte-level BPE tokenizer.

path = build_tiny_model("qwen3", tmp_path / "qwen3")   # config.json, model.safetensors, tokenizer.json, ...
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from engine.attention_metadata import AttentionMetadata, build_attention_metadata

FAMILIES = ("llama", "llama3", "mistral", "qwen2", "qwen3")
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
VOCAB_SIZE = 512
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! How are you today? I am fine, thank you.",
    "Paged attention stores keys and values in fixed-size blocks.",
    "Confidential computing keeps data encrypted while in use.",
    "日本語のテキストも少し。 Emoji too: 😀🎉🚀 and café, naïve, Zürich.",
    "def main():\n    return 42\n",
] * 4


def build_tiny_tokenizer(path: Path) -> Tokenizer:
    """A byte-level BPE tokenizer (ids < VOCAB_SIZE) with ChatML special tokens, saved as HF files in path."""
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    tokenizer.save(str(path / "tokenizer.json"))
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "chat_template": CHATML_TEMPLATE,
    }
    (path / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return tokenizer


def tiny_hf_config(family: str, tie_word_embeddings: bool = False):
    """A transformers config for `family` with hidden 64, 2 layers, 4 heads, 2 KV heads."""
    from transformers import LlamaConfig, MistralConfig, Qwen2Config, Qwen3Config

    common = dict(
        vocab_size=VOCAB_SIZE,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        initializer_range=0.2,
        tie_word_embeddings=tie_word_embeddings,
        bos_token_id=0,
        eos_token_id=2,
    )
    if family == "llama":
        return LlamaConfig(**common, rope_theta=10000.0)
    if family == "llama3":
        rope = dict(
            rope_type="llama3",
            rope_theta=500000.0,
            factor=8.0,
            low_freq_factor=1.0,
            high_freq_factor=4.0,
            original_max_position_embeddings=32,
        )
        return LlamaConfig(**common, rope_parameters=rope)
    if family == "mistral":
        return MistralConfig(**common, sliding_window=None, rope_theta=1000000.0)
    if family == "qwen2":
        return Qwen2Config(**common, use_sliding_window=False, rope_theta=1000000.0)
    if family == "qwen3":
        return Qwen3Config(**common, head_dim=32, use_sliding_window=False, rope_theta=1000000.0)
    raise ValueError(f"unknown family {family!r}")


def build_tiny_model(
    family: str,
    path: Path,
    *,
    tie_word_embeddings: bool = False,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    max_shard_size: str | None = None,
) -> Path:
    """Save a seeded random HF model of `family` and the tiny tokenizer to path; returns path."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_hf_config(family, tie_word_embeddings))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name or "bias" in name:
                param.add_(torch.randn_like(param) * 0.2)
    model = model.to(dtype)
    kwargs = {"max_shard_size": max_shard_size} if max_shard_size else {}
    model.save_pretrained(path, safe_serialization=True, **kwargs)
    build_tiny_tokenizer(path)
    return path


def allocate_kv_caches(
    num_layers: int, num_blocks: int, block_size: int, num_kv_heads: int, head_dim: int, dtype: torch.dtype
) -> list[torch.Tensor]:
    return [
        torch.zeros(2, num_blocks, block_size, num_kv_heads, head_dim, dtype=dtype) for _ in range(num_layers)
    ]


def scrambled_block_table(num_tokens: int, block_size: int, num_blocks: int, seed: int = 0) -> list[int]:
    """Enough distinct, shuffled block ids for num_tokens (block 0 left unused to catch padding bugs)."""
    generator = torch.Generator().manual_seed(seed)
    needed = -(-num_tokens // block_size)
    return (torch.randperm(num_blocks - 1, generator=generator)[:needed] + 1).tolist()


def chunk_metadata(
    start: int, end: int, block_table: list[int], block_size: int
) -> tuple[torch.Tensor, AttentionMetadata]:
    """(positions, metadata) for one sequence computing tokens start..end-1 with start tokens cached."""
    positions = torch.arange(start, end)
    return positions, build_attention_metadata([end - start], [end], [block_table], block_size)


def write_tiny_gguf(model_dir: Path, path: Path, quantize_matrices: bool = False) -> Path:
    """Write a checkpoint from build_tiny_model as GGUF the way llama.cpp's converter does (llama: Q/K
    permuted; F32 tensors, or Q8_0 for 2-D weights when quantize_matrices) with its tokenizer in metadata."""
    import gguf
    from safetensors.torch import load_file

    from engine.loader.gguf import GLOBAL_TENSORS, LAYER_TENSORS

    config = json.loads((model_dir / "config.json").read_text())
    arch = config["model_type"]
    writer = gguf.GGUFWriter(path, arch)
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_freq_base(config.get("rope_theta") or config["rope_parameters"]["rope_theta"])
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    tokenizer = json.loads((model_dir / "tokenizer.json").read_text())
    vocab = {**tokenizer["model"]["vocab"], **{t["content"]: t["id"] for t in tokenizer["added_tokens"]}}
    tokens = [f"[PAD{i}]" for i in range(config["vocab_size"])]
    types = [gguf.TokenType.UNUSED] * config["vocab_size"]
    for token, token_id in vocab.items():
        tokens[token_id] = token
        types[token_id] = gguf.TokenType.CONTROL if token in SPECIAL_TOKENS else gguf.TokenType.NORMAL
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges([" ".join(m) for m in tokenizer["model"]["merges"]])
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(vocab["<|im_end|>"])
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML_TEMPLATE)
    to_gguf = {f"model.layers.{{}}.{hf}": f"blk.{{}}.{ours}" for ours, hf in LAYER_TENSORS.items()}
    to_gguf |= {hf: ours for ours, hf in GLOBAL_TENSORS.items()}
    for name, tensor in load_file(model_dir / "model.safetensors").items():
        base, _, kind = name.rpartition(".")
        parts = base.split(".")
        if parts[:2] == ["model", "layers"]:
            gguf_base = to_gguf["model.layers.{}." + ".".join(parts[3:])].format(parts[2])
        else:
            gguf_base = to_gguf[base]
        array = tensor.float().numpy()
        if arch == "llama" and kind == "weight" and base.endswith(("q_proj", "k_proj")):
            n = heads if base.endswith("q_proj") else kv_heads
            array = (
                array.reshape(n, 2, array.shape[0] // n // 2, *array.shape[1:])
                .swapaxes(1, 2)
                .reshape(array.shape)
            )
        if quantize_matrices and array.ndim == 2:
            data = gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(f"{gguf_base}.{kind}", data, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(f"{gguf_base}.{kind}", array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def hf_reference_model(hf_config: dict, state_dict: dict[str, torch.Tensor]):
    """An HF transformers model holding state_dict (e.g. from engine.loader.gguf.read_gguf), built without
    random initialisation: on the meta device, then the tensors assigned and the rotary buffers rebuilt."""
    from transformers import AutoConfig, AutoModelForCausalLM

    fields = {k: v for k, v in hf_config.items() if k not in ("model_type", "architectures")}
    config = AutoConfig.for_model(hf_config["model_type"], **fields)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    result = model.load_state_dict(state_dict, strict=False, assign=True)
    allowed_missing = ["lm_head.weight"] if config.tie_word_embeddings else []
    if result.unexpected_keys or result.missing_keys != allowed_missing:
        raise ValueError(f"state dict does not fit {type(model).__name__}: {result}")
    model.tie_weights()
    model.model.rotary_emb = type(model.model.rotary_emb)(config)
    return model.eval()
