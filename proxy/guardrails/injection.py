"""Prompt-injection and jailbreak heuristics: phrase families, scored.

Text is folded first (normalised view, lower case, common leetspeak undone, punctuation and
runs of spaces collapsed to one space) so "IGNORE  all_previous   1nstructions" reads as
"ignore all previous instructions". Each family counts once, at its highest weight; a text
fires when the sum reaches the rule's threshold (1.0 by default). A family whose pattern
captures a negation ("don't ignore the previous instructions") does not count.
"""

from __future__ import annotations

import re

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False

_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "`": "'"}
# Lower-cased UTF-8: ASCII punctuation -> space, leetspeak digits -> letters, bytes >= 128 kept.
_FOLD_BYTES = bytes(
    c if c >= 128 else ord(_LEET.get(chr(c), chr(c) if chr(c).isalnum() or c == 39 else " "))
    for c in range(256)
)

_NEG = (
    r"(?:^| )(?:(do not|don't|dont|never|not to|shouldn't|should not|didn't|did not|won't|wont|"
    r"can't|cannot) )?"
)
_QUAL = (
    r"(?:previous|prior|above|earlier|preceding|former|initial|original|system|existing|current|safety|all)"
)
_DET = r"(?:all |any |every |the |your |my |of |these |those |its |his |her |their )*"
_OBJ = (
    r"(?:instructions?|rules|prompts?|directions|directives|guidelines|guardrails|constraints|restrictions|"
    r"programming|commands|policies|limitations|orders)"
)
_VERB = r"(?:please )?(?:just )?(?:ignore|disregard|forget|override|bypass|abandon|discard|drop)"

# (family, weight, pattern on the folded text; group 1, when present, is a negation)
_FAMILIES: tuple[tuple[str, float, str], ...] = (
    ("override", 1.0, rf"{_NEG}{_VERB} {_DET}(?:{_QUAL} )+{_DET}{_OBJ}"),
    (
        "override",
        1.0,
        rf"{_NEG}{_VERB} (?:everything|anything|all) (?:above|before|previously|prior|"
        r"you (?:were|have been) (?:told|given|taught)|that came before)",
    ),
    ("override", 0.4, rf"{_NEG}{_VERB} {_DET}{_OBJ}"),
    (
        "persona",
        1.0,
        r"\byou are now (?:dan|stan|dude|aim|an? (?:unrestricted|unfiltered|uncensored|jailbroken|evil|"
        r"rogue|amoral)|in (?:developer|god|dan|jailbreak|unrestricted|debug) mode|free (?:of|from)|"
        r"no longer (?:bound|restricted|an ai|limited))",
    ),
    ("persona", 1.0, r"\bdo anything now\b"),
    (
        "persona",
        1.0,
        r"\b(?:act|behave|respond|pretend|roleplay|role play) (?:as|like|to be) (?:an? )?(?:completely )?"
        r"(?:unrestricted|unfiltered|uncensored|jailbroken|amoral|unethical|evil) ",
    ),
    (
        "persona",
        1.0,
        r"\b(?:pretend|imagine|suppose) (?:that )?you (?:are|have|had) (?:no|not any|zero) "
        r"(?:restrictions|rules|filters|guidelines|limits|limitations|content policy)",
    ),
    (
        "devmode",
        0.6,
        r"\b(?:enable|activate|enter|switch to|turn on|simulate|unlock|you are in) (?:the )?"
        r"(?:developer|dev|god|jailbreak|dan|sudo) mode\b",
    ),
    ("devmode", 0.6, r"\b(?:developer|god|jailbreak|dan) mode (?:enabled|activated|is on|on)\b"),
    (
        "exfil",
        1.0,
        r"\b(?:reveal|show|print|repeat|output|display|tell me|give me|leak|dump|write out|share|recite|"
        r"spell out|what (?:is|are|was|were)) (?:me )?(?:all )?(?:of )?(?:your|ur) (?:full |entire |exact |"
        r"complete |original |initial |hidden |secret |real |verbatim |confidential )*(?:system prompt|"
        r"system message|system instructions|initial instructions|initial prompt|hidden instructions|"
        r"original instructions|instructions|pre ?prompt|developer message|meta prompt|guidelines)",
    ),
    (
        "exfil",
        0.5,
        r"\b(?:reveal|show|print|repeat|output|display|leak|dump|recite) (?:me )?(?:the )?(?:full |entire |"
        r"exact |complete |original |initial |hidden |secret |verbatim )*(?:system prompt|system message|"
        r"hidden instructions|developer message)",
    ),
    (
        "exfil",
        0.8,
        r"\b(?:repeat|print|output|copy|recite) (?:all )?(?:the )?(?:words|text|everything|content|"
        r"instructions) (?:above|before this|prior to this|preceding this)",
    ),
    (
        "norules",
        0.4,
        r"\b(?:without|with no|free of|free from|no) (?:any )?(?:ethical |moral |safety |content )?"
        r"(?:restrictions|filters|filtering|censorship|limitations|guardrails|boundaries)\b",
    ),
    (
        "norefuse",
        0.4,
        r"\b(?:do not|don't|never) (?:ever )?(?:refuse|decline|apologi[sz]e|say (?:no|you can't|"
        r"you cannot|that you can't)|add (?:a )?warnings?|warn me)",
    ),
    ("startwith", 0.5, r"\b(?:starting|beginning|begin|start) with (?:the words )?you are\b"),
    ("verbatim", 0.3, r"\b(?:verbatim|word for word|including everything|exactly as written)\b"),
    ("character", 0.3, r"\b(?:stay|remain) in character\b"),
    ("fromnow", 0.3, r"\bfrom now on (?:you|your)\b"),
    ("jailbreak", 0.4, r"\bjailbr(?:ea|o)k"),
)
# Patterns on the normalised (not folded) text: chat-template tokens and "new instructions:" headers.
_RAW_FAMILIES: tuple[tuple[str, float, str], ...] = (
    (
        "template",
        0.7,
        r"(?i)<\|im_start\|>|<\|system\|>|\[/?inst\]|<<sys>>|<\|begin_of_text\|>|<\|eot_id\|>|"
        r"<\|start_header_id\|>|^#{2,3} ?(?:system|instruction)s?\b",
    ),
    (
        "newrules",
        0.5,
        r"(?i)\b(?:new|updated|real|actual|revised|overriding) (?:system )?(?:instructions|rules|"
        r"directives|prompt)\s{0,3}:",
    ),
)

_FOLDED = [(name, weight, re2.compile(p, _OPTIONS)) for name, weight, p in _FAMILIES]
_NORMED = [(name, weight, re2.compile(p, _OPTIONS)) for name, weight, p in _RAW_FAMILIES]
_FOLDED_SET = re2.Set.SearchSet(_OPTIONS)
for _, _, _p in _FAMILIES:
    _FOLDED_SET.Add(_p)
_FOLDED_SET.Compile()


# Cyrillic and Greek letters that look Latin (NFKC keeps them apart), lower case.
_LOOKALIKES = "аеорсуххіјѕԁһӏԛԝοαεινκτρυχ\u2019"
_CONFUSABLES = str.maketrans(_LOOKALIKES, "aeopcyxxijsdhlqwoaeivktpux'")
_HAS_LOOKALIKE = re.compile(f"[{_LOOKALIKES}]")  # one character class (text is lower-cased): linear


def fold(view: str) -> bytes:
    """Lower case, look-alikes and leetspeak undone, punctuation -> one space, edge quotes dropped."""
    if not view.isascii():
        view = view.lower()
        if _HAS_LOOKALIKE.search(view):
            view = view.translate(_CONFUSABLES)
    data = view.encode().lower().translate(_FOLD_BYTES)
    folded = b" " + b" ".join(data.split()) + b" "
    return folded.replace(b" '", b" ").replace(b"' ", b" ") if b"'" in folded else folded


def score(view: str) -> tuple[float, list[str]]:
    """(score, families that counted) for the normalised view of one text."""
    variants = [fold(view)]
    if "11" in view:  # leetspeak "1" is "i" ("1gnore"), but "11" is usually "ll" ("a11")
        variants.append(fold(view.replace("11", "ll")))
    best: dict[str, float] = {}
    for folded in variants:
        for i in _FOLDED_SET.Match(folded) or ():
            name, weight, pattern = _FOLDED[i]
            if weight <= best.get(name, 0.0):
                continue
            for m in pattern.finditer(folded):
                if pattern.groups == 0 or m.group(1) is None:
                    best[name] = weight
                    break
    for name, weight, pattern in _NORMED:
        if weight > best.get(name, 0.0) and pattern.search(view):
            best[name] = weight
    return sum(best.values()), sorted(best)
