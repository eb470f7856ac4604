"""Output guard: scans a completion as it streams, holding back only a short tail.

Per choice index, text is released once every rule can no longer match across it: older than
the longest pattern (the window), before any pending trigger prefix of a long pattern, and never
inside a regex match. Scanning restarts exactly at a released boundary with one character of
context, so each rule finds the same matches as over the whole text: streamed and non-streamed
results are identical for every chunking (tests/guardrails/test_output.py checks it).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from proxy.guardrails.normalize import normalize
from proxy.guardrails.policy import CompiledPolicy
from proxy.guardrails.scan import find_hits, render
from proxy.guardrails.vault import Vault

SCAN_STEP = 64  # rescan after this many new characters; the hold-back is window + 1 + SCAN_STEP at most


@dataclass(frozen=True, slots=True)
class GuardDelta:
    """Text to send now. `blocked_rule` set: send `text`, then finish with finish_reason "content_filter".

    Unpacks as `(text, blocked_rule)`; `rule_ids` lists the rules that acted on this text.
    """

    text: str
    blocked_rule: str | None = None
    rule_ids: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[str | None]:
        return iter((self.text, self.blocked_rule))


@dataclass(slots=True)
class _Choice:
    raw: str = ""
    view: str = ""
    index: list[int] = field(default_factory=list)  # absolute offsets: raw[i - base] made view[j]
    base: int = 0  # absolute offset of raw[0]
    ctx: str = ""
    scanned: int = 0  # len(view) at the last scan
    blocked: str | None = None
    finished: bool = False


class OutputGuard:
    """One per request: `feed`/`finish` per choice index for streams, `apply_full` for whole texts."""

    def __init__(self, policy: CompiledPolicy, vault: Vault | None = None) -> None:
        self._rules = policy.output
        self._vault = vault
        self._choices: dict[int, _Choice] = {}
        self._triggers = tuple(
            (t, r.width, r.width - r.tail_max, r.regex) for r in self._rules.view_rules for t in r.triggers
        )
        self._trigger_tail = max((len(t[0]) - 1 for t in self._triggers), default=0)
        self.counts: Counter[str] = Counter()

    @property
    def rule_ids(self) -> list[str]:
        """Rules that fired so far, over all choices (ids only, sorted)."""
        return sorted(self.counts)

    @property
    def window(self) -> int:
        """Longest forward extent of a non-trigger pattern, in characters."""
        return self._rules.window

    @property
    def max_holdback(self) -> int:
        """Most characters held back while no trigger prefix (e.g. "-----BEGIN ", "eyJ") is pending."""
        return self._rules.window + self._rules.back + 1 + SCAN_STEP

    def feed(self, index: int, delta: str) -> GuardDelta:
        c = self._choices.get(index)
        if c is None:
            c = self._choices[index] = _Choice()
        if c.blocked is not None or c.finished:
            return GuardDelta("", c.blocked)
        if delta:
            start = c.base + len(c.raw)
            if delta.isascii():
                c.view += delta
                c.index.extend(range(start, start + len(delta)))
            else:
                view, idx = normalize(delta, start)
                c.view += view
                c.index.extend(idx)
            c.raw += delta
        if len(c.view) - c.scanned < SCAN_STEP:
            return GuardDelta("")
        return self._advance(c, final=False)

    def finish(self, index: int) -> GuardDelta:
        """Flush the held-back tail of a choice (call when its finish_reason arrives)."""
        c = self._choices.setdefault(index, _Choice())
        if c.blocked is not None or c.finished:
            return GuardDelta("", c.blocked)
        c.finished = True
        return self._advance(c, final=True)

    def apply_full(self, text: str) -> GuardDelta:
        """A whole (non-streamed) choice: the same result as feeding it in any chunks, then finishing."""
        view, index = normalize(text)
        return self._advance(_Choice(raw=text, view=view, index=index), final=True)

    def _limits(self, c: _Choice) -> tuple[int, int]:
        """(scan, cut): matches starting before `scan` are final; text before `cut` may be released."""
        n = len(c.view)
        scan = min(n - self._rules.window - 1, n - self._trigger_tail)
        for t, width, head_width, regex in self._triggers:
            p = c.view.find(t, max(0, n - width), scan + len(t) - 1)  # occurrences starting before scan
            while p != -1:
                # A prefix followed by enough text that the pattern's head does not match is no
                # candidate ("-----BEGIN CERTIFICATE", "task-force"): keep looking after it.
                if n - p <= head_width or regex.match(c.ctx + c.view, p + len(c.ctx)) is not None:
                    scan = p
                    break
                p = c.view.find(t, p + 1, scan + len(t) - 1)
        return scan, scan - self._rules.back

    def _advance(self, c: _Choice, *, final: bool) -> GuardDelta:
        c.scanned = len(c.view)
        limit, cut_limit = (None, 0) if final else self._limits(c)
        if limit is not None and cut_limit <= 0:
            return GuardDelta("")
        hits, spans = find_hits(self._rules, c.raw, c.view, c.index, c.ctx, limit, c.base)
        if limit is None:
            cut = len(c.raw)
        else:
            cut = c.index[cut_limit] - c.base
            moved = True
            while moved:
                moved = False
                for a, b in spans:
                    if a < cut < b:
                        cut, moved = a, True
            if cut == 0:
                return GuardDelta("")
            hits = [h for h in hits if h.end <= cut]
        out = render(c.raw, hits, cut, "output", self._vault)
        self.counts.update(out.fired)
        if out.blocked_rule is not None:
            c.blocked = out.blocked_rule
            c.raw, c.view, c.index = "", "", []
            return GuardDelta(out.text, out.blocked_rule, sorted(set(out.fired)))
        vc = bisect_left(c.index, c.base + cut)
        if vc:
            c.ctx = c.view[vc - 1]
        c.raw, c.view, c.index, c.base = c.raw[cut:], c.view[vc:], c.index[vc:], c.base + cut
        c.scanned = len(c.view)
        return GuardDelta(out.text, None, sorted(set(out.fired)))
