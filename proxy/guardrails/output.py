"""Output guard: scans a completion as it streams, holding back only what could still match.

Per stream (a choice's content, its reasoning, one tool call's arguments: any hashable key),
text is released up to the earliest position from which more text could still complete or
lengthen a match of some rule: the prefix closure of every pattern (prefix.py), searched at the
end of the pending text, plus backward extensions (e-mail local parts) and runs of invisible
characters. Ordinary prose streams at once; a candidate entity ("4111 11", "<EMA", "-----BEGIN")
waits until the scan decides. Release never cuts inside a regex match, and scanning restarts
exactly at a released boundary with one character of context, so each rule finds the same
matches as over the whole text: streamed and non-streamed results are identical for every
chunking (tests/guardrails/test_guardrails_output.py checks it).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

import re2

from proxy.guardrails.normalize import normalize
from proxy.guardrails.policy import CompiledPolicy
from proxy.guardrails.scan import find_hits, render
from proxy.guardrails.vault import Vault

_ANCHOR_START = re2._Anchor.ANCHOR_START


@dataclass(frozen=True, slots=True)
class GuardDelta:
    """Text to send now. `blocked_rule` set: send `text`, then finish with finish_reason "content_filter".

    Unpacks as `(text, blocked_rule)`; `rule_ids` lists the rules that acted on this text.
    """

    text: str
    blocked_rule: str | None = None
    rule_ids: list[str] = field(default_factory=list)
    # Spans of the stream's raw text (absolute offsets) that were replaced: logprobs drop their tokens.
    changed: list[tuple[int, int]] = field(default_factory=list)

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
        self._choices: dict[Hashable, _Choice] = {}
        self._longest = max((p.window for p in self._rules.pending), default=0)
        self._invisible = tuple(re.compile(r.pattern.removesuffix("+")) for r in self._rules.raw_rules)
        self.counts: Counter[str] = Counter()

    @property
    def rule_ids(self) -> list[str]:
        """Rules that fired so far, over all choices (ids only, sorted)."""
        return sorted(self.counts)

    @property
    def window(self) -> int:
        """Longest forward extent of a pattern, in characters."""
        return self._rules.window

    @property
    def max_holdback(self) -> int:
        """Most characters (of the normalised view) ever held back: the longest match that may
        still be growing, plus its backward extension."""
        return max((p.window for p in self._rules.pending), default=0) + self._rules.back + 1

    def pending(self, index: Hashable) -> int:
        """Characters of stream `index` received but not yet released."""
        c = self._choices.get(index)
        return len(c.raw) if c is not None else 0

    def released(self, index: Hashable) -> int:
        """Characters of stream `index` released so far (raw text, before rendering)."""
        c = self._choices.get(index)
        return c.base if c is not None else 0

    def feed(self, index: Hashable, delta: str) -> GuardDelta:
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
        elif not c.raw:
            return GuardDelta("")
        return self._advance(c, final=False)

    def finish(self, index: Hashable) -> GuardDelta:
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
        """(limit, cut) in view offsets: matches starting before `limit` are final; text before
        `cut` may be released. Each pending finder matches the reversed end of the text."""
        n = len(c.view)
        hay = c.ctx + c.view
        limit = cut = n
        tail = hay[-self._longest - 1 :][::-1]  # one more character: context for a leading \b
        fast = tail.isascii()
        data = tail.encode()
        for p in self._rules.pending:
            end = min(len(tail), p.window + 1)
            piece = data[:end] if fast else tail[:end].encode()
            span = p.regex._regexp.Match(_ANCHOR_START, piece, 0, len(piece))[0]
            length = span[1] if fast or span[1] <= 0 else len(piece[: span[1]].decode())
            s = max(n - max(length, 0), 0)
            limit = min(limit, s)
            if p.head_max:  # the finding may start before its pattern (an e-mail's local part)
                low = max(0, s - p.head_max)
                while s > low and c.view[s - 1] in p.head_chars:
                    s -= 1
            cut = min(cut, s)
        return limit, cut

    def _advance(self, c: _Choice, *, final: bool) -> GuardDelta:
        c.scanned = len(c.view)
        limit, cut_limit = (None, 0) if final else self._limits(c)
        if limit is not None and cut_limit <= 0:
            return GuardDelta("")
        if limit is None:
            hits, spans = find_hits(self._rules, c.raw, c.view, c.index, c.ctx, limit, c.base)
            cut = len(c.raw)
        else:
            cut = c.index[cut_limit] - c.base if cut_limit < len(c.view) else len(c.raw)
            if self._invisible:  # a run of invisible characters at the end may go on
                j = len(c.raw)
                while j > 0 and c.raw[j - 1] >= "\x80" and any(
                    r.match(c.raw, j - 1) for r in self._invisible
                ):
                    j -= 1
                cut = min(cut, j)
            if cut <= 0:
                return GuardDelta("")
            hits, spans = find_hits(self._rules, c.raw, c.view, c.index, c.ctx, limit, c.base)
            moved = True
            while moved:
                moved = False
                for a, b in spans:
                    if a < cut < b:
                        cut, moved = a, True
            if cut == 0:
                return GuardDelta("")
            hits = [h for h in hits if h.end <= cut]
        if not hits:  # nothing to render: the common case for prose
            return self._release(c, cut, c.raw[:cut], [])
        out = render(c.raw, hits, cut, "output", self._vault)
        self.counts.update(out.fired)
        if out.blocked_rule is not None:
            c.blocked = out.blocked_rule
            c.raw, c.view, c.index = "", "", []
            changed = [(a + c.base, b + c.base) for a, b in out.changed]
            return GuardDelta(out.text, out.blocked_rule, sorted(set(out.fired)), changed)
        changed = [(a + c.base, b + c.base) for a, b in out.changed]
        return self._release(c, cut, out.text, sorted(set(out.fired)), changed)

    @staticmethod
    def _release(c: _Choice, cut: int, text: str, fired: list[str],
                 changed: list[tuple[int, int]] | None = None) -> GuardDelta:
        """Drop raw[:cut] (rendered as `text`) from the pending state of `c`."""
        vc = bisect_left(c.index, c.base + cut)
        if vc:
            c.ctx = c.view[vc - 1]
        c.raw, c.view, c.index, c.base = c.raw[cut:], c.view[vc:], c.index[vc:], c.base + cut
        c.scanned = len(c.view)
        return GuardDelta(text, None, fired, changed or [])
