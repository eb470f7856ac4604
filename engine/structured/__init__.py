"""Structured outputs: request fields → a GrammarSpec → an xgrammar CompiledGrammar (cached) → one
GrammarProcessor per sequence, which the step loop asks for the token bitmask before sampling."""

import engine.structured.xgr  # noqa: F401  (first: xgrammar without transformers)
from engine.structured.compiler import GrammarCompilerCache
from engine.structured.processor import GrammarProcessor, processor_factory
from engine.structured.spec import GrammarSpec, parse_structured_fields

__all__ = [
    "GrammarCompilerCache",
    "GrammarProcessor",
    "GrammarSpec",
    "parse_structured_fields",
    "processor_factory",
]
