"""Guardrail policy: the operator's JSON (schema version 1) -> a compiled, immutable policy.

    {"version": 1,
     "limits": {"max_input_chars": 400000, "max_input_tokens": null},
     "rules": [{"id": "pii.email", "scanner": "email", "input": "pseudonymize", "output": "off"}, ...],
     "classifier": {"url": ..., "model": ..., "timeout_ms": 2000, "fail_mode": "closed"}}

See README.md for every field. Errors raise PolicyConfigError naming the field.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import re._parser as sre_parse
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

import re2

from proxy.guardrails.builtins import BUILTINS, SHIELDS, SPECIAL_SCANNERS
from proxy.guardrails.errors import PolicyConfigError
from proxy.guardrails.normalize import normalize_text
from proxy.guardrails.prefix import (
    python_syntax,
    reversed_lead_patterns,
    reversed_prefix_parts,
    reversed_prefix_pattern,
)

SCHEMA_VERSION = 1
MAX_PATTERN_WIDTH = 512  # characters an operator pattern may match (it sets the stream hold-back)
INPUT_ACTIONS = ("off", "block", "mask", "pseudonymize", "log")
OUTPUT_ACTIONS = ("off", "block", "mask", "log")
PLACEHOLDER_PATTERN = r"<[A-Z][A-Z0-9_]{0,23}_[0-9]{1,5}>"

_RULE_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_LABEL = re.compile(r"[A-Z][A-Z0-9_]{0,23}")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
# The prefilter Set over every view rule is one DFA; with the default 8 MiB it thrashes on long
# texts (3x the input scan); the cache grows lazily up to this cap.
_SET_OPTIONS = re2.Options()
_SET_OPTIONS.log_errors = False
_SET_OPTIONS.max_mem = 64 << 20

Check = Callable[[str], tuple[int, int] | None]


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule. `width` is the longest match in characters of the normalised view."""

    id: str
    scanner: str
    input: str
    output: str
    regex: Any = None  # re2 pattern; None for injection
    pattern: str = ""
    width: int = 0
    triggers: tuple[str, ...] = ()
    check: Check | None = None
    raw_view: bool = False
    label: str = ""
    replacement: str = ""
    threshold: float = 1.0
    head_chars: Container[str] = frozenset()  # backward extension (see builtins.Builtin)
    head_max: int = 0
    tail: Any = None  # anchored re2 pattern extending a match forwards, within tail_max characters
    tail_max: int = 0
    priority: int = 0  # position in the policy: breaks ties between overlapping findings
    prefix: str = ""  # reversed prefix closure of pattern + tail (prefix.py): what a stream holds back
    # `prefix` split by the pattern's top-level alternatives (prefix.reversed_prefix_parts) when it
    # is big: the stream searches the parts (_finders)
    prefix_parts: tuple[str, ...] = ()
    shields: frozenset[str] = frozenset()  # "context" rules: scanners whose findings inside do not count
    # A finding that starts after a lead (builtins.Builtin.leads): `hold` is the reversed prefix
    # closure of the alternatives without a lead ("" if none), `leads` the (detect, rest, lead)
    # patterns of the others (prefix.reversed_lead_patterns). None: the finding may start where
    # the match does, and the stream holds back `prefix`.
    hold: str | None = None
    leads: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ClassifierConfig:
    """Where the guard model is (`url`, or an operator `deployment` the proxy resolves), how long
    to wait, and what a failure does. `fail_mode` None: the domain's `guardrail_fail_mode`."""

    url: str | None
    model: str | None  # None with `deployment`: the deployment's served model name
    timeout_s: float
    fail_mode: str | None  # "open" | "closed" | None (the domain's default; closed if unresolved)
    rule_id: str = "classifier"
    deployment: str | None = None
    preamble: tuple[tuple[str, str], ...] = ()  # (role, content) turns sent before the conversation
    threshold: float = 0.5  # unsafe when p(unsafe) >= threshold (classifier.verdict_score)
    # "chat": a guard model's answer (classifier.ChatClassifier); "probe": the shipped injection probe
    # on embeddings of the bundled model (probe_client.ProbeClassifier; url/deployment serve embeddings)
    kind: str = "chat"


@dataclass(frozen=True, slots=True)
class Pending:
    """`regex` (reversed prefix closures, longest match, anchored at the start of the reversed
    text) finds where a match could still be growing at the end of a stream, within its last
    `window` characters; `head_chars`/`head_max`: the findings also extend backwards from there
    (e-mail local parts).

    `role` says what the position bounds (output.py): "both" (rules whose findings change text:
    matches from there on are not settled, and text from there on is held), "limit" (only the
    first: rules with leads), "hold" (only the second: the closures of their findings), "log"
    (log-only rules: not settled from there, nothing held). `refine`: (rest, lead) pairs that
    narrow a "hold" match down to the rest after a whole lead. `vault`: placeholder rules, which
    change nothing unless the request's vault holds values."""

    regex: Any
    window: int
    head_chars: Container[str] = frozenset()
    head_max: int = 0
    role: str = "both"
    refine: tuple[tuple[Any, Any], ...] = ()
    vault: bool = False


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Span rules for one stage, with an re2 Set over the view rules as a prefilter."""

    rules: tuple[Rule, ...]
    view_rules: tuple[Rule, ...]
    raw_rules: tuple[Rule, ...]
    prefilter: Any
    window: int  # longest forward extent (pattern + tail) among view rules
    back: int  # longest backward extension among view rules
    pending: tuple[Pending, ...] = ()


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    version: int
    rules: tuple[Rule, ...]
    input: RuleSet
    output: RuleSet
    injection: tuple[Rule, ...]
    max_input_chars: int | None
    max_input_tokens: int | None
    classifier: ClassifierConfig | None
    refuse_token_ids: bool = False  # "token_ids": "refuse": token-id prompts cannot be scanned
    restore_in_urls: bool = False  # restore placeholders inside URLs and markup attributes too

    @property
    def scans_input(self) -> bool:
        """Any input rule, injection heuristic or classifier acts on or reads the prompt text."""
        acting = any(r.input not in ("off", "context") for r in self.input.rules)
        return acting or bool(self.injection) or self.classifier is not None

    @property
    def pseudonymizes(self) -> bool:
        return any(r.input == "pseudonymize" for r in self.input.rules)


RESTORE_RULE = Rule(
    id="",
    scanner="placeholder",
    input="off",
    output="restore",
    pattern=PLACEHOLDER_PATTERN,
    regex=re2.compile(PLACEHOLDER_PATTERN, _RE2_OPTIONS),
    width=31,
    prefix=reversed_prefix_pattern(PLACEHOLDER_PATTERN),
)


# A URL or a markup attribute/link target, placeholders included: placeholders inside are not
# restored unless the policy says "restore_in_urls" (a model writing <EMAIL_1> into an image
# link would otherwise send the real value to whatever fetches the link).
URL_CONTEXT_PATTERN = (
    r"(?i)(?:\b(?:https?|ftp|wss?)://|\bmailto:|\]\(|\b(?:href|src|srcset|action|formaction|poster|"
    r"cite|background|data)\s{0,3}=\s{0,3}[\"']?)[^\s\"'()`]{1,256}"
)


def _fields(obj: Any, where: str, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise PolicyConfigError(where, "must be an object")
    for key in obj:
        if key not in allowed:
            raise PolicyConfigError(f"{where}.{key}" if where else str(key), "unknown field")
    for key in required:
        if key not in obj:
            raise PolicyConfigError(f"{where}.{key}" if where else key, "is required")
    return obj


def _int_or_none(value: Any, where: str, lo: int, hi: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise PolicyConfigError(where, f"must be null or an integer in [{lo}, {hi}]")
    return value


def _str(value: Any, where: str, max_len: int) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise PolicyConfigError(where, f"must be a non-empty string of at most {max_len} characters")
    return value


def pattern_width(pattern: str, where: str, max_width: int = MAX_PATTERN_WIDTH) -> int:
    """Longest match of an operator pattern; rejects unbounded and empty-matching patterns."""
    try:
        lo, hi = sre_parse.parse(pattern).getwidth()
    except (re.error, OverflowError, RecursionError) as exc:
        raise PolicyConfigError(where, "uses syntax outside the subset shared by re2 and Python re") from exc
    if hi > max_width:
        raise PolicyConfigError(
            where,
            f"may match more than {max_width} characters; bound repetitions (e.g. {{1,64}}, not + or *)",
        )
    if lo == 0:
        raise PolicyConfigError(where, "can match the empty string")
    return hi


def compile_re2(pattern: str, where: str) -> Any:
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        raise PolicyConfigError(
            where, "is not a valid re2 pattern (backreferences and lookaround are not allowed)"
        ) from exc


_BUILTIN_OPTIONS = re2.Options()
_BUILTIN_OPTIONS.log_errors = False
# The big built-in patterns (api_key: names, prose, CLI, DSN and pgpass forms) thrash re2's default
# 8 MiB DFA cache on dense text (~50x slower); the cache grows lazily up to this cap.
_BUILTIN_OPTIONS.max_mem = 32 << 20


@functools.cache
def builtin_re2(pattern: str) -> Any:
    """A built-in scanner's pattern or tail, compiled once per process and shared by every policy
    (RE2 objects are safe to share between threads), so the larger cache is paid for once."""
    return re2.compile(pattern, _BUILTIN_OPTIONS)


URL_CONTEXT_RULE = Rule(
    id="",
    scanner="url_context",
    input="off",
    output="context",
    pattern=URL_CONTEXT_PATTERN,
    regex=re2.compile(URL_CONTEXT_PATTERN, _RE2_OPTIONS),
    width=pattern_width(URL_CONTEXT_PATTERN, "url_context", 1 << 16),
    prefix=reversed_prefix_pattern(URL_CONTEXT_PATTERN),
    shields=frozenset({"placeholder"}),
)


def _shield_rules() -> list[Rule]:
    """Context rules that keep the entropy rule off certificates, public keys, data URLs,
    integrity hashes and URLs (input stage; see builtins.SHIELDS)."""
    rules = []
    for b in SHIELDS:
        rules.append(Rule(
            id="", scanner=b.name, input="context", output="off", pattern=b.pattern,
            regex=builtin_re2(b.pattern), tail=builtin_re2(b.tail), tail_max=b.tail_max,
            width=pattern_width(b.pattern, b.name, 1 << 16) + b.tail_max, shields=frozenset(b.shields),
            prefix=_prefix(b.pattern, b.tail),
        ))
    return rules


def _literal_pattern(values: Any, where: str, *, words: bool) -> tuple[str, int]:
    if not isinstance(values, list) or not values or len(values) > 10000:
        raise PolicyConfigError(where, "must be a non-empty list of at most 10000 strings")
    alternatives, width = [], 0
    for i, value in enumerate(values):
        value = normalize_text(_str(value, f"{where}[{i}]", 256), fold=True).strip()
        if not value:
            raise PolicyConfigError(f"{where}[{i}]", "is empty after normalisation")
        pieces = value.split()
        literal = r"\s{1,3}".join(re2.escape(p) for p in pieces)
        if words:  # whole words; re2's \b is ASCII-only, so only next to ASCII word characters
            head = r"\b" if _ascii_word(value[0]) else ""
            tail = r"(?:e?s)?\b" if _ascii_word(value[-1]) else ""
            literal = f"{head}{literal}{tail}"
        alternatives.append(literal)
        width = max(width, sum(len(p) for p in pieces) + 3 * (len(pieces) - 1) + (2 if words else 0))
    return "(?i)(?:" + "|".join(sorted(alternatives, key=len, reverse=True)) + ")", width


def _ascii_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _rule(obj: Any, where: str) -> Rule:
    fields = _fields(
        obj,
        where,
        {
            "id",
            "scanner",
            "input",
            "output",
            "pattern",
            "values",
            "keywords",
            "label",
            "replacement",
            "threshold",
            "case_insensitive",
            "description",
        },
        {"id", "scanner"},
    )
    rule_id = fields["id"]
    if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
        raise PolicyConfigError(f"{where}.id", "must match [a-z0-9][a-z0-9._-]{0,63}")
    scanner = fields["scanner"]
    if scanner not in BUILTINS and scanner not in SPECIAL_SCANNERS:
        raise PolicyConfigError(
            f"{where}.scanner", f"unknown scanner; one of {sorted([*BUILTINS, *SPECIAL_SCANNERS])}"
        )
    input_action, output_action = fields.get("input", "off"), fields.get("output", "off")
    if input_action not in INPUT_ACTIONS:
        raise PolicyConfigError(f"{where}.input", f"must be one of {list(INPUT_ACTIONS)}")
    if output_action not in OUTPUT_ACTIONS:
        raise PolicyConfigError(f"{where}.output", f"must be one of {list(OUTPUT_ACTIONS)}")
    for key, expected in (
        ("pattern", "regex"),
        ("values", "substring"),
        ("keywords", "topic"),
        ("threshold", "injection"),
        ("case_insensitive", "regex"),
    ):
        if key in fields and scanner != expected:
            raise PolicyConfigError(f"{where}.{key}", f"only applies to scanner '{expected}'")

    label = fields.get("label")
    if label is not None and (not isinstance(label, str) or not _LABEL.fullmatch(label)):
        raise PolicyConfigError(f"{where}.label", "must match [A-Z][A-Z0-9_]{0,23}")
    if scanner == "injection":
        if output_action != "off":
            raise PolicyConfigError(f"{where}.output", "injection rules apply to input only; use 'off'")
        if input_action not in ("off", "block", "log"):
            raise PolicyConfigError(f"{where}.input", "injection rules can only 'block' or 'log'")
        threshold = fields.get("threshold", 1.0)
        if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 < threshold <= 10:
            raise PolicyConfigError(f"{where}.threshold", "must be a number in (0, 10]")
        return Rule(id=rule_id, scanner=scanner, input=input_action, output="off", threshold=float(threshold))

    extension: dict[str, Any] = {}
    if scanner in BUILTINS:
        builtin = BUILTINS[scanner]
        pattern, check, triggers, raw_view = (
            builtin.pattern,
            builtin.check,
            builtin.triggers,
            builtin.raw_view,
        )
        label = label or builtin.label
        width = 1 if raw_view else pattern_width(python_syntax(pattern), f"{where}.scanner", 1 << 16)
        width += builtin.tail_max
        extension = {
            "head_chars": builtin.head_chars if not isinstance(builtin.head_chars, str)
            else frozenset(builtin.head_chars),
            "head_max": builtin.head_max,
            "tail": builtin_re2(builtin.tail) if builtin.tail else None,
            "tail_max": builtin.tail_max,
            # a superset's closure holds back at least what the pattern's would (builtins.Builtin.superset)
            "prefix": "" if raw_view else _prefix(
                builtin.superset or pattern, "" if builtin.superset else builtin.tail),
            **({} if raw_view or not builtin.leads else _leads(builtin.leads, builtin.tail)),
        }
        if extension["prefix"] and not builtin.head_max:
            source = (builtin.superset or pattern, "" if builtin.superset else builtin.tail)
            extension["prefix_parts"] = _prefix_parts(str(extension["prefix"]), *source)
    elif scanner == "regex":
        pattern = _str(fields.get("pattern"), f"{where}.pattern", 2000)
        if fields.get("case_insensitive", False) is True:
            pattern = f"(?i:{pattern})"
        width, check, triggers, raw_view = pattern_width(pattern, f"{where}.pattern"), None, (), False
        extension = {"prefix": _prefix(pattern)}
    else:
        key = "values" if scanner == "substring" else "keywords"
        pattern, width = _literal_pattern(fields.get(key), f"{where}.{key}", words=scanner == "topic")
        check, triggers, raw_view = None, (), False
        extension = {"prefix": _prefix(pattern)}
    label = label or "REDACTED"
    if scanner == "invisible" and input_action == "pseudonymize":
        raise PolicyConfigError(
            f"{where}.input", "invisible characters can be blocked, masked (removed) or logged"
        )
    default_replacement = "" if scanner == "invisible" else f"[{label}]"
    replacement = fields.get("replacement", default_replacement)
    if not isinstance(replacement, str) or len(replacement) > 64:
        raise PolicyConfigError(f"{where}.replacement", "must be a string of at most 64 characters")
    return Rule(
        id=rule_id,
        scanner=scanner,
        input=input_action,
        output=output_action,
        # Raw-view rules are one character class, `[...]+`: linear in Python's re too, whose
        # per-match cost is far lower than the re2 wrapper's for floods of single characters.
        regex=re.compile(pattern) if raw_view
        else builtin_re2(pattern) if scanner in BUILTINS else compile_re2(pattern, f"{where}.pattern"),
        pattern=pattern,
        width=width,
        triggers=triggers,
        check=check,
        raw_view=raw_view,
        label=label,
        replacement=replacement,
        **extension,
    )


class _AllRules:
    """Stands in for an re2 Set that could not be compiled: every rule is a candidate."""

    def __init__(self, n: int) -> None:
        self._all = list(range(n))

    def Match(self, text: str | bytes) -> list[int]:  # same name as re2.Set's method
        return self._all


class _SetPrefilter:
    """The compiled re2 Set: the rules that match somewhere in the text, in rule order (the order
    ties between findings are broken in, as with `_AllRules`)."""

    def __init__(self, rule_set: Any) -> None:
        self._set = rule_set

    def Match(self, text: str | bytes) -> list[int]:
        return sorted(self._set.Match(text) or ())


def _prefix(*patterns: str) -> str:
    """The reversed prefix closure, or "" (hold a whole window) for syntax it does not handle."""
    try:
        return reversed_prefix_pattern(*patterns)
    except (ValueError, re.error, RecursionError):
        return ""


PREFIX_SPLIT = 20_000  # closures longer than this (characters of re2 syntax) go in parts
PREFIX_PART_BRANCHES = 7  # top-level alternatives per part (4 parts for api_key)


def _prefix_parts(prefix: str, pattern: str, tail: str) -> tuple[str, ...]:
    """The closure in parts when it is big, else () (see _finders). re2's DFA for api_key's whole
    closure (61k characters) outgrew its 64 MiB cache on streamed random base64 and fell back to the
    NFA on every delta (~1.3 ms a call with the rules it was combined with). In four parts, 4 KB of
    random base64 streamed in 4-character deltas takes 0.7-1.1 s of CPU instead of 1.7-2.2 s, prose
    the same as before (the other finders' cost on such text is what remains)."""
    if len(prefix) <= PREFIX_SPLIT:
        return ()
    try:
        parts = reversed_prefix_parts(pattern, tail, PREFIX_PART_BRANCHES)
    except (ValueError, re.error, RecursionError):
        return ()
    return tuple(parts) if len(parts) > 1 else ()


def _leads(leads: tuple[tuple[str, str], ...], tail: str) -> dict[str, Any]:
    """`hold` and `leads` of a rule whose findings start after a lead; {} (hold the whole
    closure) for syntax the closures do not handle."""
    plain = [rest for lead, rest in leads if not lead]
    try:
        hold = reversed_prefix_pattern("(?:" + "|".join(plain) + ")", tail) if plain else ""
        pairs = tuple(reversed_lead_patterns(lead, rest, tail) for lead, rest in leads if lead)
        for pattern in (hold, *(p for pair in pairs for p in pair)):
            if pattern:
                re2.compile(pattern, _LONGEST)
    except (ValueError, re.error, re2.error, RecursionError):
        return {}
    return {"hold": hold, "leads": pairs}


SHORT_WINDOW = 256  # rules at most this wide share one pending regex, searched over this window
PENDING_CHUNK = 12  # short rules per combined pending regex


_LONGEST = re2.Options()
_LONGEST.log_errors = False
_LONGEST.longest_match = True
# The pending closures of the short rules are big: with re2's default 8 MiB the DFA cache thrashes
# on every stream delta (2x the streaming CPU); the cache grows lazily up to this cap. 64 MiB since
# session 5: the closure of the rules with leads (api_key's prose and positional passwords) thrashed
# 32 MiB on non-ASCII text (4x that finder's CPU, 3x typical streaming).
_LONGEST.max_mem = 64 << 20


def _closure(r: Rule) -> str:
    """The rule's reversed prefix closure; a rule without one holds its whole window."""
    return r.prefix or f"(?s:.){{0,{min(r.width, 1000)}}}"


def _finders(rules: list[Rule], closure: Callable[[Rule], str], role: str,
             vault: bool = False, *, one: bool = False) -> list[Pending]:
    """One combined regex per chunk of short rules, one for the long ones (`one`: one for all of
    them: a few rules, each call costs ~2.5 µs of wrapper), one per backward-extending rule."""
    out: list[Pending] = []
    # A big closure in parts (Rule.prefix_parts), one finder each: the longest match over the parts
    # is the whole closure's (a union), and every role's bound is a minimum over finders anyway.
    if closure is _closure:
        out.extend(Pending(re2.compile(p, _LONGEST), r.width + 1, role=role, vault=vault)
                   for r in rules for p in r.prefix_parts)
        rules = [r for r in rules if not r.prefix_parts]
    # Short rules over the last 256 characters; long ones (private keys, JWTs, URLs) together
    # over their longest window: their closures only match from a literal start ("-----BEGIN",
    # "eyJ", "https://"), so the wide window never holds more than a real candidate.
    # Short rules go in chunks: one regex over all of them outgrows re2's DFA memory and falls back
    # to the slow NFA on every stream delta.
    short = [r for r in rules if r.width <= SHORT_WINDOW and not r.head_max]
    long = [r for r in rules if r.width > SHORT_WINDOW and not r.head_max]
    groups = [(short[i : i + PENDING_CHUNK], SHORT_WINDOW) for i in range(0, len(short), PENDING_CHUNK)]
    groups.append((long, max((r.width + 1 for r in long), default=0)))
    if one and len(short) + len(long) <= PENDING_CHUNK:
        groups = [(short + long, max((r.width + 1 for r in short + long), default=0))]
    for group, window in groups:
        if not group:
            continue
        try:
            regex = re2.compile("|".join(f"(?:{closure(r)})" for r in group), _LONGEST)
            out.append(Pending(regex, window, role=role, vault=vault))
        except re2.error:
            out.extend(Pending(re2.compile(closure(r), _LONGEST), r.width + 1, role=role, vault=vault)
                       for r in group)
    for r in rules:
        if r.head_max:
            out.append(Pending(re2.compile(closure(r), _LONGEST), r.width + 1, r.head_chars, r.head_max,
                               role=role, vault=vault))
    return out


def _pending(view_rules: tuple[Rule, ...]) -> tuple[Pending, ...]:
    """Pending-match finders of the output stage (README: release rule). Rules whose findings
    change text hold back what could still become one; log-only rules hold nothing back (their
    matches are still scanned whole: they only mark where matches are not settled yet)."""
    acting = [r for r in view_rules if r.output != "log"]
    plain = [r for r in acting if r.hold is None and r.output not in ("restore", "context")]
    vault = [r for r in acting if r.output in ("restore", "context")]
    led = [r for r in acting if r.hold is not None and r.output not in ("restore", "context")]
    out = [
        *_finders(plain, _closure, "both"),
        *_finders(vault, _closure, "both", vault=True),
        *_finders(led, _closure, "limit", one=True),
        *_finders([r for r in led if r.hold], lambda r: r.hold or "", "hold", one=True),
        *_finders([r for r in view_rules if r.output == "log"], _closure, "log", one=True),
    ]
    leads = [(r, lead) for r in led for lead in r.leads]
    if leads:  # the refinement tries every (rest, lead) pair: together, it is still exact
        detect = re2.compile("|".join(f"(?:{d})" for _, (d, _, _) in leads), _LONGEST)
        refine = tuple((re2.compile(rest, _LONGEST), re2.compile(lead, _RE2_OPTIONS))
                       for _, (_, rest, lead) in leads)
        out.append(Pending(detect, max(r.width for r, _ in leads) + 1, role="hold", refine=refine))
    return tuple(out)


def _rule_set(rules: list[Rule], *, stream: bool = False) -> RuleSet:
    view_rules = tuple(r for r in rules if not r.raw_view)
    rule_set = re2.Set.SearchSet(_SET_OPTIONS)
    for r in view_rules:
        rule_set.Add(r.pattern)
    prefilter: Any
    try:
        rule_set.Compile()  # returns None; raises re2.error when over re2's memory budget
        prefilter = _SetPrefilter(rule_set)
    except re2.error:  # run every pattern instead
        prefilter = _AllRules(len(view_rules))
    window = max((r.width for r in view_rules), default=0)
    back = max((r.head_max for r in view_rules), default=0)
    return RuleSet(tuple(rules), view_rules, tuple(r for r in rules if r.raw_view), prefilter, window, back,
                   _pending(view_rules) if stream else ())


MAX_PREAMBLE = 32


def _preamble(value: Any) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # a built-in preamble by name
        from proxy.guardrails.classifier import NAMED_PREAMBLES

        if value not in NAMED_PREAMBLES:
            names = sorted(NAMED_PREAMBLES)
            raise PolicyConfigError("classifier.preamble", f"must be a list of messages or one of {names}")
        return NAMED_PREAMBLES[value]
    if not isinstance(value, list) or len(value) > MAX_PREAMBLE:
        raise PolicyConfigError("classifier.preamble", f"must be a list of at most {MAX_PREAMBLE} messages")
    turns = []
    for i, turn in enumerate(value):
        where = f"classifier.preamble[{i}]"
        fields = _fields(turn, where, {"role", "content"}, {"role", "content"})
        if fields["role"] not in ("system", "user", "assistant"):
            raise PolicyConfigError(f"{where}.role", "must be 'system', 'user' or 'assistant'")
        turns.append((fields["role"], _str(fields["content"], f"{where}.content", 8000)))
    return tuple(turns)


def _classifier(obj: Any) -> ClassifierConfig | None:
    if obj is None:
        return None
    fields = _fields(
        obj,
        "classifier",
        {"url", "deployment", "model", "timeout_ms", "fail_mode", "rule_id", "preamble", "threshold", "kind"},
        {"timeout_ms"},
    )
    url = deployment = model = None
    if ("url" in fields) == ("deployment" in fields):
        raise PolicyConfigError("classifier.deployment", "give exactly one of 'deployment' and 'url'")
    if "url" in fields:
        url = _str(fields["url"], "classifier.url", 2048)
        if not url.startswith(("http://", "https://")):
            raise PolicyConfigError("classifier.url", "must be an http:// or https:// URL")
        if "model" not in fields:
            raise PolicyConfigError("classifier.model", "is required with 'url'")
    else:
        deployment = _str(fields["deployment"], "classifier.deployment", 64)
    if "model" in fields:
        model = _str(fields["model"], "classifier.model", 256)
    timeout_ms = _int_or_none(fields["timeout_ms"], "classifier.timeout_ms", 1, 60000)
    if timeout_ms is None:
        raise PolicyConfigError("classifier.timeout_ms", "is required")
    fail_mode = fields.get("fail_mode")
    if fail_mode not in (None, "open", "closed"):
        raise PolicyConfigError("classifier.fail_mode", "must be 'open', 'closed' or null (the domain's)")
    rule_id = fields.get("rule_id", "classifier")
    if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
        raise PolicyConfigError("classifier.rule_id", "must match [a-z0-9][a-z0-9._-]{0,63}")
    from proxy.guardrails.classifier import BUNDLED_INJECTION_THRESHOLD, DEFAULT_THRESHOLD

    kind = fields.get("kind", "chat")
    if kind not in ("chat", "probe"):
        raise PolicyConfigError("classifier.kind", "must be 'chat' or 'probe'")
    if kind == "probe" and fields.get("preamble") is not None:
        raise PolicyConfigError("classifier.preamble", "a probe classifier takes no preamble")
    threshold = fields.get("threshold")
    if threshold is None and kind == "probe":  # the shipped probe's calibrated value
        from proxy.guardrails.probe_client import shipped_probe

        threshold = shipped_probe().threshold
    elif threshold is None:  # the bundled model's calibrated value with its named preamble, else 0.5
        bundled = fields.get("preamble") == "prompt-injection"
        threshold = BUNDLED_INJECTION_THRESHOLD if bundled else DEFAULT_THRESHOLD
    elif isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 < threshold <= 1:
        raise PolicyConfigError("classifier.threshold", "must be a number in (0, 1]")
    return ClassifierConfig(
        url, model, timeout_ms / 1000, fail_mode, rule_id, deployment, _preamble(fields.get("preamble")),
        float(threshold),
        kind,
    )


def compile_policy(config: dict) -> CompiledPolicy:
    """Validate an operator's policy JSON (already parsed) and compile it. Raises PolicyConfigError."""
    fields = _fields(
        config,
        "",
        {"version", "limits", "rules", "classifier", "description", "token_ids", "restore_in_urls"},
        {"version", "rules"},
    )
    id_prompts = fields.get("token_ids", "allow")
    if id_prompts not in ("allow", "refuse"):
        raise PolicyConfigError("token_ids", "must be 'allow' or 'refuse'")
    restore_in_urls = fields.get("restore_in_urls", False)
    if not isinstance(restore_in_urls, bool):
        raise PolicyConfigError("restore_in_urls", "must be true or false")
    if fields["version"] != SCHEMA_VERSION:
        raise PolicyConfigError("version", f"must be {SCHEMA_VERSION}")
    limits = _fields(fields.get("limits") or {}, "limits", {"max_input_chars", "max_input_tokens"})
    max_chars = _int_or_none(limits.get("max_input_chars"), "limits.max_input_chars", 1, 1 << 30)
    max_tokens = _int_or_none(limits.get("max_input_tokens"), "limits.max_input_tokens", 1, 1 << 30)
    raw_rules = fields["rules"]
    if not isinstance(raw_rules, list) or len(raw_rules) > 256:
        raise PolicyConfigError("rules", "must be a list of at most 256 rules")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, obj in enumerate(raw_rules):
        rule = _rule(obj, f"rules[{i}]")
        if rule.id in seen:
            raise PolicyConfigError(f"rules[{i}].id", "duplicates an earlier rule id")
        seen.add(rule.id)
        rules.append(dataclasses.replace(rule, priority=i + 1))
    spans = [r for r in rules if r.scanner != "injection"]
    pseudonymizes = any(r.input == "pseudonymize" for r in spans)
    url_context = [URL_CONTEXT_RULE] if pseudonymizes and not restore_in_urls else []
    # shields keep high_entropy off public encodings and email off URL user-info (builtins.SHIELDS)
    shielded_in = any(r.scanner in ("high_entropy", "email") and r.input != "off" for r in spans)
    shields = _shield_rules() if shielded_in else []
    return CompiledPolicy(
        version=SCHEMA_VERSION,
        rules=tuple(rules),
        input=_rule_set([*(r for r in spans if r.input != "off"), *shields]),
        output=_rule_set([RESTORE_RULE, *url_context, *(r for r in spans if r.output != "off")], stream=True),
        injection=tuple(r for r in rules if r.scanner == "injection" and r.input != "off"),
        max_input_chars=max_chars,
        max_input_tokens=max_tokens,
        classifier=_classifier(fields.get("classifier")),
        refuse_token_ids=id_prompts == "refuse",
        restore_in_urls=restore_in_urls,
    )
