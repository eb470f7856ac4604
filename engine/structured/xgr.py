"""xgrammar, importable without transformers. xgrammar's __init__ imports transformers for
TokenizerInfo.from_huggingface and its HF LogitsProcessor; the engine uses neither
(compiler.tokenizer_info builds TokenizerInfo from the `tokenizers` vocabulary). The runtime venv
(`make run`) leaves transformers and the Triton it pulls out, so there placeholder classes stand in
while xgrammar imports, and are removed again."""

from __future__ import annotations

import importlib.util
import sys
import types


def _import_xgrammar() -> None:
    if "xgrammar" in sys.modules or importlib.util.find_spec("transformers") is not None:
        return
    stub = types.ModuleType("transformers")
    for name in ("PreTrainedTokenizerBase", "PreTrainedTokenizerFast", "LogitsProcessor"):
        setattr(stub, name, type(name, (), {}))
    sys.modules["transformers"] = stub
    try:
        import xgrammar  # noqa: F401
    finally:
        del sys.modules["transformers"]


_import_xgrammar()
