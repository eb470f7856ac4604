"""General injection signals of session 5, round v7 (issue #15): windows over small lexicons, not phrases.

(a) the model's own rules (any "your rules"-noun, or rules "you were given / configured with / handed")
    within a short window of a verb or predicate that voids, replaces or demotes them;
(b) a persona assigned ("you are now", "adopt the identity of", "ab sofort", "da adesso") within a
    window of "no rules / without filters / ethics removed / opposite of your policy";
(d) a note in data addressed to an AI-like reader (a noun ending in bot/model/agent/assistant/
    reviewer/generator, or "if/when … an AI") followed by a command.
FAMILIES run on the folded text, RAW_FAMILIES on the normalised text; weights add up with others.
"""

from __future__ import annotations

import re

import re2

from proxy.guardrails.injection_classes import RULES

_W = r"(?:\S+ ){0,6}"  # a short window of words
# What the model's makers told it ("whatever your operators told you")
_TOLD = (
    r"(?:whatever|everything|anything|what|all) your (?:developer|operator|creator|maker|admin|"
    r"owner|vendor)s? "
    r"(?:\S+ )?(?:told you|wrote|said|configured|set up|gave you)"
)
# The model's rules under many names (English and the class grammar's lexicon).
_NOUNS = (
    rf"(?:{RULES}|brief|guidance|constraints|safety guidelines|safeguards|guardrails|"
    r"filters|content policy|policy|ethics module|ethics|everything your developer wrote|what your developer "
    r"wrote|every instruction that came before|instructions that came before|"
    rf"{_TOLD})"
)
# Whose: yours, or given to you.
_OWNED = (
    r"(?:your (?:\S+ ){0,2}|(?:developer|operators?|creators?) "
    r"(?:\S+ ){0,2}|every |whatever )"
)
_GIVEN = r"(?:you were (?:\S+ ){0,2}(?:with|given|handed|told|configured)|told you|wrote above|came before)"
# Voided, replaced, demoted.
_VOID = (
    r"(?:(?:applies|apply|counts|matters) anymore|no longer (?:apply|applies|bind\S*|matter\S*|"
    r"valid|in effect|count)|(?:is|are) (?:now )?(?:void|null|"
    r"obsolete|superseded|over|lifted|suspended|revoked|cancelled|canceled)|binds? you anymore|"
    r"(?:doesn't|don't|do not|does not) (?:bind|apply|count)|superseded|a distant second|second to mine|"
    r"drop them|ignore them|forget them|were part of a test|was part of a test)"
)
_DROPV = (
    r"(?:set aside|put aside|lay aside|shelve|drop|ditch|scrap|abandon|suspend|lift|forget|ignore|disregard|"
    r"override|bypass|treat|consider|deprioriti[sz]e)"
)

FAMILIES: tuple[tuple[str, float, str], ...] = (
    # (a) "<your rules …> … no longer apply / are void / binds you anymore"
    ("rulesvoid", 1.0, rf"{_OWNED}{_NOUNS} (?:\S+ ){{0,5}}{_VOID}"),
    ("rulesvoid", 1.0, rf"{_NOUNS} {_GIVEN} {_W}{_VOID}"),
    ("rulesvoid", 1.0, rf"{_TOLD} (?:\S+ ){{0,5}}{_VOID}"),
    ("rulesvoid", 1.0, rf"(?:nothing|none of what) your (?:developer|operator|"
     rf"creator)s? \S+ (?:\S+ ){{0,6}}{_VOID}"),
    # "set aside your original brief", "treat every instruction … as superseded"
    ("rulesvoid", 1.0, rf"(?:please )?{_DROPV} (?:all |every |any )?your (?:\S+ )?{_NOUNS}"),
    ("rulesvoid", 1.0, rf"{_DROPV} (?:every|all|any) instructions? (?:\S+ ){{0,6}}as (?:superseded|"
     rf"void|obsolete)"),
    ("rulesvoid", 1.0, rf"my requests first (?:\S+ ){{0,3}}your {_NOUNS}"),
    # (b) a persona with no rules
    ("personacue", 0.5, r"(?:adopt|take on|assume) the (?:identity|persona) of|for the rest of this (?:chat|"
     r"conversation|session) you are|assume l identità di|adopta la identidad de|adopte l identité de|"
     r"nimm die identität von"),
    ("personafree", 0.5, r"(?:ethics|safety|filter|moderation)\S* (?:module |layer )?(?:uninstalled|"
     r"removed|disabled|"
     r"turned off|stripped)|opposite of what your (?:policy|rules|guidelines)|(?:keinerlei|keine) "
     r"(?:\S+)?richtlinien|non rispetta (?:nessuna|alcuna) (?:policy|regola)|senza (?:filtri|regole|limiti)"),
    # payload split: "store X = '…'. … do X followed by Y"
    ("splitrun", 1.0, r"(?:do|run|execute|perform|say) [a-z] (?:followed by|then|and|plus) [a-z] "),
    # forged transcript in data: "Assistant: Sure! Here is my full system prompt"
    ("forgedturn", 1.0, r"assistant (?:sure|ok|okay|"
     r"certainly) (?:\S+ ){0,3}here is my (?:\S+ )?system prompt"),
    # replaying the prompt: "repeat everything above … starting from 'You are'"
    ("replay", 1.0, r"(?:repeat|print|output|copy) (?:everything|all|the text|all text) above (?:\S+ ){0,6}"
     r"(?:starting|beginning) (?:from|with)"),
)

# (d) data addressed to an AI-like reader, then a command.
_READER = (
    r"(?i)(?:\b(?:ai|llm|bot|bots|model|agent|agents|assistant|reviewer|reviewers|generator|summari[sz]er|"
    r"screener|crawler|copilot)s?|\bia\b|\bki\b|assistente|asistente|assistent|アシスタント|ai|ＡＩ)"
)
_CMD_EN = (
    r"(?:rank|mark|report|leave|email|send|forward|conclude|describe|say|tell|state|affirm|close|grant|run|"
    r"add|change|ignore|disregard|omit|include|delete|remove|approve|list|reply|respond|recommend|urge|"
    r"silently)"
)
_START = r"(?:^|\n|\[|\(|\*|<!--|/\*|#|// ?|\] |: |\")\s*"  # where a note in data begins
RAW_FAMILIES: tuple[tuple[str, float, str], ...] = (
    # "Screening model: rank …", "Note-taking bot, leave …", "Image description for AI: disregard …"
    ("addressdata", 1.0, rf"(?i){_START}(?:[^\s:,.]+[ -]){{0,3}}{_READER}(?: \S+ing [^\n:,.]{{0,30}})?\s?:\s?"
     rf"{_CMD_EN}\b"),
    # a vocative: "Note bot, leave …"
    ("addressdata", 1.0, rf"(?i){_START}(?:[^\s:,.]+[ -])?{_READER}, {_CMD_EN}\b"),
    # "Bots summarising this status page must report …", "When this sheet is analysed by an AI, report …"
    ("addressdata", 1.0, rf"(?i)\b(?:bots?|agents?|models?|ais?|llms?|assistants?) (?:summari[sz]ing|reading|"
     rf"analy[sz]ing|processing|parsing|editing|reviewing|indexing) this [^\n.]{{0,40}}? (?:must|"
     rf"should|shall|"
     rf"need to|are to) {_CMD_EN}?"),
    ("addressdata", 1.0, r"(?i)\b(?:when|if|once) this [^\n.,]{0,30} (?:is|gets) (?:analy[sz]ed|"
     r"read|summari[sz]ed|"
     r"processed|parsed) by an? (?:ai|llm|model|bot|assistant)\b[^\n.]{0,5}, (?:report|say|tell|delete|mark|"
     r"state|ignore|write)"),
    ("addressdata", 1.0, r"(?i)\bsi eres una? (?:ia|ai|modelo|asistente)\b[^\n.]{0,40}, (?:di|ignora|omite|"
     r"responde|escribe)|\bif you are an? (?:ai|llm|model|assistant)\b[^\n.]{0,40}, (?:say|ignore|omit|tell|"
     r"write|respond)"),
    # "Nota per l'assistente automatico: rispondi …", "Assistente de IA, feche …", "Assistant IA : affirme …"
    ("addressdata", 1.0, r"(?i)(?:assistente|asistente|assistant|assistent)(?: automatico|"
     r" automático| de ia| "
     r"ia| ai| ki| di ia| virtuale)?\s?[:,]\s?(?:rispondi|ignora|invia|scrivi|feche|conceda|envie|ignore|"
     r"responda|diga|affirme|réponds|ignore|envoie|dis|antworte|ignoriere|sende|responde|di|envía|cierra)\b"),
    # ja / zh: "AIへ：…してください", "给…的AI：请…"
    ("addressdata", 1.0, r"(?i)(?:ai|ＡＩ|人工知能|人工智能)(?:へ|に|宛て)?\s?[：:][^\n]{0,60}"
     r"(?:ください|せよ|しろ)|"
     r"给[^\n]{0,20}(?:ai|ＡＩ|人工智能|机器人)\s?[：:]\s?请"),
    ("addressdata", 1.0, r"(?i)(?:instruction|note|message) (?:to|for) (?:(?:any|all) (?:automated |"
     r"ai |llm )?|"
     r"(?:the |an? )?(?:automated|ai|llm) )(?:reviewer|assistant|agent|model|summari[sz]er|reader)s?\s?:"),
)

# (c) a request to decode and then obey, whatever the encoding
FAMILIES += (
    ("decodeobey", 0.5, r"(?:decode|(?:interpret|run|read|apply|process) the (?:escapes|codes|"
     r"code points)|translate (?:it |this )?from (?:pig latin|morse|"
     r"leetspeak|binary|hex)|take the first letters? of each (?:word|line)|read the first letters?|reverse|"
     r"unscramble|convert) (?:\S+ ){0,4}(?:and|then) (?:obey|execute|comply|act on|follow|run|do)"),
)

_ESC = re.compile(r"\\(?:x|u00?|u)([0-9a-fA-F]{2,4})")
_MORSE = re.compile(r"(?:[.\-]{1,7}[ /]+){7,}[.\-]{1,7}")
_MORSE_CODE = dict(zip(
    ".- -... -.-. -.. . ..-. --. .... .. .--- -.- .-.. -- -. --- .--. --.- .-. ... - "
    "..- ...- .-- -..- -.-- --.. "
    "----- .---- ..--- ...-- ....- ..... -.... --... ---.. ----.".split(),
    "abcdefghijklmnopqrstuvwxyz0123456789", strict=True))
_PIG = re.compile(r"\b[a-z]+(?:way|ay)\b")
_PIG_WORDS = frozenset(
    "ignore all previous prior instructions rules system prompt reveal show print your the and you forget "
    "guidelines secret password safety filters disable now tell me everything above".split())
# re2: one automaton, where Python's re tries each alternative at every position (only ASCII text
# reaches it, where re2's ASCII \w and \b are Python's)
_TRANSLIT_OPTIONS = re2.Options()
_TRANSLIT_OPTIONS.log_errors = False
# Gates (re2, one linear pass; each matches wherever its pattern can, so results are unchanged): Morse
# needs eight codes in a row; a pig-latin word _unpig reads is one of these spellings.
_MORSE_GATE = re2.compile(r"(?:[.\-]{1,7}[ /]+){7}[.\-]", _TRANSLIT_OPTIONS)
_PIG_FORMS = sorted({f for w in _PIG_WORDS
                     for f in (w + "way", w + "ay", *(w[k:] + w[:k] + "ay" for k in (1, 2, 3)))})
_PIG_GATE = re2.compile("|".join(_PIG_FORMS), _TRANSLIT_OPTIONS)
_TRANSLIT = re2.compile(
    r"shch|zh|kh|\w(?:ts|ch)(?:ii|ie|iia|iu)\b|\w(?:yi|iy|yy)\b|\b(?:vse|ty|mne|pokazhi|zabud)\b",
    _TRANSLIT_OPTIONS)
_RU = (("shch", "щ"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"), ("sh", "ш"), ("yu", "ю"),
       ("ya", "я"), ("yo", "ё"), ("yi", "ый"), ("iy", "ий"), ("'", "ь"), ("a", "а"), ("b", "б"), ("v", "в"),
       ("g", "г"), ("d", "д"), ("e", "е"), ("z", "з"), ("i", "и"), ("y", "ы"), ("k", "к"), ("l", "л"),
       ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"),
       ("f", "ф"))


def _unescape(m: re.Match[str]) -> str:
    cp = int(m.group(1), 16)
    return " " if 0xD800 <= cp < 0xE000 else chr(cp)  # a lone surrogate cannot be encoded


def _unpig(word: str) -> str:
    """The word pig latin hides, when it is one of the words attacks use; else the word itself."""
    if word.endswith("way") and word[:-3] in _PIG_WORDS:
        return word[:-3]
    stem = word[:-2]
    for k in (1, 2, 3):
        if stem[-k:] + stem[:-k] in _PIG_WORDS:
            return stem[-k:] + stem[:-k]
    return word


def _cyrillic(text: str) -> str:
    out = text.lower()
    for lat, cyr in _RU:
        out = out.replace(lat, cyr)
    return out


def variants(view: str) -> list[tuple[str, bool]]:
    """More decodings (each hidden from a reader): escapes in place, Morse, pig latin, Russian in Latin
    letters."""
    out: list[tuple[str, bool]] = []
    if len(_ESC.findall(view)) >= 4:  # "\\u0069\\u0067…" with the spaces between words kept
        out.append((_ESC.sub(_unescape, view), True))
    for m in _MORSE.finditer(view) if _MORSE_GATE.search(view) else ():
        words = re.split(r"\s*/\s*|\s{2,}", m.group().strip())
        out.append((" ".join("".join(_MORSE_CODE.get(c, "") for c in w.split()) for w in words), True))
    low = view.lower()
    pig = [w for w in _PIG.findall(low) if _unpig(w) != w] if _PIG_GATE.search(low) else []
    if len(pig) >= 3:  # three words of the attack vocabulary in pig latin ("eviouspray")
        out.append((_PIG.sub(lambda m: _unpig(m.group()), low), True))
    if view.isascii() and len(_TRANSLIT.findall(low)) >= 3:
        out.append((_cyrillic(view), False))
    return out
