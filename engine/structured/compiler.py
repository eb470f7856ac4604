"""GrammarSpec → xgrammar CompiledGrammar, once per spec (an LRU cache shared by every request).

A schema is first checked against the JSON Schema meta-schema (jsonschema), so a 400 can say where
it is wrong; then xgrammar compiles it. Messages name the place and the rule, never quote values.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import jsonschema
import torch
import xgrammar as xgr

from engine.errors import InvalidParam
from engine.structured.bounded import unroll_bounded_strings
from engine.structured.processor import GrammarProcessor, cpu_count, processor_factory
from engine.structured.regex_check import normalize, normalize_schema, problem, schema_patterns
from engine.structured.spec import GrammarSpec
from engine.structured.unsupported import unsupported_keyword

DEFAULT_CACHE_SIZE = 256
log = logging.getLogger(__name__)


def tokenizer_info(tokenizer: Any, vocab_size: int) -> xgr.TokenizerInfo:
    """xgrammar's view of our tokenizer (engine.tokenizer.Tokenizer over HF `tokenizers`): what
    TokenizerInfo.from_huggingface does for a fast tokenizer, without transformers."""
    backend = tokenizer._tokenizer
    vocab: dict[str, int] = backend.get_vocab(with_added_tokens=True)
    encoded = [""] * vocab_size
    for piece, i in vocab.items():
        if i < vocab_size:
            encoded[i] = piece
    meta = xgr.TokenizerInfo._detect_metadata_from_hf(backend.to_str())
    vocab_type = xgr.TokenizerInfo._detect_vocab_type_from_vocab(vocab)
    if vocab_type is not None and vocab_type != meta["vocab_type"]:  # the vocabulary decides
        first = backend.encode("a", add_special_tokens=False).tokens[:1]
        prefix = "\u2581" if vocab_type == xgr.VocabType.BYTE_FALLBACK else "\u0120"
        meta = {"vocab_type": vocab_type, "add_prefix_space": bool(first) and first[0].startswith(prefix)}
    return xgr.TokenizerInfo(
        encoded,
        vocab_type=meta["vocab_type"],
        vocab_size=vocab_size,
        stop_token_ids=list(tokenizer.eos_token_ids) or None,
        add_prefix_space=meta["add_prefix_space"],
    )


def json_safe_mask(info: xgr.TokenizerInfo) -> torch.Tensor:
    """int32 bits, one per token: clear for tokens holding a raw control character (U+0000-U+001F).
    JSON forbids them unescaped inside strings, and xgrammar's string rule lets them through."""
    vocab = info.vocab_size
    allowed = torch.ones(-(-vocab // 32) * 32, dtype=torch.bool)
    special = set(info.special_token_ids) | set(info.stop_token_ids)
    for i, piece in enumerate(info.decoded_vocab[:vocab]):
        if i not in special and any(b < 0x20 for b in piece):
            allowed[i] = False
    bits = allowed.view(-1, 32).to(torch.int64) << torch.arange(32, dtype=torch.int64)
    return bits.sum(dim=1).to(torch.uint32).view(torch.int32)  # same bits, as int32


def _pointer(path: Any) -> str:
    return "/" + "/".join(str(p)[:64] for p in path) if path else "the root"


def check_json_schema(schema: dict[str, Any], param: str) -> None:
    try:
        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidParam(
            param, f"not a valid JSON Schema: at {_pointer(exc.path)}, the '{exc.validator}' rule fails"
        ) from None
    except (jsonschema.exceptions.RefResolutionError, jsonschema.exceptions._WrappedReferencingError):
        raise InvalidParam(param, "not a valid JSON Schema: a $ref does not resolve") from None


def check_supported(schema: dict[str, Any], param: str) -> None:
    """400 for a constraint the grammar would not enforce (engine/structured/unsupported.py)."""
    found = unsupported_keyword(schema)
    if found is not None:
        where, keyword = found
        raise InvalidParam(
            param,
            f"at {where}, '{keyword}' is not supported in constrained decoding (it would not be enforced)",
        )


def check_schema_patterns(schema: dict[str, Any], param: str) -> None:
    """400 for a `pattern` (or `patternProperties` key) the grammar would not enforce (regex_check.py)."""
    for where, pattern in schema_patterns(schema):
        _refuse_regex_problem(pattern, param, f"at {where}, ")


def _refuse_regex_problem(pattern: str, param: str, where: str) -> None:
    """where: "at /pointer, " inside a schema, "" for a whole regex."""
    found = problem(pattern)
    if found is not None:
        raise InvalidParam(
            param, f"{where}{found} is not supported in constrained decoding (it would not be enforced)"
        )


def choice_grammar(choices: list[str]) -> str:
    """EBNF with one literal per choice (JSON string escapes are EBNF string escapes)."""
    return "root ::= " + " | ".join(json.dumps(c, ensure_ascii=True) for c in choices)


class GrammarFactory:
    """A fresh matcher per sequence for one spec. It keeps the spec: an engine core in its own process
    gets the spec and compiles it there (engine/core_process.py), since compiled grammars do not pickle."""

    __slots__ = ("_make", "spec")

    def __init__(self, spec: GrammarSpec, make: Callable[[], GrammarProcessor]) -> None:
        self.spec = spec
        self._make = make

    def __call__(self) -> GrammarProcessor:
        return self._make()


class GrammarCompilerCache:
    def __init__(
        self, info: xgr.TokenizerInfo, max_entries: int = DEFAULT_CACHE_SIZE, threads: int | None = None
    ):
        """threads: xgrammar's compile threads (default: half the CPUs, at least 2; unrolled bounded
        strings make a schema's compile a few times longer, and it runs beside the step loop's fills)."""
        self.info = info
        self.vocab_size = info.vocab_size
        threads = threads or max(2, cpu_count() // 2)
        self._compiler = xgr.GrammarCompiler(info, max_threads=threads, cache_enabled=False)
        self.json_safe = json_safe_mask(info)
        self._cache: OrderedDict[tuple[str, str], xgr.CompiledGrammar] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, vocab_size: int, **kwargs: Any) -> GrammarCompilerCache:
        return cls(tokenizer_info(tokenizer, vocab_size), **kwargs)

    def factory(self, spec: GrammarSpec) -> GrammarFactory:
        """What SamplingParams.logits_processor_factory holds for this spec (compiled, cached)."""
        and_mask = self.json_safe if spec.kind in ("json_schema", "json_object") else None
        return GrammarFactory(spec, processor_factory(self.compile(spec), and_mask))

    def compile(self, spec: GrammarSpec) -> xgr.CompiledGrammar:
        """The compiled grammar (cached); InvalidParam naming the problem when it cannot compile."""
        with self._lock:
            found = self._cache.get(spec.key)
            if found is not None:
                self._cache.move_to_end(spec.key)
                self.hits += 1
                return found
        compiled = self._compile(spec)  # outside the lock: compiles run in parallel
        with self._lock:
            self.misses += 1
            self._cache[spec.key] = compiled
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return compiled

    def _compile(self, spec: GrammarSpec) -> xgr.CompiledGrammar:
        c = self._compiler
        if spec.kind == "json_object":
            return c.compile_json_schema('{"type": "object"}', any_whitespace=False, strict_mode=False)
        if spec.kind == "json_schema":
            schema = spec.schema()
            check_schema_patterns(schema, spec.param)  # first: the meta-schema's regex check is Python's
            check_json_schema(schema, spec.param)
            check_supported(schema, spec.param)
            try:
                # any_whitespace=False: compact JSON, so a small model cannot loop on whitespace
                text = json.dumps(strict_formats(normalize_schema(schema)))
                grammar = xgr.Grammar.from_json_schema(text, any_whitespace=False, strict_mode=True)
                return self._compile_json_grammar(grammar)
            except (RuntimeError, ValueError, TypeError):
                raise InvalidParam(spec.param, _schema_failure(schema)) from None
        if spec.kind == "regex":
            _refuse_regex_problem(spec.value, spec.param, "")
            try:
                re.compile(spec.value)
            except re.error:
                raise InvalidParam(spec.param, "not a regular expression that can be compiled") from None
            try:
                return c.compile_regex(normalize(spec.value))
            except (RuntimeError, ValueError):
                raise InvalidParam(spec.param, "not a regular expression that can be compiled") from None
        if spec.kind == "choice":
            return c.compile_grammar(choice_grammar(json.loads(spec.value)))
        try:
            return c.compile_grammar(spec.value)
        except (RuntimeError, ValueError):
            raise InvalidParam(
                spec.param, "not a grammar that can be compiled (EBNF with a `root` rule expected)"
            ) from None

    def _compile_json_grammar(self, grammar: xgr.Grammar) -> xgr.CompiledGrammar:
        """With length-bounded strings unrolled (engine/structured/bounded.py); as xgrammar printed it
        if the rewrite does not compile (a bug of ours, not the request's)."""
        unrolled = unroll_bounded_strings(str(grammar))
        if unrolled is not None:
            try:
                return self._compiler.compile_grammar(unrolled)
            except (RuntimeError, ValueError):
                log.warning("bounded-string rewrite did not compile; using the grammar as generated")
        return self._compiler.compile_grammar(grammar)


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# formats xgrammar accepts more loosely than validators do, as patterns (xgrammar: pattern wins)
_YEAR = r"([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"  # 0001-9999, as Python's date
_DATE = (
    _YEAR + r"-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)"
    r"|02-(0[1-9]|1[0-9]|2[0-8]))"
)
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
FORMAT_PATTERNS = {
    "ipv4": rf"^{_OCTET}(\.{_OCTET}){{3}}$",
    "date": rf"^{_DATE}$",  # February: up to the 28th (every year); no year 0
    "date-time": rf"^{_DATE}T{_TIME}$",
}


def strict_formats(schema: Any) -> Any:
    """A copy with `format`s that xgrammar under-constrains replaced by exact patterns."""
    if isinstance(schema, list):
        return [strict_formats(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_formats(v) for k, v in schema.items()}
    fmt = out.get("format")
    if isinstance(fmt, str) and fmt in FORMAT_PATTERNS and "pattern" not in out:
        out["pattern"] = FORMAT_PATTERNS[fmt]
        del out["format"]
    return out


def _schema_failure(schema: dict[str, Any]) -> str:
    return "this JSON Schema cannot be turned into a grammar (unsupported or contradictory constraints)"
