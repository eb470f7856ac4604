"""Find rule hits in a text and render the actions. Shared by the input and output stages.

A hit keeps two spans in original-text coordinates: the finding (what gets masked) and the
whole regex match (which a stream segment boundary must never cut).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field

from proxy.guardrails.normalize import normalize
from proxy.guardrails.policy import Rule, RuleSet
from proxy.guardrails.vault import Vault


@dataclass(slots=True)
class Hit:
    rule: Rule
    start: int
    end: int
    value: str = field(repr=False)  # normalised text of the finding (vault values); never in logs
    at: int = 0  # view offset of the regex match the finding came from (the stream's settled test)


@dataclass(slots=True)
class Rendered:
    text: str = field(repr=False)  # never in logs
    blocked_rule: str | None
    fired: list[str]  # rule ids, one entry per finding acted on
    changed: list[tuple[int, int]] = field(default_factory=list)  # raw spans replaced (not kept as is)


def find_hits(
    rules: RuleSet,
    raw: str,
    view: str,
    index: list[int],
    ctx: str = "",
    limit: int | None = None,
    offset: int = 0,
    matches: list[tuple[Rule, int, int, int, int, int]] | None = None,
    starts: Mapping[int, int] | None = None,
) -> tuple[list[Hit], list[tuple[int, int]]]:
    """Hits, and the spans of every regex match (valid or not), for matches starting before `limit`.

    `view`/`index` is normalize(raw); `ctx` is the view text just before `view` (one character
    is enough: re2 has no lookbehind beyond \\b and ^). `limit` is in view coordinates; `index`
    values minus `offset` are offsets in `raw`. `matches`, when given, receives (rule, view start,
    raw span, view start of the finding's backward extension, view end of the regex match before
    its tail) of every view-rule match, valid or not. `starts` (view rule index -> view offset):
    where a rule's search resumes, when its last match before `view` ended inside it (a stream's
    rescan, output.py).
    """
    hits: list[Hit] = []
    spans: list[tuple[int, int]] = []
    hay: str | bytes = ctx + view if ctx else view
    if hay.isascii():
        hay = hay.encode()  # byte offsets are character offsets: skips re2's offset decoding
    lc = len(ctx)
    for i in rules.prefilter.Match(hay) or ():
        rule = rules.view_rules[i]
        for m in rule.regex.finditer(hay, lc + (starts.get(i, 0) if starts else 0)):
            s, e = m.span()
            s, e = s - lc, e - lc
            if limit is not None and s >= limit:
                break
            if e <= s:
                continue
            hs = s
            if rule.head_max:
                low = max(0, s - rule.head_max)
                while hs > low and view[hs - 1] in rule.head_chars:
                    hs -= 1
            if rule.tail is not None:
                t = rule.tail.match(hay[e + lc : e + lc + rule.tail_max])  # a slice: no re-encoding
                if t is None or (hs == s and rule.head_max):
                    spans.append((index[s] - offset, index[e - 1] + 1 - offset))
                    if matches is not None:
                        matches.append((rule, s, *spans[-1], s, e))
                    continue
                head_end, e = e, e + t.end()
            elif hs == s and rule.head_max:
                spans.append((index[s] - offset, index[e - 1] + 1 - offset))
                if matches is not None:
                    matches.append((rule, s, *spans[-1], s, e))
                continue
            else:
                head_end = e
            spans.append((index[hs] - offset, index[e - 1] + 1 - offset))
            if matches is not None:
                matches.append((rule, s, *spans[-1], hs, head_end))
            found = rule.check(view[hs:e]) if rule.check is not None else (0, e - hs)
            if found is not None:
                a, b = hs + found[0], hs + found[1]
                hits.append(Hit(rule, index[a] - offset, index[b - 1] + 1 - offset, view[a:b], s))
    if rules.raw_rules and not raw.isascii():
        for rule in rules.raw_rules:
            for m in rule.regex.finditer(raw):
                spans.append(m.span())  # a run of invisible characters is never split by a release
                if offset == 0 and m.span() == (0, 1) and raw[0] == "\ufeff":
                    continue  # one U+FEFF starting the text: a byte-order mark (a pasted file), hides nothing
                if _flag_tags(raw, m.start(), m.end(), ctx):
                    continue  # 🏴 + tag letters + cancel tag: a subdivision flag (Scotland, Wales), an emoji
                if not _hyphenation(raw, m.start(), m.end(), view, index, ctx, offset):
                    hits.append(Hit(rule, m.start(), m.end(), ""))
    return hits, spans


def _flag_tags(raw: str, s: int, e: int, ctx: str) -> bool:
    """An emoji tag sequence: U+1F3F4 (waving black flag), 2-6 tag letters or digits (a region
    code such as "gbsct"), then U+E007F CANCEL TAG. The flag is the character before the run (`ctx`
    at the start of a stream's rescan: the view keeps the flag and drops the tags)."""
    before = raw[s - 1] if s > 0 else ctx[-1:]
    if before != "\U0001f3f4" or raw[e - 1] != "\U000e007f" or not 3 <= e - s <= 7:
        return False
    return all(
        "\U000e0061" <= ch <= "\U000e007a" or "\U000e0030" <= ch <= "\U000e0039" for ch in raw[s : e - 1]
    )


def _hyphenation(raw: str, s: int, e: int, view: str, index: list[int], ctx: str, offset: int) -> bool:
    """One soft hyphen between two letters ("Donau\u00addampf"): a hyphenation point, not hidden text.
    The letter before is the view character before it (`ctx` at the start of a stream's rescan),
    the one after is raw (a stream decides once it has arrived), so streams agree with whole texts."""
    if raw[s:e] != "\u00ad" or e >= len(raw) or not raw[e].isalpha():
        return False
    v = bisect_left(index, s + offset)
    before = view[v - 1] if v > 0 else ctx[-1:]
    return before.isalpha()


def _action(rule: Rule, stage: str) -> str:
    return rule.input if stage == "input" else rule.output


def select(hits: list[Hit], stage: str) -> tuple[list[Hit], Hit | None, list[Hit]]:
    """(the findings that change text, non-overlapping, by start; the first blocking one; the
    log-only candidates). Placeholders inside a URL or markup context are left as they are."""
    contexts = [h for h in hits if _action(h.rule, stage) == "context"]
    if contexts:
        def shielded(h: Hit) -> bool:
            return any(h.rule.scanner in c.rule.shields and c.start <= h.start and h.end <= c.end
                       for c in contexts)

        hits = [h for h in hits if _action(h.rule, stage) != "context" and not shielded(h)]
    blocking = [h for h in hits if _action(h.rule, stage) == "block"]
    block = min(blocking, key=lambda h: h.start) if blocking else None
    # Acting findings first (earliest, then longest, then first listed), so that a finding that is
    # only logged never shields one that masks; logged findings fill the gaps.
    acting = _greedy([h for h in hits if _action(h.rule, stage) not in ("block", "log")], [])
    return acting, block, [h for h in hits if _action(h.rule, stage) == "log"]


def _choose(hits: list[Hit], stage: str) -> tuple[list[Hit], Hit | None]:
    """The findings to act on or log (non-overlapping, by start) and the first blocking one."""
    acting, block, logs = select(hits, stage)
    return sorted(acting + _greedy(logs, acting), key=lambda h: h.start), block


def _replacement(h: Hit, raw: str, action: str, vault: Vault | None, fired: list[str]) -> str:
    if action == "restore":
        original = vault.restore(h.value) if vault is not None else None
        return raw[h.start : h.end] if original is None else original
    if action == "keep":  # a placeholder inside a URL or markup: left as it is
        return raw[h.start : h.end]
    fired.append(h.rule.id)
    if action == "pseudonymize" and vault is not None:
        return vault.placeholder(h.rule.label, h.value)
    return h.rule.replacement


def render_slots(raw: str, hits: list[Hit], bounds: list[tuple[int, int]], stage: str,
                 vault: Vault | None) -> tuple[list[str], str | None, list[str]]:
    """Apply the stage's actions to several texts joined into `raw` (slot k is raw[a:b] for
    bounds[k]). A finding that spans slots is replaced in the slot where it starts and removed
    from the others. Returns (texts, blocked rule, fired rule ids)."""
    chosen, block = _choose(hits, stage)
    fired: list[str] = []
    if block is not None:
        return [raw[a:b] for a, b in bounds], block.rule.id, [block.rule.id]
    acting = []
    for h in chosen:
        if _action(h.rule, stage) == "log":
            fired.append(h.rule.id)
        else:
            acting.append(h)
    out: list[str] = []
    j = 0
    for a, b in bounds:
        while j < len(acting) and acting[j].end <= a:
            j += 1
        pieces, pos, k = [], a, j
        while k < len(acting) and acting[k].start < b:
            h = acting[k]
            if h.start >= a:
                pieces.append(raw[pos : h.start])
                pieces.append(_replacement(h, raw, _action(h.rule, stage), vault, fired))
            pos = min(h.end, b)
            k += 1
        pieces.append(raw[pos:b])
        out.append("".join(pieces))
    return out, None, fired


def render(raw: str, hits: list[Hit], end: int, stage: str, vault: Vault | None) -> Rendered:
    """Apply the stage's actions to raw[:end] (hits must lie inside it). Stops before a block."""
    chosen, block = _choose(hits, stage)
    if block is not None:
        end = block_end(block, chosen, stage)
        chosen = [h for h in chosen if h.end <= end]
    out = render_range(raw, chosen, 0, end, stage, vault)
    if block is not None:
        out.fired.append(block.rule.id)
        out.blocked_rule = block.rule.id
    return out


def block_end(block: Hit, chosen: list[Hit], stage: str) -> int:
    """Where text stops before a block: its finding's start, or the start of a finding that changes
    text and straddles it (a finding that is only logged changes nothing and moves nothing)."""
    end = block.start
    for h in chosen:
        if h.start < end < h.end and _action(h.rule, stage) != "log":
            end = h.start
    return end


def render_range(raw: str, chosen: list[Hit], start: int, end: int, stage: str,
                 vault: Vault | None) -> Rendered:
    """raw[start:end] with the actions of the `chosen` findings (sorted) that lie inside it applied;
    logged ones are only counted."""
    pieces: list[str] = []
    fired: list[str] = []
    changed: list[tuple[int, int]] = []
    pos = start
    for h in chosen:
        if h.start < start or h.end > end:
            continue
        action = _action(h.rule, stage)
        if action == "log":
            fired.append(h.rule.id)
            continue
        pieces.append(raw[pos : h.start])
        piece = _replacement(h, raw, action, vault, fired)
        if piece != raw[h.start : h.end]:
            changed.append((h.start, h.end))
        pieces.append(piece)
        pos = h.end
    pieces.append(raw[pos:end])
    return Rendered("".join(pieces), None, fired, changed)


def _greedy(candidates: list[Hit], taken: list[Hit]) -> list[Hit]:
    """Non-overlapping picks from `candidates`, left to right, avoiding the `taken` spans."""
    picked: list[Hit] = []
    last = 0
    blocked = sorted((h.start, h.end) for h in taken)
    j = 0
    for h in sorted(candidates, key=lambda h: (h.start, -h.end, h.rule.priority)):
        while j < len(blocked) and blocked[j][1] <= h.start:
            j += 1
        if h.start >= last and not (j < len(blocked) and blocked[j][0] < h.end):
            picked.append(h)
            last = h.end
    return picked


def transform(rules: RuleSet, text: str, stage: str, vault: Vault | None) -> Rendered:
    """Scan and render one whole text."""
    view, index = normalize(text, fold=True)
    hits, _ = find_hits(rules, text, view, index)
    return render(text, hits, len(text), stage, vault)
