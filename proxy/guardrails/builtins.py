"""Built-in deterministic scanners: one re2 pattern each, plus an optional check.

Every pattern has a bounded maximum length (the stream hold-back window depends on it);
patterns longer than a window may declare `triggers`, literal prefixes every match starts
with, so the window only grows while such a prefix is pending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxy.guardrails import checks
from proxy.guardrails.normalize import invisible_class

Check = Callable[[str], tuple[int, int] | None]


@dataclass(frozen=True, slots=True)
class Builtin:
    """A scanner. Long findings are matched as a short re2 `pattern`, then extended without a big
    bounded repetition (which would blow up re2's DFA): backwards over `head_chars` (at most
    `head_max`) and forwards by the anchored re2 `tail` inside the next `tail_max` characters.
    """

    name: str
    pattern: str
    label: str  # mask text is "[LABEL]", placeholders are "<LABEL_n>"
    group: str  # "pii" | "secret" | "text"
    check: Check | None = None
    triggers: tuple[str, ...] = ()  # literal prefixes of every match (hold-back shortcut)
    raw_view: bool = False  # match the original text, not the normalised view
    head_chars: str = ""
    head_max: int = 0
    tail: str = ""
    tail_max: int = 0


_B64 = "A-Za-z0-9+/="
_OCTET = "[0-9]{1,3}"
_AWS = ("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA")
_KEYWORDS = (
    r"(?:api[_-]?key|apikey|secret[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|"
    r"private[_-]?token|password|passwd)"
)

BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin(
            "email",
            r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,40}[A-Za-z0-9])?\.){1,4}[A-Za-z]{2,24}\b",
            "EMAIL",
            "pii",
            checks.email,
            head_chars="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-",
            head_max=64,
        ),
        Builtin(
            "phone",
            r"(?:\+[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,4}\)?){2,5}\b"
            r"|(?:\b1[ .-]?)?(?:\([2-9][0-9]{2}\) ?|\b[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}\b)",
            "PHONE",
            "pii",
            checks.phone,
        ),
        Builtin("card", r"\b(?:[0-9][ -]?){12,18}[0-9]\b", "CARD", "pii", checks.card),
        Builtin(
            "iban", r"\b[A-Z]{2}[0-9]{2} ?(?:[A-Z0-9]{4} ?){2,7}[A-Z0-9]{1,4}\b", "IBAN", "pii", checks.iban
        ),
        Builtin("ssn", r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b", "SSN", "pii", checks.ssn),
        Builtin("ipv4", rf"\b{_OCTET}(?:\.{_OCTET}){{3,5}}\b", "IP", "pii", checks.ipv4),
        Builtin(
            "ipv6",
            r"(?i)(?:\b[0-9a-f]{1,4}|::)(?::{1,2}[0-9a-f]{0,4}){1,7}"
            r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3})?",
            "IP",
            "pii",
            checks.ipv6,
        ),
        Builtin(
            "private_key",
            r"-----BEGIN [A-Z0-9 ]{0,24}PRIVATE KEY(?: BLOCK)?-----",
            "PRIVATE_KEY",
            "secret",
            triggers=("-----BEGIN ",),
            tail=rf"\r?\n(?:[A-Za-z-]+: [^\n]*\r?\n)*(?:\r?\n)?[{_B64}]{{16,}}[{_B64}\r\n]{{16,}}"
            r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?",
            tail_max=4800,
        ),
        Builtin(
            "aws_key",
            r"\b(?:" + "|".join(_AWS) + r")[A-Z2-7]{16}\b",
            "AWS_KEY",
            "secret",
            checks.aws_key,
            triggers=_AWS,
        ),
        Builtin("gcp_key", r"\bAIza[0-9A-Za-z_-]{35}(?:\b|$)", "GCP_KEY", "secret", triggers=("AIza",)),
        Builtin(
            "azure_key",
            r"(?i)\b(?:AccountKey|SharedAccessKey|azure[_-]?(?:storage|openai|api)?[_-]?key)"
            r"[\"']? ?[=:] ?[\"']?[A-Za-z0-9+/]{32}",
            "AZURE_KEY",
            "secret",
            checks.assigned_secret,
            tail="[A-Za-z0-9+/]*={0,2}",
            tail_max=60,
        ),
        Builtin(
            "github_token",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{36}\b|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b)",
            "GITHUB_TOKEN",
            "secret",
            triggers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        ),
        Builtin(
            "slack_token",
            r"\bxox[abposr]-[0-9]{6,14}-[A-Za-z0-9-]{8,72}\b",
            "SLACK_TOKEN",
            "secret",
            triggers=("xox",),
        ),
        Builtin(
            "anthropic_key",
            r"\bsk-ant-(?:api|admin|sid)[0-9]{2}-[A-Za-z0-9_-]{80}",
            "ANTHROPIC_KEY",
            "secret",
            triggers=("sk-ant-",),
            tail="[A-Za-z0-9_-]*",
            tail_max=40,
        ),
        Builtin(
            "openai_key",
            r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{32}",
            "OPENAI_KEY",
            "secret",
            checks.openai_key,
            triggers=("sk-",),
            tail="[A-Za-z0-9_-]*",
            tail_max=170,
        ),
        Builtin(
            "stripe_key",
            r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{24,99}\b",
            "STRIPE_KEY",
            "secret",
            triggers=("sk_live_", "sk_test_", "rk_live_", "rk_test_"),
        ),
        Builtin(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{10}",
            "JWT",
            "secret",
            triggers=("eyJ",),
            tail=r"[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,}",
            tail_max=8000,
        ),
        Builtin(
            "api_key",
            rf"(?i){_KEYWORDS}[\"']? ?[=:] ?[\"'`]?[A-Za-z0-9_./+=-]{{16}}",
            "SECRET",
            "secret",
            checks.assigned_secret,
            tail="[A-Za-z0-9_./+=-]*",
            tail_max=112,
        ),
        Builtin(
            "high_entropy",
            r"\b[A-Za-z0-9+/_-]{32}",
            "SECRET",
            "secret",
            checks.high_entropy,
            tail="[A-Za-z0-9+/_-]*={0,2}",
            tail_max=98,
        ),
        Builtin("invisible", invisible_class() + "+", "", "text", raw_view=True),  # one finding per run
    )
}

# Scanners that are not one pattern each.
SPECIAL_SCANNERS = ("injection", "regex", "substring", "topic")
