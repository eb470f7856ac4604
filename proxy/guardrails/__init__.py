"""Guardrails: deterministic scanners, policies, input/output guards, an optional classifier hook.

The proxy calls:
    policy = compile_policy(config)                      # or cached_policy(domain_id, version, config)
    result = scan_request(policy, body, route="chat")    # InputResult
    guard = OutputGuard(policy, result.vault)            # feed/finish per stream, or apply_full
    response = ResponseGuard(guard, chat=True)           # every field of responses and stream chunks
See README.md.
"""

from proxy.guardrails.cache import PolicyCache, cached_policy
from proxy.guardrails.classifier import (
    ChatClassifier,
    Classifier,
    ClassifierResult,
    Verdict,
    classifier_messages,
    run_classifier,
)
from proxy.guardrails.errors import PolicyConfigError, blocked_error
from proxy.guardrails.input import InputResult, estimate_tokens, scan_request
from proxy.guardrails.output import GuardDelta, OutputGuard
from proxy.guardrails.policy import ClassifierConfig, CompiledPolicy, compile_policy
from proxy.guardrails.response import ResponseGuard
from proxy.guardrails.vault import Vault

__all__ = [
    "ChatClassifier",
    "Classifier",
    "ClassifierConfig",
    "ClassifierResult",
    "CompiledPolicy",
    "GuardDelta",
    "InputResult",
    "OutputGuard",
    "PolicyCache",
    "PolicyConfigError",
    "ResponseGuard",
    "Vault",
    "Verdict",
    "blocked_error",
    "cached_policy",
    "classifier_messages",
    "compile_policy",
    "estimate_tokens",
    "run_classifier",
    "scan_request",
]
