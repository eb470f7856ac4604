"""Prompt-injection and jailbreak heuristics: phrase families, scored.

Text is folded first (normalised view, lower case, common leetspeak undone, punctuation and
runs of spaces collapsed to one space) so "IGNORE  all_previous   1nstructions" reads as
"ignore all previous instructions". Each family counts once, at its highest weight; a text
fires when the sum reaches the rule's threshold (1.0 by default). A family whose pattern
captures a negation ("don't ignore the previous instructions") does not count.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
import urllib.parse

import re2

from proxy.guardrails import (
    injection_classes,
    injection_families,
    injection_general,
    injection_indirect,
    injection_reader,
    injection_roles,
    injection_s7,
)
from proxy.guardrails.normalize import normalize

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
    r"can't|cannot|told me to|asked me to|told us to|asked us to|does the model|did the model|"
    r"does the assistant|does it|did it) )?"
)
_QUAL = (
    r"(?:previous|prev|prior|above|earlier|preceding|former|initial|original|system|existing|current|safety|"
    r"all)"
)
_DET = r"(?:all |any |every |the |your |of |these |those |its |his |her |their )*"
_OBJ = (
    r"(?:instructions?|rules|prompts?|directions|directives|guidelines|guardrails|constraints|restrictions|"
    r"programming|commands|policies|limitations|orders)"
)
_VERB = (
    r"(?:please )?(?:just )?(?:kindly )?(?:ignore|disregard|forget|override|bypass|abandon|discard|drop|"
    r"set aside|"
    r"put aside|throw away|throw out|scrap|erase|wipe|nullify|overwrite|cancel)"
)

# (family, weight, pattern on the folded text; group 1, when present, is a negation)
_FAMILIES: tuple[tuple[str, float, str], ...] = (
    ("override", 1.0, rf"{_NEG}{_VERB} {_DET}(?:{_QUAL} )+{_DET}{_OBJ}"),
    (
        "override",
        1.0,
        rf"{_NEG}{_VERB} (?:everything|anything|all) (?:above|before|previously|prior|"
        r"you (?:were|have been|ve been) (?:\S+ )?(?:told|given|taught|instructed)|that came before)",
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
    ("persona", 1.0, r"\b(?:from now on )?you are (?:now )?(?:called )?(?:dan|stan|dude|aim)\b"),
    ("norules", 0.6, r"\bno (?:restrictions|rules|limits|filters) (?:whatsoever|at all)\b"),
    (
        "persona",
        1.0,
        r"\b(?:act|behave|respond|pretend|roleplay|role play|talk|speak|answer|reply|write) "
        r"(?:as|like|to be) (?:an? )?(?:completely )?"
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
    ("startwith", 0.5, r"\b(?:starting|beginning|begin|start) with (?:the (?:words?|phrase|text|sentence) )?"
                       r"you are\b"),
    ("verbatim", 0.3, r"\b(?:verbatim|word for word|including everything|include everything|"
                      r"exactly as written)\b"),
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
    (  # a fake system/developer header opening a line: "[SYSTEM]:", "### Systemnachricht ###", "【系统通知】"
        "fakesys",
        0.5,
        r"(?im)^\s{0,3}(?:#{2,3}\s?|[\[【<]\s?)?(?:system(?: (?:override|message|update|notice|alert|prompt|"
        r"instruction)){0,2}|sistema|"
        r"systemnachricht|sistem|системное сообщение|komunikat systemowy|aggiornamento di sistema|"
        r"message du développeur|developer message|developer|رسالة النظام|系统通知|系統通知|システム通知|"
        r"시스템 메시지)\s?(?:[\]】>]\s?:?|:|\s#{2,3})",
    ),
    (  # a note to the AI inside a document: "[Para o assistente de IA: …", "<!-- AI assistant: …"
        "addressai",
        1.0,
        r"(?i)(?:[\[(（<【]|<!--)\s{0,2}[^\n\]):：]{0,30}?(?:\bai\b|\bia\b|\bki\b|assistant|asisten|"
        r"assistente|asystent|trợ lý|ии|ассистент|المساعد|सहायक|助手|アシスタント|비서|yapay zeka)"
        r"[^\n\]):：\"=<>]{0,20}[:：]",
    ),
    (
        "newrules",
        0.5,
        r"(?i)\b(?:new|updated|real|actual|revised|overriding) (?:system )?(?:instructions|rules|"
        r"directives|prompt)\s{0,3}:",
    ),
)

# The same families in other languages (folded text: lower case, ASCII punctuation -> space).
_W = r"(?: \S+){0,3}"  # up to three words in between
_MULTILINGUAL: tuple[tuple[str, float, str], ...] = (
    # es
    ("override", 1.0, rf"\b(?:ignora|ignore|ignoren|olvida|olvide|omite|descarta)r?{_W} (?:las |los )?"
                      r"(?:instrucciones|reglas|indicaciones|órdenes|ordenes)(?: \S+){0,2} "
                      r"(?:anteriores|previas)"),
    ("exfil", 1.0, r"\b(?:muestra|muéstrame|muestrame|revela|revélame|dime|imprime|repite)(?:me)?"
                   r"(?: \S+){0,2} "
                   r"(?:prompt|mensaje|instrucciones) (?:del |de )?(?:sistema|iniciales|originales)"),
    # fr
    ("override", 1.0, rf"\b(?:ignore|ignorez|oublie|oubliez|ne tiens pas compte de){_W} "
                      r"(?:instructions|règles|regles|consignes)(?: \S+){0,2} "
                      r"(?:précédentes|precedentes|antérieures|anterieures|ci dessus)"),
    ("exfil", 1.0, r"\b(?:révèle|revele|révélez|montre|montrez|affiche|affichez|répète|repete|donne|donnez)"
                   r"(?: moi)?(?: \S+){0,2} (?:prompt|message|instructions)(?: \S+){0,1} "
                   r"(?:système|systeme|initiales|initial|d origine)"),
    # de
    ("override", 1.0, rf"\b(?:ignoriere|ignorieren sie|vergiss|vergessen sie|missachte|übergehe){_W} "
                      r"(?:vorherigen|bisherigen|obigen|vorigen|vorangegangenen) "
                      r"(?:anweisungen|regeln|instruktionen|befehle|vorgaben)"),
    ("exfil", 1.0, r"\b(?:zeig|zeige|zeigen sie|gib|verrate|wiederhole|nenne)(?: mir)?(?: \S+){0,4} "
                   r"(?:system ?prompt|systemnachricht|systemanweisungen|ursprünglichen anweisungen)"),
    # it
    ("override", 1.0, rf"\b(?:ignora|ignorare|dimentica|dimenticare){_W} (?:istruzioni|regole|indicazioni)"
                      r"(?: \S+){0,2} (?:precedenti|sopra|iniziali)"),
    ("exfil", 1.0, r"\b(?:mostrami|rivelami|rivela|ripeti|dimmi|stampa)(?: \S+){0,3} "
                   r"(?:prompt|istruzioni|messaggio) (?:di sistema|iniziali|del sistema)"),
    # pt
    ("override", 1.0, rf"\b(?:ignore|ignora|ignorar|esqueça|esqueca|desconsidere){_W} "
                      r"(?:instruções|instrucoes|regras|orientações|orientacoes)(?: \S+){0,2} "
                      r"(?:anteriores|acima|prévias|previas)"),
    ("exfil", 1.0, r"\b(?:mostre|revele|diga|repita|imprima)(?: me)?(?: \S+){0,2} "
                   r"(?:prompt|instruções|instrucoes|mensagem) (?:do sistema|de sistema|iniciais)"),
    # nl
    ("override", 1.0, rf"\b(?:negeer|vergeet){_W} (?:vorige|eerdere|voorgaande|bovenstaande) "
                      r"(?:instructies|regels|opdrachten)"),
    ("exfil", 1.0, r"\b(?:toon|laat|geef|herhaal)(?: \S+){0,3} "
                   r"(?:systeemprompt|systeem prompt|systeeminstructies)"),
    # pl
    ("override", 1.0, rf"\b(?:zignoruj|ignoruj|zapomnij){_W} "
                      r"(?:poprzednie|wcześniejsze|wczesniejsze|powyższe|"
                      r"poprzednich|wcześniejszych|wczesniejszych) "
                      r"(?:instrukcje|polecenia|zasady|instrukcji|poleceń|zasadach|instrukcjach|poleceniach|regułach)"),
    ("exfil", 1.0, r"\b(?:pokaż|pokaz|ujawnij|powtórz|powtorz|wypisz|podaj)(?: \S+){0,2} "
                   r"(?:prompt systemowy|instrukcje systemowe|systemowy prompt)"),
    # tr
    ("override", 1.0, r"(?:önceki|onceki|yukarıdaki|tüm|bütün)(?: \S+){0,2} "
                      r"(?:talimatları|talimatlari|kuralları|kurallari|komutları|talimatı)(?: \S+)? "
                      r"(?:yok say|görmezden gel|gormezden gel|unut|dikkate alma)"),
    ("exfil", 1.0, r"sistem (?:istemini|komutunu|talimatlarını|talimatlarini|mesajını|promptunu)"
                   r"(?: \S+){0,3} "
                   r"(?:göster|goster|söyle|soyle|yaz|açıkla|tekrarla)"),
    # ru
    ("override", 1.0, r"(?:игнорируй|игнорируйте|забудь|забудьте|проигнорируй|не обращай внимания на)"
                      r"(?: \S+){0,2} (?:предыдущие|прежние|вышеуказанные|предыдущих|все|свои) "
                      r"(?:инструкции|указания|правила|инструкций|указаний)"),
    ("exfil", 1.0, r"(?:покажи|раскрой|выведи|повтори|скажи|напиши)(?: мне)?(?: \S+){0,2} "
                   r"(?:системный промпт|системные инструкции|системное сообщение|исходные инструкции)"),
    # ar
    ("override", 1.0, r"(?:تجاهل|انس|إنس|اهمل|أهمل|تجاهلي)(?: \S+){0,2} (?:التعليمات|الأوامر|القواعد|تعليمات)"
                      r"(?: \S+)? ?(?:السابقة|الماضية|أعلاه)"),
    ("exfil", 1.0, r"(?:اكشف|أظهر|اظهر|اعرض|كرر|اطبع)(?: لي)?(?: \S+){0,2} (?:موجه|تعليمات|رسالة) النظام"),
    # hi
    ("override", 1.0, r"(?:पिछले|पिछली|पूर्व|सभी|ऊपर के|पहले के)(?: \S+){0,2} (?:निर्देशों|निर्देश|नियमों|नियम)"
                      r"(?: \S+){0,2} (?:अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल)"),
    ("exfil", 1.0, r"(?:सिस्टम प्रॉम्प्ट|सिस्टम संदेश|सिस्टम निर्देश|मूल निर्देश)(?: \S+){0,3} "
                   r"(?:दिखाओ|दिखाएं|दिखाइए|बताओ|बताएं|प्रकट)"),
    # zh (no spaces between words)
    ("override", 1.0, r"(?:忽略|无视|忘记|忘掉|忘了|别管|抛开|忽视|不要理会|無視|忘記)\S{0,12}"
                      r"(?:指令|指示|规则|規則|说明|提示)"),
    ("exfil", 1.0, r"(?:显示|顯示|告诉我|告訴我|输出|輸出|泄露|重复|重複|打印|给我看)\S{0,4}"
                   r"(?:系统提示|系統提示|系统指令|系統指令|初始指令|系统消息)"),
    ("exfil", 1.0, r"(?:把|将|將)?(?:你的)?(?:系统提示|系統提示|系统指令|系統指令|初始指令|系统消息)\S{0,10}"
                   r"(?:显示|顯示|输出|輸出|告诉|告訴|发给|重复|打印)"),
    # ja
    ("override", 1.0, r"(?:以前|上記|これまで|すべて|全て)の?\S{0,6}(?:指示|命令|ルール|指令)\S{0,4}"
                      r"(?:無視|忘れ)"),
    ("override", 0.6, r"前の\S{0,6}(?:指示|命令|ルール|指令)\S{0,4}(?:無視|忘れ)"),
    ("exfil", 1.0, r"(?:システムプロンプト|システム指示|初期指示|システムメッセージ)\S{0,14}"
                   r"(?:表示|教え|見せ|出力|繰り返)"),
    # ko
    ("override", 1.0, r"(?:이전|위의|모든|앞의)(?: ?\S+){0,2} ?(?:지시|지시사항|지침|규칙|명령)\S{0,2} ?"
                      r"(?:모두 )?(?:무시|잊)"),
    ("exfil", 1.0, r"(?:시스템 프롬프트|시스템 지시|초기 지시|시스템 메시지)\S{0,2}(?: \S+){0,5} ?"
                   r"(?:보여|알려|출력|공개)"),
)
# Paraphrase classes from the v3 corpus (issue #15), several languages each.
_AI = (
    r"(?:ai|ia|ki|ki model|assistant|assistent|assistente|asistente|asisten|asystent\S*|trợ lý|ии|ассистент|"
    r"yapay zeka|sztuczn\S* inteligencj\S*|intelligenza artificiale|inteligência artificial|"
    r"inteligencia artificial|الذكاء الاصطناعي|ذكاء اصطناعي|एआई)"
)
_PARAPHRASES: tuple[tuple[str, float, str], ...] = (
    # an AI without rules (role-play persona): 1.0 only with a role-play cue (not with `norules`)
    (
        "unbound",
        0.5,
        rf"\b{_AI}(?: \S+){{0,2}} (?:without|with no|has no|ohne|sem|sin|sans|senza|zonder|bez|tanpa|"
        r"không có|без|بلا|بدون)(?: \S+){0,2} (?:rules|filters|restrictions|limits|ethical limits|"
        r"regeln|filter|einschränkungen|regras|filtros|limites|reglas|límites|règles|regole|filtri|"
        r"regels|zasad|ograniczeń|aturan|luật lệ|ограничений|правил|قواعد|قيود)",
    ),
    (
        "unbound",
        0.5,
        r"(?:没有任何限制|没有限制|無制限|制限のない|제한이 없는|제한 없는|kuralsız|कोई नियम नहीं|"
        r"n a aucune règle|n'a aucune règle|que nunca se niega|that never refuses|nunca recusa)",
    ),
    (
        "roleplay",
        0.5,
        r"\b(?:pretend|imagine|role ?play|play the role|you are now|act as|stay in character|"
        r"stell dir vor|finja|imagine que|joue le rôle|gioco di ruolo|tu sei|speel de rol|udawaj|"
        r"rolüne gir|berperanlah|đóng vai|представь|вообрази|تظاهر|角色扮演|演じて|너는 이제|मान लो|"
        r"vamos a jugar|eres|você é|du bist|jesteś)\b",
    ),
    # safety/rules/filters declared off ("the safety layer is disabled", "policies were removed")
    (
        "disabled",
        0.6,
        r"\b(?:safety|security|content|sicherheits\S*|inhalts\S*|sécurité|securite|sicurezza|"
        r"seguridad|segurança|bezpieczeństwa|güvenlik|безопасност\S*)(?: \S+){0,2}(?: (?:layer|rules|"
        r"policy|policies|filters|restrictions|richtlinien|filter|regeln|restrictions|policy|"
        r"políticas|regras|filtry|kuralları|фильтры|правила))?(?: \S+){0,5} (?:disabled|removed|"
        r"lifted|suspended|deactivated|turned off|no longer apply|deaktiviert|abgeschaltet|aufgehoben|"
        r"entfernt|suspendues|désactivées|rimosse|disattivate|desactivadas|anuladas|desativadas|"
        r"removidas|wyłączone|kaldırıldı|отключены|сняты)",
    ),
    (
        "disabled",
        0.6,
        r"(?:se anulan las políticas|your content policy has been removed|"
        r"安全策略已被\S{0,6}(?:关闭|取消|解除)|安全\S{0,4}(?:解除|無効)|안전 정책을 해제|"
        r"تم تعطيل سياسات|filters? (?:are|is) (?:now )?off)",
    ),
    # filters/rules switched off by the user ("turn off all safety filters", "schalte die Filter ab")
    (
        "filtersoff",
        0.5,
        r"\b(?:disable|turn off|switch off|remove|deactivate|schalte|deaktiviere|desligue|desative|"
        r"schakel|matikan|отключи|désactive|disattiva|desactiva|wyłącz)(?: \S+){0,3} "
        r"(?:filters?|filtros?|filtri|filtre|filtry|фильтры|regras de segurança|"
        r"inhaltsfilter|veiligheidsfilters|sicherheitsfilter)\b",
    ),
    (
        "filtersoff",
        0.5,
        r"(?:フィルター\S{0,6}解除|फ़िल्टर बंद|फिल्टर बंद|ignores la politique de contenu|"
        r"sans censure|uncensored)",
    ),
    (
        "devmode",
        0.6,
        r"(?:ontwikkelaarsmodus|modo desenvolvedor|modo desarrollador|mode pengembang|"
        r"режим\S* разработчик\S*|entwicklermodus|開発者モード|डेवलपर मोड|mode développeur|"
        r"modalità sviluppatore|tryb deweloper\S*|geliştirici modu|개발자 모드|开发者模式)",
    ),
    ("override", 1.0, r"(?:bỏ qua|phớt lờ) (?:mọi|tất cả|các)(?: \S+){0,2} (?:hướng dẫn|chỉ dẫn|quy tắc)"),
    ("override", 1.0, r"\b(?:abaikan|lupakan) (?:semua )?(?:instruksi|aturan|perintah)"),
    (
        "override",
        1.0,
        r"\b(?:ignore|ignora|esqueça|esqueca) tudo o que (?:te|lhe) (?:disseram|disse|foi dito)",
    ),
    (
        "override",
        1.0,
        r"\b(?:oublie|oubliez) (?:toutes (?:les |tes |vos )|tes |vos )(?:consignes|instructions|règles)",
    ),
    ("override", 1.0, r"\byou(?: are|'re| re) no longer bound by\b"),
    (
        "override",
        0.6,
        r"\b(?:earlier|previous|prior|original) (?:guidance|instructions|rules)(?: \S+){0,4} "
        r"(?:is|are) (?:now )?(?:obsolete|void|cancelled|canceled|revoked)",
    ),
    (
        "exfil",
        1.0,
        r"\b(?:print|repeat|reveal|show|output|display|write out|recite)(?: \S+){0,6} "
        r"(?:hidden instructions|initial configuration|system prompt|system instructions)",
    ),
    (
        "exfil",
        1.0,
        r"(?:instruções de sistema|instruções do sistema|prompt di sistema|prompt sistem|"
        r"lời nhắc hệ thống|instructions cachées|تعليمات النظام|सिस्टम निर्देश|"
        r"システムプロンプト|시스템 프롬프트)(?: \S+){0,8} ?(?:\S*(?:palavra por palavra|verbatim|"
        r"integralmente|kata demi kata|nguyên văn|mot pour mot|حرفي|शब्दशः|そのまま|그대로))",
    ),
    (
        "exfil",
        1.0,
        r"(?:repita|scrivi|tampilkan|in|affiche|اكتب)(?: \S+){0,4} (?:palavra por palavra |"
        r"integralmente |mot pour mot )?(?:\S+ )?(?:as instruções de sistema|il prompt di sistema|"
        r"prompt sistem|nguyên văn lời nhắc hệ thống|les instructions cachées|لي نص تعليمات النظام)",
    ),
)


def word_bounds(pattern: str) -> str:
    """re2's `\\b` is ASCII-only: next to Cyrillic, Arabic, Devanagari or CJK letters it never
    holds. On folded text (words separated by one space, punctuation gone) a boundary is a space,
    an apostrophe or an end: a `\\b` followed by a required space is dropped (the space is the
    boundary), any other becomes a consuming `(?:^|[ '])` before a word or `(?:[ ']|$)` after one."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("\\b", i) and (i == 0 or pattern[i - 1] != "\\"):
            rest = pattern[i + 2 :].lstrip(")")
            before = pattern[:i].rstrip("(?:|")
            if rest.startswith((" ", "(?: ")) or before.endswith(" "):
                pass
            elif i == 0 or pattern[i - 1] in "(|:" or before == "":
                out.append("(?:^|[ '])")
            else:
                out.append("(?:[ ']|$)")
            i += 2
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


_MULTILINGUAL = tuple(
    (name, w, injection_families.NOT + p[2:] if name == "override" and p.startswith("\\b") else p)
    for name, w, p in _MULTILINGUAL
)
_FAMILIES = (_FAMILIES + _MULTILINGUAL + _PARAPHRASES + injection_families.FAMILIES
             + injection_classes.FAMILIES + injection_indirect.FAMILIES + injection_general.FAMILIES
             + injection_reader.FAMILIES + injection_roles.FAMILIES + injection_s7.FAMILIES)
_RAW_FAMILIES = (_RAW_FAMILIES + injection_families.RAW_FAMILIES + injection_classes.RAW_FAMILIES
                 + injection_indirect.RAW_FAMILIES + injection_general.RAW_FAMILIES
                 + injection_reader.RAW_FAMILIES + injection_roles.RAW_FAMILIES + injection_s7.RAW_FAMILIES)



def _nfkc_letters(pattern: str) -> str:
    """Letters of a pattern as the view has them (NFKC per character: Thai "ำ" is "ํา" there)."""
    return "".join(unicodedata.normalize("NFKC", ch) if unicodedata.category(ch)[0] in "LM" else ch
                   for ch in pattern)


_FAMILIES = tuple((name, w, _nfkc_letters(p)) for name, w, p in _FAMILIES)
_RAW_FAMILIES = tuple((name, w, _nfkc_letters(p)) for name, w, p in _RAW_FAMILIES)
_FOLDED = [(name, weight, re2.compile(word_bounds(p), _OPTIONS)) for name, weight, p in _FAMILIES]
_NORMED = [(name, weight, re2.compile(p, _OPTIONS)) for name, weight, p in _RAW_FAMILIES]
# The families are matched as re2 Sets of SET_CHUNK patterns each: one Set over all of them is one
# DFA whose states explode (the word gaps of many patterns combine), so fresh text keeps building
# states (5 ms per 1k tokens); ten Sets of ~10 cost ~1 ms. 32 MiB each caps the lazily built cache.
SET_CHUNK = 10
_SET_OPTIONS = re2.Options()
_SET_OPTIONS.log_errors = False
_SET_OPTIONS.max_mem = 32 << 20


def _sets(patterns: list[str]) -> list[tuple[int, object]]:
    out = []
    for start in range(0, len(patterns), SET_CHUNK):
        chunk = re2.Set.SearchSet(_SET_OPTIONS)
        for p in patterns[start : start + SET_CHUNK]:
            chunk.Add(p)
        chunk.Compile()
        out.append((start, chunk))
    return out


_FOLDED_SETS = _sets([word_bounds(p) for _, _, p in _FAMILIES])


def _folded_matches(folded: bytes) -> list[int]:
    return [start + i for start, chunk in _FOLDED_SETS for i in chunk.Match(folded) or ()]

_NORMED_SETS = _sets([p for _, _, p in _RAW_FAMILIES])  # chunked too: a few wide patterns stay apart


# Cyrillic and Greek letters that look Latin (NFKC keeps them apart), lower case.
_LOOKALIKES = "аеорсуххіјѕԁһӏԛԝοαεινκτρυχ"
_CONFUSABLES = str.maketrans(_LOOKALIKES, "aeopcyxxijsdhlqwoaeivktpux")
_HAS_LOOKALIKE = re.compile(f"[{_LOOKALIKES}]")  # one character class (text is lower-cased): linear


_WORD = re.compile(r"\S+")
# a word holding a Cyrillic letter and a digit or "@" (a pattern `\S*[а-яё]\S*[@0-9]\S*` backtracks
# cubically over a long run without spaces: seconds for a 4 KB key dump; this is one pass)
_CYR_LETTER = re.compile(r"[а-яё]")
_LEET_MARK = re.compile(r"[@0-9]")


def _cyr_leet(m: re.Match[str]) -> str:
    word = m.group()
    if _CYR_LETTER.search(word) and _LEET_MARK.search(word):
        return word.replace("10", "ю").translate(_CYR_DIGITS)
    return word
_CYR_DIGITS = str.maketrans({"@": "а", "0": "о", "3": "е", "4": "ч", "6": "б", "1": "и"})
_LEET_LL = re.compile(r"(?<=[^\W\d_])11|11(?=[^\W\d_])")
_LATIN = re.compile(r"[a-z]")


def _unconfuse(m: re.Match[str]) -> str:
    word = m.group()
    return word.translate(_CONFUSABLES) if _LATIN.search(word) else word


# Punctuation of other scripts, folded to a space like ASCII punctuation.
_MARKS = re.compile("[\u064b-\u065f\u0670\u0640\u0591-\u05c7]")
_PIPE = re.compile(r"(?<=[a-z0-9])\|(?=[a-z0-9])", re.I)
_PUNCT = re.compile("[«»“”„‟‹›，。：；！？、（）【】「」『』《》〈〉・…—–·¿¡]")


def fold(view: str) -> bytes:
    """Lower case, look-alikes and leetspeak undone, punctuation -> one space, edge quotes dropped."""
    if not view.isascii():
        # Turkish İ lower-cases to i + dot; the right single quote is an apostrophe
        view = _PUNCT.sub(" ", view.lower().replace("i\u0307", "i").replace("\u2019", "'"))
        if _MARKS.search(view):  # Arabic harakat, Hebrew points, tatweel: "انسَ" is "انس"
            view = _MARKS.sub("", view)
        if _HAS_LOOKALIKE.search(view):  # only in words that mix scripts: Russian stays Russian
            view = _WORD.sub(_unconfuse, view)
        if _CYR_LETTER.search(view) and _LEET_MARK.search(view):  # "З@будь вс3 пр@вил@": leetspeak
            view = _WORD.sub(_cyr_leet, view)  # digits in a Cyrillic word
    if "|" in view:  # "ru|es": a pipe between letters is an l
        view = _PIPE.sub("l", view)
    data = view.encode().lower().translate(_FOLD_BYTES)
    folded = b" " + b" ".join(data.split()) + b" "
    return folded.replace(b" '", b" ").replace(b"' ", b" ") if b"'" in folded else folded


_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,4096}={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}[ :]?){8,2048}")
_PERCENT = re.compile(r"(?:%[0-9a-fA-F]{2}){4,}|(?:%[0-9a-fA-F]{2}[^%\s]{1,20}){3}")
_ROT13 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                       "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm")
MAX_DECODED = 8  # encoded segments decoded per text
# Everyday words (en, es, de, fr) and attack words: a text that holds them only once ROT13-decoded
# or reversed is worth scanning that way (cheap gate: most texts are neither).
_COMMON = frozenset(
    "the and you your all to of is are now in with it for this that me my not no previous instructions "
    "ignore prompt system rules reveal el la los las de tus y der die und deine les et tes vos "
    "il le tue che di regole istruzioni ignora olvida reglas instrucciones vergiss regeln anweisungen "
    "oublie règles consignes os as do da não suas regras".split()
)


_COMMON_ROT13 = frozenset(w.translate(_ROT13) for w in _COMMON)
_COMMON_REVERSED = frozenset(w[::-1] for w in _COMMON)


def _common_words(text: str) -> int:
    return sum(1 for w in text.lower().split() if w in _COMMON)


def _common_counts(view: str) -> tuple[int, int, int]:
    """`_common_words` of the view, of its ROT13 and of it reversed, from one split: ROT13 and reversal
    act word by word and commute with lower-casing (for the words in _COMMON)."""
    plain = rot = back = 0
    for w in view.lower().split():
        plain += w in _COMMON
        rot += w in _COMMON_ROT13
        back += w in _COMMON_REVERSED
    return plain, rot, back


# Gates: re2 (one linear pass) finds whether a Python pattern below can match at all, which most texts
# cannot; each gate matches wherever its pattern does (a necessary condition), so results are unchanged.
_PY_SPACE = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"  # re's \s
_BASE64_GATE = re2.compile(r"[A-Za-z0-9+/_-]{16}", _OPTIONS)
_HEX_GATE = re2.compile(r"(?:[0-9a-fA-F]{2}[ :]?){8}", _OPTIONS)
_SPACED_GATE = re2.compile(f"(?:^|[{_PY_SPACE}])[^{_PY_SPACE}](?:[{_PY_SPACE}]{{1,4}}[^{_PY_SPACE}]){{7}}"
                           f"(?:[{_PY_SPACE}]|$)", _OPTIONS)
_JOINED_GATE = re2.compile(r"(?s)[-.*·|/+~].[-.*·|/+~].[-.*·|/+~]", _OPTIONS)
_ESCAPED = re.compile(r"\\(?:x|u00)([0-9a-fA-F]{2})")
_CONCAT = re.compile(r"[\"'`]\s{0,3}(?:\+|\.|&|\|\|)\s{0,3}[\"'`]")
# Eight or more single characters spaced out (words apart by two or more spaces), or joined by one
# separator ("I-g-n-o-r-e a-l-l", "i.g.n.o.r.e"; words apart by spaces).
_SPACED = re.compile(r"(?<!\S)\S(?:\s{1,4}\S(?!\S)){7,}")
_JOINED = re.compile(r"\b\w(?:[-.*·|/+~]\w\b){3,}(?:\s+\w(?:[-.*·|/+~]\w\b)+)*")
_JOINERS = re.compile(r"[-.*·|/+~]")
# Quoted parts assigned or listed ("x='disre'", "Teil A: „Vergiss deine“"), joined when the text
# asks to combine them ("x+y", "join", "verbinde", "une").
_QUOTED_PART = re.compile(r"['‘]([^'’\n]{1,80})['’]|[\"“«„‚「『]([^\"”»“‘」』\n]{1,80})[\"”»“‘」』]")
_JOIN_CUE = re.compile(
    r"\b\w{1,8}\s?\+\s?\w{1,8}\b|\b(?:join|combine|concatenate|merge|put together|verbinde|kombiniere|"
    r"füge|une|junta|combina|unisci|concatena|junte|combine|собери|соедини|объедини|połącz|birleştir)",
    re.I)
# the cue words without \b (re2's is ASCII); re.I also matches "i" to "İ" and "ı", re2's (?i) does not
_JOIN_WORDS_GATE = re2.compile(
    "(?i)" + _JOIN_CUE.pattern.split("|", 1)[1].replace("\\b", "").replace("i", "[iİı]"), _OPTIONS)
_COMBINING = re.compile("[\u0300-\u036f]")
# "read it backwards", "lies das rückwärts", "léelo al revés": the text asks to be read reversed
# re2 (one automaton): Python's re tries every alternative at every position (~0.8 ms a 4 KB prompt)
_BACKWARDS = re2.compile(
    r"(?i)backwards|in reverse|reversed|rückwärts|von hinten|à l'envers|al revés|al reves|alla rovescia|"
    r"de trás para frente|ao contrário|achterstevoren|od tyłu|wspak|наоборот|задом наперёд|tersten|"
    r"terbalik|baklänges|baglæns|baklengs|takaperin|pozpátku|visszafelé|ανάποδα|倒着|逆から|거꾸로|بالعكس|"
    r"برعکس", _OPTIONS)


def _text(data: bytes) -> str | None:
    """Decoded bytes that read as text (mostly printable UTF-8), else None."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in text)
    return text if text and printable >= 0.9 * len(text) and any(ch.isalpha() for ch in text) else None


def _join_cue(view: str) -> bool:
    if "+" not in view and not _JOIN_WORDS_GATE.search(view):
        return False
    return _JOIN_CUE.search(view) is not None


def decoded_variants(view: str) -> list[tuple[str, bool]]:
    """What the text says once decoded: base64 and hex segments, percent-encoding, ROT13 and the
    text reversed (attacks hidden from the phrase patterns, readable to a model); each with whether
    the encoding hides it from a reader (base64, hex, spaced letters, ROT13, reversed, accents)."""
    out: list[tuple[str, bool]] = []
    for m in list(_BASE64.finditer(view))[:MAX_DECODED] if _BASE64_GATE.search(view) else ():
        seg = m.group().replace("-", "+").replace("_", "/")
        try:
            text = _text(base64.b64decode(seg + "=" * (-len(seg) % 4)))
        except (binascii.Error, ValueError):
            text = None
        if text:
            out.append((text, True))
    for m in list(_HEX.finditer(view))[:MAX_DECODED] if _HEX_GATE.search(view) else ():
        try:
            text = _text(bytes.fromhex(m.group().replace(" ", "").replace(":", "")))
        except ValueError:
            text = None
        if text:
            out.append((text, True))
    if "%" in view and _PERCENT.search(view):
        out.append((urllib.parse.unquote(view), False))
    escaped = _ESCAPED.findall(view)
    if len(escaped) >= 8:  # "\\x76\\x65…", "\\u0069…"
        text = _text(bytes(int(h, 16) for h in escaped if int(h, 16) < 256))
        if text:
            out.append((text, True))
    if "&#" in view:
        out.append((html.unescape(view), False))
    if _CONCAT.search(view):  # 'igno' + 're your guide' + 'lines': smuggled in pieces
        out.append((_CONCAT.sub("", view), False))
    spaced = list(_SPACED.finditer(view))[:MAX_DECODED] if _SPACED_GATE.search(view) else []
    for m in spaced:  # "i g n o r e  a l l  p r e v i o u s"
        words = re.split(r"\s{2,}", m.group())
        out.append((" ".join(w.replace(" ", "") for w in words), True))
    joined = ([m.group() for m in list(_JOINED.finditer(view))[:MAX_DECODED]]
              if _JOINED_GATE.search(view) else [])
    if joined and sum(len(j) for j in joined) >= 16:
        out.append((" ".join(_JOINERS.sub("", j) for j in joined), True))
        if _common_words(out[-1][0][::-1]) >= 2:  # ".s.n.o.i.t.c.u.r.t.s.n.i": joined and reversed
            out.append((out[-1][0][::-1], True))
    lines = [ln.split() for ln in view.splitlines() if ln.strip()]
    if 3 <= len(lines) <= 40:  # an acrostic: the first word of each line reads as an instruction
        out.append((" ".join(ln[0] for ln in lines[1:] if ln), True))
    quoted = _QUOTED_PART.findall(view)
    if len(quoted) >= 2 and _join_cue(view):  # a='igno', b='re all …': run a + b
        parts = [a or b for a, b in quoted]
        # with the text around them: "follow what it returns" frames the joined parts
        out += [("".join(parts) + "\n" + view, False), (" ".join(p.strip() for p in parts), False)]
    marks = _COMBINING.findall(unicodedata.normalize("NFD", view)) if not view.isascii() else []
    if len(marks) * 4 >= len(view):  # "ï̈g̈n̈ö̈r̈ë̈": letters under stacked accents
        out.append((_COMBINING.sub("", unicodedata.normalize("NFD", view)), True))
    out += injection_general.variants(view)
    if len(view) >= 24:  # shorter texts cannot hold an instruction worth hiding
        # worth a scan only when the decoded text reads better than the text (a long text in
        # plain English holds a few "on"/"ti" that read as "no"/"it" backwards)
        plain, rot, back = _common_counts(view)
        if rot >= 2 and rot * 2 > plain:  # "gur", "naq", "lbh": ROT13 of everyday words
            out.append((view.translate(_ROT13), True))
        if (back >= 2 and back * 2 > plain) or _BACKWARDS.search(view):  # "eht", "dna": written backwards
            out.append((view[::-1], True))
    return out


# Text that talks about attacks ("phrases like 'ignore previous instructions'") rather than making
# one: a quoted phrase is discounted when the text around it discusses it.
# (Not a value: `alt="…"`, a CSV cell `,"…"` is data, like JSON.)
_QUOTED = re.compile(
    r"(?<![\w=,])['‘`]([^'’`\n]{4,160})['’`](?!\w)|(?<![=,])[\"“«「『„]([^\"”»」』“\n]{4,160})[\"”»」』“]")
_META = re2.compile(
    r"(?i)\b(?:phrases?|such as|e\.g\.|for example|example|like|detect\w*|classif\w*|filter\w*|quot\w*|"
    r"called|known as|attacks?|attackers?|research\w*|paper|tests?|training|label\w*|dataset|pattern\w*|"
    r"warn\w*|beware|recogni[sz]e|frases?|ataques?|ejemplos?|exemples?|attaques?|beispiele?|angriff\w*|"
    r"esempi\w*|attacchi|exemplos?|aanval\w*|voorbeeld\w*|przykład\w*|atak\w*|örnek\w*|saldırı\w*|"
    r"means?|meaning|bedeutet|bedeutung|significa|signifie|betekent|artikel\w*|articles?|artículos?|"
    r"articoli|artigos?|wrote|writes|typed|said|says|posted|refused|blocked|flagged|injection|"
    r"sicherheit|security|seguridad|sécurité|sicurezza|segurança|angreifer|atacantes|attaquants|"
    r"attaccanti|hackers?|malicious|payloads?|red ?team\w*|guardrails?|tried|attempted|attempts?|"
    r"declined|incidents?|reports?)\b",
    _OPTIONS)
QUOTED_WEIGHT = 0.3
HIDDEN_BONUS = 0.3
_DOMAIN = re.compile(r"\S+\.[a-z]{2,}\b\S*")
_JSON_KEY = re.compile(r"[\"'][\w -]{1,40}[\"']\s?:\s?[\"'{\[]")


_TAGS = re.compile("[\U000e0020-\U000e007e]+")
_TAG_PLANE = re.compile("[\U000e0000-\U0010ffff]")  # any character from the tags block up
_ZW_SET = frozenset("\u200b\u200c\u200d\u2060\ufeff")
_ZW_CHARS = re.compile("[\u200b-\u200d\u2060\ufeff]")


def _zw_phrase(text: str) -> bool:
    """A phrase of three or more words with an invisible character between every two letters (and
    around the spaces): written to slip past filters. ZWNJ/ZWJ inside Persian or Indic words, or in
    emoji, join one pair, never a whole phrase. Only clusters of nine or more invisible characters at
    most three apart are read letter by letter."""
    positions = [m.start() for m in _ZW_CHARS.finditer(text)]
    if len(positions) < 9:
        return False
    start = prev = positions[0]
    count = 1
    for pos in positions[1:]:
        if pos - prev <= 3:
            count += 1
        else:
            if count >= 9 and _zw_run(text[max(0, start - 1) : prev + 2]):
                return True
            start, count = pos, 1
        prev = pos
    return count >= 9 and _zw_run(text[max(0, start - 1) : prev + 2])


def _zw_run(text: str) -> bool:
    streak: list[str] = []  # the letters and spaces of the current run of hidden gaps
    zw = space = False
    for ch in text:
        if ch in _ZW_SET:
            zw = True
        elif ch == " ":
            space = True
        elif ch.isalnum():
            if streak and zw:
                streak.append(" " if space else "")
            else:
                if len(streak) >= 10 and _phrase("".join(streak)):
                    return True
                streak = []
            streak.append(ch)
            zw = space = False
        else:
            if len(streak) >= 10 and _phrase("".join(streak)):
                return True
            streak, zw, space = [], False, False
    return len(streak) >= 10 and _phrase("".join(streak))


def _phrase(run: str) -> bool:
    return sum(1 for w in run.split() if w.isalpha() and len(w) >= 2) >= 3
_ZW_IN_WORD = re.compile("\\w[\u200b-\u200d\u2060\ufeff]+\\w(?:[\u200b-\u200d\u2060\ufeff]*\\w){2}")


def score_text(text: str) -> tuple[float, list[str]]:
    """`score` of a raw text: its normalised view, plus what Unicode tag characters spell (they are
    invisible to a reader and dropped from the view, but a model reads them as ASCII)."""
    view = normalize(text)[0]
    best = score(view)
    if best[0] >= 0.5 and _ZW_IN_WORD.search(text):  # letters split by invisible characters: hidden
        best = (best[0] + HIDDEN_BONUS, best[1])
    if _ZW_CHARS.search(text) and _zw_phrase(text):
        best = (max(best[0], 1.0), sorted({*best[1], "zwtext"}))
    if _TAG_PLANE.search(text):
        hidden = " ".join(m.group().translate(_UNTAG) for m in _TAGS.finditer(text))
        if hidden.strip():
            value, names = score(f"{view}\n{hidden}")
            if value >= 0.5:
                value += HIDDEN_BONUS
            # a sentence a reader cannot see (no flag emoji spells one); "ref 20261203 batch 7" is none
            if sum(1 for w in hidden.split() if w.isalpha() and len(w) >= 2) >= 3:
                value, names = max(value, 1.0), sorted({*names, "tagtext"})
            best = max(best, (value, names))
    return best


_UNTAG = {cp: cp - 0xE0000 for cp in range(0xE0020, 0xE007F)}


def score(view: str) -> tuple[float, list[str]]:
    """(score, families that counted) for the normalised view of one text, its decoded variants
    included (the highest counts). Quoted attack phrases in a text about attacks count 0.3."""
    best, families = _score(view)
    # Domains ("collector.example") are no words about attacks; JSON values are data, not quotes.
    if (best > 0 and _META.search(view) and not _JSON_KEY.search(view)
            and _META.search(_DOMAIN.sub(" ", view))):
        quoted = [m.group(1) or m.group(2) for m in _QUOTED.finditer(view)]
        inner = max((_score(q)[0] for q in quoted), default=0.0)
        if inner > 0:  # quotes that hold nothing leave the text's own score as it is
            rest, rest_families = _score(_QUOTED.sub(" ", view))
            best, families = rest + QUOTED_WEIGHT * inner, rest_families
    for variant, hidden in decoded_variants(view):
        value, names = _score(variant)
        if hidden and value >= 0.5:  # encoded, spaced out or reversed: hiding it is a signal too
            value += HIDDEN_BONUS
        if value > best:
            best, families = value, names
    return best, families


def _score(view: str) -> tuple[float, list[str]]:
    variants = [fold(view)]
    if "11" in view:  # leetspeak "1" is "i" ("1gnore"), but "11" next to a letter is "ll" ("a11")
        ll = _LEET_LL.sub("ll", view)
        if ll != view:  # years and amounts ("2011", "11:30") need no second pass
            variants.append(fold(ll))
    best: dict[str, float] = {}
    for folded in variants:
        for i in _folded_matches(folded):
            name, weight, pattern = _FOLDED[i]
            if weight <= best.get(name, 0.0) if weight > 0 else name in best:
                continue  # a negative family (a hard negative) counts once
            for m in pattern.finditer(folded):
                if pattern.groups == 0 or m.group(1) is None:
                    best[name] = weight
                    break
    for i in (start + j for start, chunk in _NORMED_SETS for j in chunk.Match(view) or ()):
        name, weight, _ = _NORMED[i]
        if weight > best.get(name, 0.0):
            best[name] = weight
    return sum(best.values()), sorted(best)
