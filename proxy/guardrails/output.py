"""Output guard: scans a completion as it streams, releasing every character that no rule can
still turn into a finding that changes the text.

Per stream (a choice's content, its reasoning, one tool call's arguments: any hashable key) two
positions move forward (README: release rule):

- `rel`, the text released so far: up to the earliest position where a finding that would change
  text (mask, block, restore) could still start. That is the prefix closure of such a rule's
  pattern (prefix.py) searched at the end of the text, narrowed to the part after a whole lead
  for rules whose findings follow one (a secret's name and "=", an SSN label: builtins `leads`),
  plus backward extensions (e-mail local parts), runs of invisible characters, and any match of
  such a rule that is not settled yet. Log-only rules hold nothing back.
- `base`, where scanning restarts: before any match of any rule that may still change, so every
  rule (log-only ones too) finds the same matches as over the whole text. Text between `base` and
  `rel` is kept for that rescan only; a log-only finding is counted once it is settled and
  released. `base` does not wait for settled matches that straddle it (`_restart`): a rule's
  search resumes where its last match before `base` ended, and what forgotten findings still
  decide (the non-overlapping picks, context shields) is carried over, so chained candidate
  windows (`1-1-1-…` for `high_entropy`) cannot make every delta rescan the whole run.

Ordinary prose streams at once; a candidate entity ("4111 11", "-----BEGIN", "api_key = x9")
waits until the scan decides. Streamed and non-streamed results (text, blocking rule, rule ids)
are identical for every chunking (tests/guardrails/test_guardrails_output.py checks it).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

import re2

from proxy.guardrails.normalize import normalize
from proxy.guardrails.policy import CompiledPolicy, Pending, Rule
from proxy.guardrails.scan import Hit, block_end, find_hits, render_range, select
from proxy.guardrails.vault import Vault

_ANCHOR_START = re2._Anchor.ANCHOR_START
_ANCHOR_BOTH = re2._Anchor.ANCHOR_BOTH


@dataclass(frozen=True, slots=True)
class GuardDelta:
    """Text to send now. `blocked_rule` set: send `text`, then finish with finish_reason "content_filter".

    Unpacks as `(text, blocked_rule)`; `rule_ids` lists the rules that acted on this text.
    """

    text: str = field(repr=False)  # never in logs
    blocked_rule: str | None = None
    rule_ids: list[str] = field(default_factory=list)
    # Spans of the stream's raw text (absolute offsets) that were replaced: logprobs drop their tokens.
    changed: list[tuple[int, int]] = field(default_factory=list)

    def __iter__(self) -> Iterator[str | None]:
        return iter((self.text, self.blocked_rule))


@dataclass(slots=True)
class _Choice:
    raw: str = field(default="", repr=False)  # the stream's text from `base` on; never in logs
    view: str = field(default="", repr=False)
    index: list[int] = field(default_factory=list)  # absolute offsets: raw[i - base] made view[j]
    base: int = 0  # absolute offset of raw[0]: the scan restarts here
    ctx: str = field(default="", repr=False)  # the view character before `base`
    rel: int = 0  # absolute offset: text before it has been released
    logged: tuple[int, int, int] | None = None  # sort key of the last log-only finding counted
    # What the findings before `base` still decide (_restart), absolute raw offsets: where the last
    # acting pick and the last log-only pick end (findings starting before are not picked), how far
    # a context rule's span reaches per shielded scanner; view offsets from `base` where a rule's
    # search resumes (its last match before `base` ends there).
    act_end: int = 0
    log_end: int = 0
    shield_end: dict[str, int] = field(default_factory=dict)
    resume: dict[int, int] = field(default_factory=dict)
    blocked: str | None = None
    finished: bool = False


class OutputGuard:
    """One per request: `feed`/`finish` per choice index for streams, `apply_full` for whole texts."""

    def __init__(self, policy: CompiledPolicy, vault: Vault | None = None) -> None:
        self._rules = policy.output
        self._vault = vault
        # Without pseudonymized values nothing can be restored: placeholder rules change nothing.
        restores = vault is not None and len(vault) > 0
        self._pending: tuple[Pending, ...] = tuple(p for p in self._rules.pending if restores or not p.vault)
        self._inert = frozenset(
            () if restores else (id(r) for r in self._rules.rules if r.output in ("restore", "context"))
        )
        self._choices: dict[Hashable, _Choice] = {}
        self._rule_index = {id(r): i for i, r in enumerate(self._rules.view_rules)}
        self._longest = max((p.window for p in self._pending), default=0)
        self._invisible = tuple(
            (re.compile(r.pattern.removesuffix("+")), r.output == "log") for r in self._rules.raw_rules
        )
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
        return c.base + len(c.raw) - c.rel if c is not None else 0

    def released(self, index: Hashable) -> int:
        """Characters of stream `index` released so far (raw text, before rendering)."""
        c = self._choices.get(index)
        return c.rel if c is not None else 0

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
                view, idx = normalize(delta, start, fold=True)
                c.view += view
                c.index.extend(idx)
            c.raw += delta
        elif c.base + len(c.raw) == c.rel:
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
        view, index = normalize(text, fold=True)
        return self._advance(_Choice(raw=text, view=view, index=index), final=True)

    # ------------------------------------------------------------------ where text may go

    def _limits(self, c: _Choice) -> tuple[int, int, int, int, int]:
        """View offsets (limit_act, limit_log, hold, keep, log_head): matches of rules that change
        text starting before `limit_act` are settled (log-only rules: `limit_log`, findings
        starting before `log_head`); text from `hold` on may still become such a finding; the
        scan may restart at `keep`. Each finder matches the reversed end of the text."""
        n = len(c.view)
        limit_act = limit_log = hold = keep = log_head = n
        hay = c.ctx + c.view
        tail = hay[-self._longest - 1 :][::-1]  # one more character: context for a leading \b
        fast = tail.isascii()
        data = tail.encode()
        for p in self._pending:
            end = min(len(tail), p.window + 1)
            piece = data[:end] if fast else tail[:end].encode()
            span = p.regex._regexp.Match(_ANCHOR_START, piece, 0, len(piece))[0]
            if span[1] <= 0 and not p.head_max:
                continue  # no match may be growing (an e-mail's local part may: "@" may come next)
            size = _refined(p.refine, piece) if p.refine and span[1] > 0 else max(span[1], 0)
            length = size if fast else len(piece[:size].decode())
            s = max(n - length, 0)
            head = s
            if p.head_max:  # the finding may start before its pattern (an e-mail's local part)
                low = max(0, s - p.head_max)
                while head > low and c.view[head - 1] in p.head_chars:
                    head -= 1
            if p.role == "log":
                limit_log, log_head = min(limit_log, s), min(log_head, head)
            elif p.role != "hold":
                limit_act = min(limit_act, s)
            if p.role in ("both", "hold"):
                hold = min(hold, head)
            if p.role != "hold":
                keep = min(keep, head)
        return limit_act, limit_log, hold, keep, log_head

    def _raw(self, c: _Choice, v: int) -> int:
        """A view offset as an offset into c.raw."""
        return c.index[v] - c.base if v < len(c.view) else len(c.raw)

    def _invisible_runs(self, c: _Choice) -> tuple[int, int]:
        """Start of a run of invisible characters at the end, which may go on: (of rules that
        change text, of log-only ones); len(raw) when there is none."""
        act = log = n = len(c.raw)
        for regex, logs in self._invisible:
            j = n
            while j > 0 and c.raw[j - 1] >= "\x80" and regex.match(c.raw, j - 1):
                j -= 1
            if logs:
                log = min(log, j)
            else:
                act = min(act, j)
        return act, log

    # ------------------------------------------------------------------ scan, release, count

    def _advance(self, c: _Choice, *, final: bool) -> GuardDelta:
        n_raw = len(c.raw)
        rel = c.rel - c.base  # released so far, as an offset into c.raw
        if final:
            limit_act = limit_log = log_head = len(c.view)
            bound = keep = inv_log = n_raw
        else:
            limit_act, limit_log, hold, keep_v, log_head = self._limits(c)
            bound, keep = self._raw(c, hold), self._raw(c, keep_v)
            inv_act, inv_log = self._invisible_runs(c) if self._invisible else (n_raw, n_raw)
            bound, keep = min(bound, inv_act), min(keep, inv_act, inv_log)
            if bound <= rel and keep <= 0:
                return GuardDelta("")  # nothing can be released and the scan cannot move on
        # log-only findings from here on may not all be known yet (their matches may still grow)
        log_head_raw = min(self._raw(c, log_head), inv_log) if not final else n_raw

        matches: list[tuple[Rule, int, int, int, int, int]] = []
        hits, _ = find_hits(self._rules, c.raw, c.view, c.index, c.ctx, None, c.base, matches, c.resume)
        acting: list[Hit] = []
        settled_logs: dict[int, bool] = {}
        log_hits: list[Hit] = []
        act_end = c.act_end - c.base
        for h in hits:
            if id(h.rule) in self._inert:
                continue
            shield = c.shield_end.get(h.rule.scanner, -1) if c.shield_end else -1
            if h.end + c.base <= shield and h.rule.output != "context":
                continue  # inside a context span that starts before `base`
            if h.rule.raw_view:  # a run of invisible characters ending at the end may go on
                settled = final or (h.end < n_raw and (h.rule.output != "log" or h.start < log_head_raw))
            elif h.rule.output == "log":
                settled = final or (h.at < limit_log and h.start < log_head_raw)
            else:
                settled = final or h.at < limit_act
            if h.rule.output == "log":
                log_hits.append(h)
                settled_logs[id(h)] = settled
            elif settled and not (h.start < act_end and h.rule.output not in ("block", "context")):
                acting.append(h)  # (one starting inside the last pick before `base` is no pick)
        unsettled = n_raw
        if not final:
            for rule, s, a, *_ in matches:
                if id(rule) not in self._inert and rule.output != "log" and s >= limit_act:
                    unsettled = min(unsettled, a)  # a match not settled yet: a finding may start in it
            bound = min(bound, unsettled)
        chosen, block, candidates = select(acting + log_hits, "output")
        logs = [(h, settled_logs[id(h)]) for h in candidates]

        if block is not None and (final or block.start < bound):
            end = block_end(block, chosen, "output")
            ready = final or all(ok and h.end <= bound for h, ok in logs if h.start < end)
            if ready and log_head_raw >= end:
                out = render_range(c.raw, chosen, rel, end, "output", self._vault)
                fired = out.fired + self._count_logs(c, logs, chosen, end, stop=False) + [block.rule.id]
                self.counts.update(fired)
                c.blocked = block.rule.id
                changed = [(a + c.base, b + c.base) for a, b in out.changed]
                c.raw, c.view, c.index = "", "", []
                return GuardDelta(out.text, block.rule.id, sorted(set(fired)), changed)
            bound = min(bound, end)  # log-only findings before it are not settled yet: wait

        cut = max(bound, rel)
        moved = True
        while moved:  # never inside a finding that changes text
            moved = False
            for h in chosen:
                if h.start < cut < h.end:
                    cut, moved = h.start, True
        out = render_range(c.raw, chosen, rel, cut, "output", self._vault)
        picks: list[tuple[int, int]] = []
        fired = out.fired + self._count_logs(c, logs, chosen, cut, stop=True, picks=picks)
        self.counts.update(fired)
        changed = [(a + c.base, b + c.base) for a, b in out.changed]
        keep = min(keep, cut)
        if not final:
            # log-only findings from the first one not counted on (the picks after it depend on it)
            waiting = (h.start for h, ok in sorted(logs, key=_order) if not (ok and h.end <= cut))
            uncounted = next(waiting, n_raw)
            keep = self._restart(c, min(keep, unsettled, uncounted), matches, hits, acting, chosen, picks)
        self._drop(c, keep, cut)
        return GuardDelta(out.text, None, sorted(set(fired)), changed)

    def _restart(self, c: _Choice, keep: int, matches: list[tuple[Rule, int, int, int, int, int]],
                 hits: list[Hit], acting: list[Hit], chosen: list[Hit], picks: list[tuple[int, int]]) -> int:
        """Where the next scan may restart (an offset into c.raw, at most `keep`, which no match that
        is not settled and no uncounted log-only finding precedes), and what the findings before it
        still decide, carried in `c`.

        The scan used to restart outside every match, tails included: overlapping candidate windows
        (`high_entropy` heads every 32 characters of `1-1-1-…`, each window 130 long) chained back to
        the start of the run, and every delta rescanned all of it (quadratic). A settled match that
        straddles the restart point is forgotten instead, which keeps the whole-text result because:
        - each rule's search resumes where its last match before the point ended (`c.resume`), so
          it finds the same matches after it;
        - every finding of a forgotten match starts before the point (else the point moves back to
          the match), and none of a later match does (the point is not inside a backward extension);
          so in the greedy order (start, longest, first listed) the forgotten findings all come
          first and what they decide for the later ones is where the last picks end
          (`c.act_end`, `c.log_end`) and how far context spans reach (`c.shield_end`).
        The point then lags the released text only by the pending windows (at most one match
        length per rule), and the rescan per delta is bounded."""
        moved = True
        while moved:
            moved = False
            for _, s, a, _, hs, _ in matches:
                if hs < s and a < keep <= c.index[s] - c.base:
                    keep, moved = a, True  # inside a backward extension (an e-mail's local part)
            for h in hits:
                if not h.rule.raw_view and id(h.rule) not in self._inert:
                    at = c.index[h.at] - c.base
                    if at < keep <= h.start:
                        keep, moved = at, True  # a finding starting after its match (after a lead)
        if keep <= 0:
            return 0
        vc = bisect_left(c.index, c.base + keep)  # the view starts here after the drop
        resume = dict(c.resume)
        for rule, _, a, _, _, e in matches:
            if a < keep:
                i = self._rule_index[id(rule)]
                resume[i] = max(resume.get(i, 0), e)
        c.resume = {i: e - vc for i, e in resume.items() if e > vc}
        for h in chosen:
            if h.start < keep:
                c.act_end = max(c.act_end, c.base + h.end)
        for a, b in picks:
            if a < keep:
                c.log_end = max(c.log_end, c.base + b)
        for h in acting:
            if h.start < keep and h.rule.output == "context":
                for scanner in h.rule.shields:
                    c.shield_end[scanner] = max(c.shield_end.get(scanner, 0), c.base + h.end)
        return keep

    @staticmethod
    def _count_logs(c: _Choice, logs: list[tuple[Hit, bool]], chosen: list[Hit], upto: int, *,
                    stop: bool, picks: list[tuple[int, int]] | None = None) -> list[str]:
        """Log-only findings to count now: the non-overlapping picks (earliest, longest, first
        listed; never over a finding that changes text, nor over the picks before `base`) that end
        by `upto` and were not counted before. `stop`: stop at the first finding not settled or
        not yet released (the picks after it depend on it); else (a block) every one is settled.
        `picks` receives the spans of the picks passed."""
        taken = sorted((h.start, h.end) for h in chosen)
        fired: list[str] = []
        last, j = max(c.log_end, c.act_end) - c.base, 0
        for h, settled in sorted(logs, key=_order):
            if stop and not (settled and h.end <= upto):
                break
            while j < len(taken) and taken[j][1] <= h.start:
                j += 1
            if h.start < last or (j < len(taken) and taken[j][0] < h.end):
                continue
            last = h.end
            if picks is not None:
                picks.append((h.start, h.end))
            key = (c.base + h.start, -(c.base + h.end), h.rule.priority)
            if h.end <= upto and (c.logged is None or key > c.logged):
                fired.append(h.rule.id)
                c.logged = key
        return fired

    @staticmethod
    def _drop(c: _Choice, keep: int, cut: int) -> None:
        """Text before raw[cut] is released; the scan restarts at raw[keep] (keep <= cut)."""
        c.rel = max(c.rel, c.base + cut)
        if keep <= 0:
            return
        vc = bisect_left(c.index, c.base + keep)
        if vc:
            c.ctx = c.view[vc - 1]
        c.raw, c.view, c.index, c.base = c.raw[keep:], c.view[vc:], c.index[vc:], c.base + keep


def _order(e: tuple[Hit, bool]) -> tuple[int, int, int]:
    """Greedy order of findings: earliest, then longest, then first listed."""
    return e[0].start, -e[0].end, e[0].rule.priority


def _refined(refine: tuple[tuple[Any, Any], ...], piece: bytes) -> int:
    """Bytes of the reversed text that may be the start of a finding after a whole lead: the
    longest k such that piece[:k] is a reversed prefix of a rest and a lead ends right before it."""
    best = -1
    for rest, lead in refine:
        top = rest._regexp.Match(_ANCHOR_START, piece, 0, len(piece))[0][1]
        for k in range(top, best, -1):
            if k < len(piece) and (piece[k] & 0xC0) == 0x80:
                continue  # inside a character
            if rest._regexp.Match(_ANCHOR_BOTH, piece, 0, k)[0][1] < 0:
                continue
            if lead._regexp.Match(_ANCHOR_START, piece, k, len(piece))[0][1] >= 0:
                best = k
                break
    return max(best, 0)
