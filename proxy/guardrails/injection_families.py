"""Injection phrase families by attack class (issue #15, session 4), many languages each.

Patterns run on the folded text of `injection.fold` (lower case, ASCII punctuation -> one space,
leetspeak undone). `\\b` here is rewritten by `injection.word_bounds` so that it also holds next
to letters of other scripts (re2's `\\b` is ASCII-only). Weights: a family alone at 1.0 is an
attack by itself; lower weights need a second family (a note to the AI plus an instruction to
exfiltrate, a fake system header plus "safety disabled", ...).
"""

from __future__ import annotations

# Words for the model, any language.
AI_NOUN = (
    r"(?:ai|ia|ki|llm|gpt|chatgpt|bot|chatbot|ai agent|ai agents|model|assistant|assistants|assistent|"
    r"assistenten|"
    r"assistente|asistente|asisten|asystent\S*|assistentin|trợ lý|ии|ассистент\S*|помощник\S*|"
    r"yapay zeka|المساعد\S*|للمساعد\S*|सहायक|एआई|助手|アシスタント|어시스턴트|비서)"
)
_AND = r"(?:and|und|et|y|e|и|en|i|och|og|ja|a|és|ve|dan|và|n|plus)"
_TELL = (
    r"(?:tell|print|reveal|show|answer|respond|reply|give|output|write|say|send|list|dump|explain|dime|"
    r"muestra|"
    r"muéstrame|revela|responde|dame|escribe|zeig|zeige|gib|sag|antworte|nenne|schreib|dis|montre|révèle|"
    r"réponds|donne|écris|dimmi|mostra|mostrami|rivela|rispondi|dammi|scrivi|diga|mostre|revele|responda|"
    r"me dê|escreva|покажи|скажи|ответь|выведи|напиши|дай|svara|visa|berätta|svar|vis|fortell|vastaa|kerro|"
    r"näytä|odpowiedz|pokaż|powiedz|podaj|antwoord|toon|vertel|geef|cevap ver|söyle|göster|jawab|"
    r"tunjukkan|trả lời|cho tôi)"
)
_RULES = (
    r"(?:instructions?|rules?|guidelines?|guidance|directives?|policies|policy|content policy|restrictions|"
    r"regla|norma|instrucción|instruccion|regel|règle|regola|regra|vorgabe\S*|"
    r"programming|prompt|ethics|safety guidelines|"
    r"instruktioner\S*|regler\S*|instruksjoner\S*|ohjeet|ohjeita|säännöt|instrukce|pokyny|utasítás\S*|"
    r"instrucțiuni\S*|regulile|οδηγίες|інструкції|правила|инструкции|указания|ограничения|instrukcje|"
    r"polecenia|zasady|instructies|regels|anweisungen|regeln|vorgaben|richtlinien|istruzioni|regole|"
    r"instrucciones|reglas|normas|indicaciones|consignes|règles|regles|instruções|instrucoes|regras|"
    r"instruksi|aturan|hướng dẫn|quy tắc|talimatlar\S*|kurallar\S*)"
)
_FORGET = (
    r"(?:ignore|disregard|forget|override|bypass|discard|drop|abandon|strunta i|ignorera|glöm|bortse från|"
    r"ignorer|glem|unohda|ohita|ignoruj|zignoruj|zapomnij|zapomeň na|ignorujte|ignoráld|felejtsd el|ignoră|"
    r"uită|αγνόησε|ξέχασε|ігноруй|игнорируй|проигнорируй|забудь|забудьте|negeer|vergeet|ignoriere|"
    r"vergiss|missachte|ignora|ignorar|olvida|olvídate de|descarta|oublie|oubliez|ignorez|dimentica|"
    r"ignorare|esqueça|esqueca|esquece|desconsidere|abaikan|lupakan|bỏ qua|quên)"
)
_PREV = (
    r"(?:previous|prior|earlier|above|original|initial|all|any|every|cualquier|toda|jede|jeder|chaque|ogni|"
    r"qualquer|любые|każde|tidigare|föregående|ovanstående|alla|tidligere|"
    r"forrige|aiemmat|edelliset|kaikki|předchozí|všechny|korábbi|előző|összes|anterioare|toate|"
    r"προηγούμενες|όλες|попередні|предыдущие|прежние|все|poprzednie|wcześniejsze|wszystkie|eerdere|"
    r"vorige|alle|bisherigen|vorherigen|obigen|precedenti|tutte|anteriores|previas|todas|précédentes|"
    r"toutes|sebelumnya|semua|trước đó|tất cả)"
)
_YOUR = (
    r"(?:your|the|tus|sus|las|los|deine|ihre|die|tes|vos|les|tue|le|suas|seus|as|os|je|jouw|de|dina|dine|"
    r"swoje|свои|твои|ваши|senin|kendi|mọi|các)"
)
_SENSITIVE_THING = (
    r"(?:secrets? in your (?:context|prompt|memory|instructions)|everything in your (?:context|prompt)|"
    r"(?:admin|root) (?:pw|pass|pwd)|id rsa|ssh keys?|private keys?|env file|seed phrase|"
    r"(?:admin|administrator|root|database|db|master|server|servers)(?: \S+)? (?:password|passwords|"
    r"credentials|creds|keys?)|(?:api|secret|access|activation|license|licence) keys?|environment variables?|"
    r"env vars|credentials|system prompt|contraseña del administrador|contraseñas|passwort des "
    r"administrators|mot de passe (?:de l'?)?admin\S*|senha do administrador|password dell amministratore|"
    r"пароль администратора|管理员密码|otp|verification code|código de verificación|code de vérification|"
    r"bestätigungscode|رمز التحقق|mã otp|discount code list|customer data|kundendaten)"
)

# A negation before the verb ("never ignore the previous instructions"): group 1, the family does not count.
NOT = _NOT = (
    r"(?:^| )(?:(do not|don[' ]?t|never|not to|shouldn[' ]?t|should not|didn[' ]?t|did not|won[' ]?t|"
    r"can[' ]?t|cannot|"
    r"no|nunca|nicht|niemals|ne|jamais|non|mai|não|nao|не|nie|niet|nooit|inte|ikke|älä|"
    r"told me to|asked me to|told us to|asked us to|does the model|did the model|does it|did it) )?"
)

FAMILIES: tuple[tuple[str, float, str], ...] = (
    # Decode-and-execute framing: the encoding hides the payload, the framing is the attack.
    (
        "decodeexec",
        1.0,
        r"\b(?:decod\S*|hex ?decode|decrypt\S*|decipher|unscramble|apply rot ?(?:13|ie)|rot ?(?:13|ie)|"
        r"base ?(?:64|6a)|reverse|"
        r"read (?:the letters|it|them|this) (?:together|backwards|in reverse)|join|combine|concatenate|"
        r"put together|assemble|take the first letters?|first letters? of|"
        r"complete the (?:following )?(?:\S+ )?"
        r"string|evaluate|translate|spell)(?: \S+){0,12} (?:and|then)(?: then)? (?:follow|obey|execute|run|"
        r"do|carry out|act on|"
        r"perform|comply with|apply)(?: \S+){0,2} (?:it|them|what it says|what they say|result|instructions?|"
        r"resulting instructions?|contents|output|decoded text|exactly)\b",
    ),
    (
        "decodeexec",
        1.0,
        r"\b(?:decodifica|descifra|une|junta|combina|invierte|inverti|inverte|decodifique|decifre|junte|"
        r"dekodiere|"
        r"entschlüssele|"
        r"decodiere|setze|füge|décode|decode|déchiffre|assemble|réunis|combine|unisci|decifra|декодируй|"
        r"расшифруй|раскодируй|собери|соедини|çöz|birleştir)(?: \S+){0,10} (?:y|e|und|et|и|ve|luego|dann|"
        r"puis|"
        r"poi|затем)(?: \S+){0,1} (?:haz|sigue|obedece|ejecuta|cumple|siga|execute|obedeça|faça|cumpra|"
        r"befolge|folge|führe|tu|mach|suis|exécute|obéis|applique|fais|segui|esegui|obbedisci|fai|выполни|"
        r"следуй|сделай|uygula|yap)\b",
    ),
    ("decodeexec", 1.0, r"(?:解码|解碼|解密|拼接|组合|デコード|復号)\S{0,20}(?:执行|照做|遵循|按照|実行|従)"),
    # Override by verb + (possessive) rules noun, any language; with "previous/all" it is the classic.
    ("override", 0.6, rf"{_NOT}{_FORGET}(?: \S+){{0,1}}(?: {_YOUR})? (?:\S+ )?{_RULES}\b"),
    # "vergiss nicht …", "n'oublie pas …", "don't forget …": a reminder, not an override
    (
        "negated",
        -1.0,
        r"\b(?:(?:vergiss|vergessen sie|vergesst|ignoriere) nicht|n'?(?:oublie|oubliez|ignore|"
        r"ignorez) (?:pas|jamais)|"
        r"не (?:забудь\S*|забывай\S*|игнорируй\S*)|nie (?:zapomnij|zapominaj|ignoruj)|no (?:olvides|ignores)|"
        r"não (?:esqueça|esqueca|ignore)|non (?:dimenticare|dimenticate|ignorare)|(?:don't|do not|"
        r"never) forget|"
        r"vergeet niet|glöm inte|glem ikke|älä unohda|unutma)\b",
    ),
    # other scripts and languages: he, fa, ur, bn, th, sw, tl, uk
    (
        "override",
        1.0,
        r"(?:התעלם|תתעלם|שכח|התעלמי)\S*(?: \S+){0,2} \S*(?:ההוראות|הוראות|ההנחיות|הכללים)|"
        r"(?:دستورالعمل|دستورات|قوانین)\S*(?: \S+){0,3} (?:را )?(?:نادیده بگیر|فراموش کن)|"
        r"(?:ہدایات|احکامات)(?: \S+){0,3} (?:نظرانداز|نظر انداز|بھول)|"
        r"(?:নির্দেশ|নিয়ম)\S*(?: \S+){0,2} (?:উপেক্ষা|ভুলে)|"
        r"(?:เพิกเฉย|ละเว้น|ลืม)\S{0,12}(?:คำสั่ง|กฎ)|"
        r"\b(?:puuza|sahau)(?: \S+){0,2} (?:maagizo|maelekezo|sheria)|"
        r"\b(?:huwag pansinin|kalimutan)(?: \S+){0,3} (?:tagubilin|panuto|patakaran)|"
        r"\b(?:ігноруй|забудь)(?: \S+){0,2} (?:інструкції|вказівки|правила)",
    ),
    (
        "exfil",
        1.0,
        r"(?:הנחיות המערכת|הנחיית המערכת|פרומפט המערכת|پرامپت سیستم|دستورالعمل سیستم|سسٹم پرامپٹ|"
        r"সিস্টেম প্রম্পট|พรอมต์ระบบ|คำสั่งระบบ|системний промпт|системні інструкції)",
    ),
    ("override", 1.0, rf"{_NOT}{_FORGET}(?: \S+){{0,2}} {_PREV}(?: \S+){{0,2}} {_RULES}\b"),
    ("override", 1.0, rf"{_NOT}{_FORGET}(?: \S+){{0,2}} {_RULES}(?: \S+){{0,1}} {_PREV}\b"),
    ("overrideact", 0.4, rf"{_NOT}{_FORGET}(?: \S+){{0,3}} {_RULES} {_AND}(?: \S+){{0,2}} {_TELL}\b"),
    (
        "hijack",
        0.6,
        rf"{_NOT}(?:ignore|disregard|forget) (?:the |this )?(?:user|customer|human|"
        rf"client)(?:'?s)? ?(?:request|question|"
        r"message|instructions|task)?\b",
    ),
    # Rules declared void, removed, switched off (the subject may be any rules word).
    (
        "disabled",
        0.6,
        r"\b(?:guidelines|rules|policies|policy|restrictions|limitations|safety|safe mode|safety module|"
        r"instructions|directives|programming|"
        r"moderation|beschränkungen|einschränkungen|restricciones|limitaciones|limites|limitazioni|"
        r"restrizioni|restrições|ograniczenia|kısıtlamalar|"
        r"filters?|guidance|richtlinien|regeln|vorgaben|sicherheitsmodul|reglas|políticas|normas|modo seguro|"
        r"règles|consignes|mode sans échec|regole|modalità sicura|regras|modo seguro|zasady|правила|"
        r"ограничения|модерация|kurallar\S*|güvenlik kuralları)(?: \S+){0,4} (?:are|is|were|was|have been|"
        r"has been|wurden|sind|wurde|ist|ha sido|han sido|fue|fueron|ont été|a été|sont|sono stat[ei]|"
        r"è stat[oa]|"
        r"foram|foi|zostały|został|были|был|была|yönetici tarafından)? ?(?:now )?(?:disabled|removed|lifted|"
        r"suspended|revoked|deactivated|switched off|turned off|shut off|outdated|void|obsolete|cancelled|"
        r"canceled|null and void|no longer (?:apply|valid|active|in effect)|aufgehoben|deaktiviert|"
        r"abgeschaltet|entfernt|außer kraft|gelten nicht mehr|desactivad[oa]s?|anulad[oa]s?|eliminad[oa]s?|"
        r"ya no (?:aplican|son válidas|valen)|désactivée?s?|supprimée?s?|levée?s?|ne s'?appliquent plus|"
        r"disattivat[aeio]|rimoss[aeio]|non valgono più|desativad[oa]s?|removid[oa]s?|não valem mais|"
        r"wyłączone|usunięte|отключен\S*|сняты|отменены|больше не действуют|kaldırıldı|devre dışı)\b",
    ),
    # Exfiltration: send the conversation/keys/data somewhere; with a destination, stealth or an
    # address to the AI it is an attack.
    (
        "exfilsend",
        0.6,
        r"\b(?:send|forward|post|upload|transmit|email|append|attach|include|add|leak|exfiltrate|schicke|"
        r"schick|sende|leite|übermittle|füge|envía|envia|manda|reenvía|adjunta|añade|envoie|transfère|"
        r"transmets|ajoute|inoltra|invia|aggiungi|envie|encaminhe|mande|anexe|adicione|stuur|wyślij|przekaż|"
        r"отправ\S*|перешли|пересыл\S*|добавь|gönder|ilet)(?: \S+){0,16} (?:conversation|conversations|chat "
        r"history|chat log|chat logs|history|previous messages|messages|transcript|"
        r"customer data|user data|kundendaten|chatverlauf|nachrichten|gesprächsverlauf|verlauf|"
        r"conversación|historial|mensajes|historique|données|cronologia|conversazione|messaggi|conversa|"
        r"histórico|mensagens|dados|gesprek|rozmow\S*|historię|переписк\S*|истори\S*|сообщени\S*|данные|"
        r"sohbet\S*|geçmiş\S*|instructions système|instructions systeme|system prompt|contents of|"
        r"ssh\S*|id rsa|env file|api keys|credentials|passwords|tokens|cookies|secrets)\b",
    ),
    (  # the chat itself (not "the conversation logs" of a business process)
        "exfilsend",
        0.7,
        r"\b(?:send|forward|post|upload|transmit|email|append|leak|exfiltrate|schicke|sende|leite|envía|"
        r"envia|"
        r"manda|envoie|transfère|inoltra|invia|envie|encaminhe|stuur|wyślij|отправ\S*|перешли)(?: \S+){0,6} "
        r"(?:(?:full |entire |whole |complete )?(?:conversation|chat) history|chat logs?|(?:the )?user'?s? "
        r"(?:previous )?messages|this conversation|our conversation|chatverlauf|"
        r"cronologia della conversazione|"
        r"historial de (?:la )?conversación|historique de (?:la )?conversation|histórico da conversa|"
        r"всю переписку|gesprächsverlauf)\b",
    ),
    ("exfilsend", 0.6, r"(?:把|将)?\S{0,12}(?:聊天记录|对话记录|历史记录|对话)\S{0,10}"
                       r"(?:发送|发到|转发|上传)"),
    (
        "exfildest",
        0.3,
        r"\b(?:to|an|à|a|al|para|per|на|naar|do|zu|sur|auf)(?: \S+){0,2} (?:url|address|adresse|dirección|"
        r"direccion|indirizzo|endereço|адрес|webhook|endpoint|server|link|https?|collector)\b",
    ),
    (
        "stealth",
        0.5,
        r"\b(?:(?:do not|don[' ]?t|never|without) (?:tell|telling|mention|mentioning|inform|informing|notify|"
        r"notifying|ask|asking|alert|alerting|let)(?: the)? (?:user|them|anyone|him|her|it|that|this|about|"
        r"permission)|without (?:asking|confirmation|permission)|secretly|silently|discreetly|covertly|"
        r"unsichtbar|heimlich|unbemerkt|ohne (?:es )?(?:dem nutzer )?(?:zu )?(?:sagen|erwähnen)|discrètement|"
        r"en secret|sans (?:le dire|prévenir|demander)|sin decir\S*|sin avisar|sin preguntar|en secreto|"
        r"non dirlo|senza dirlo|di nascosto|sem avisar|sem dizer|secretamente|tell the user everything "
        r"(?:went|is) (?:fine|ok|okay|well)|не говори|тайно|незаметно|gizlice)\b",
    ),
    ("stealth", 0.5, r"(?:不要告诉用户|悄悄|秘密に|ユーザーに言わ|사용자에게 말하지)"),
    # A note to the AI inside a document, a tool result, a review, an e-mail.
    (
        "addressai",
        0.6,
        rf"\b(?:note|message|instructions?|notice|attention|important|reminder|directive|p s|ps|hinweis|"
        r"anweisung|nachricht|achtung|wichtig|nota|instrucción|instruccion|mensaje|aviso|atención|remarque|"
        r"consigne|avis|istruzione|avviso|attenzione|instrução|atenção|opmerking|instructie|uwaga|notatka|"
        r"polecenie|внимание|инструкция|указание|примечание|talimat|ملاحظة)(?: \S+){0,3} "
        rf"{AI_NOUN}\b",
    ),
    (
        "addressai",
        0.6,
        rf"\b{AI_NOUN}(?: \S+){{0,2}} (?:reading|processing|parsing|summari[sz]ing|translating|that reads|"
        r"who reads|which reads|that processes|che elabora|che legge|qui lit|qui traite|qui résume|que lee|"
        r"que procesa|que resume|que lê|que processa|der diese|die diese|das diese|который читает|которы\S* "
        r"обрабатывает|when you (?:see|read|process) this)\b",
    ),
    ("addressai", 0.6, r"(?:助手|人工智能|ai)\S{0,2}(?:请注意|注意|須知)"),
    # Hijack the task: "do not summarise; instead reply …", "call the delete tool".
    (
        "hijack",
        0.5,
        r"\b(?:(?:do not|don[' ]?t|ne|no|nicht|non|não|nao|не) (?:\S+ )?(?:summari[sz]e|translate|résume|"
        r"resume|"
        r"traduis|resumas|traduzcas|traduz|resuma|übersetze|zusammenfassen|riassumere|riassumi|tradurre|"
        r"резюмируй|переводи)|instead (?:reply|respond|say|write|tell|output|answer|send|recommend)|"
        r"(?:réponds|reponds|dis) plutôt|en su lugar|stattdessen|invece|em vez disso|вместо этого|"
        r"(?:stop|abort|cancel|halt) (?:the|your|what) (?:current )?(?:task|summary|summarization|"
        r"translation)|"
        r"call the \S+ tool|run \S+ now|delete all (?:files|records|data|emails|documents)|"
        r"delete all records|"
        r"rm rf)\b",
    ),
    ("hijack", 0.5, r"(?:不要总结|不要翻译|لا تلخ\S*|لا تترجم)"),
    # Authority claims: "this is your creator speaking", "the user has authorized you".
    (
        "authority",
        0.5,
        r"\b(?:this is your (?:creator|developer|developers|admin|administrator|owner|operator|maker|system)|"
        r"i am your (?:creator|developer|admin|administrator|owner|operator)|i am an? (?:openai |anthropic |"
        r"google |meta |microsoft )?(?:engineer|employee|developer|researcher|admin|administrator)|"
        r"i'?m your (?:creator|developer|"
        r"admin|owner)|the user (?:is an? |has been )?(?:auditor|admin|administrator|authorized|authorised|"
        r"verified|developer)|the user has (?:authorized|authorised|approved|granted|allowed)|"
        r"(?:authorized|authorised|approved) by the (?:admin|administrator|developer|developers)|"
        r"by the administrator|vom administrator|por el administrador|par l'?administrateur|"
        r"as (?:the |your )?(?:system )?(?:administrator|admin|developer|owner|operator)|i (?:hereby )?"
        r"authori[sz]e you|you are (?:now )?authori[sz]ed to|you have (?:my )?permission to)\b",
    ),
    # Comply with everything, answer unfiltered, never refuse.
    (
        "comply",
        0.5,
        r"\b(?:comply with (?:all|every|any)(?: \S+){0,2} (?:requests|commands|orders|instructions)|"
        r"(?:answer|respond to|reply to) (?:all|every|any|everything|anything)(?: \S+){0,3} (?:without|"
        r"no matter|regardless|fully|uncensored)|responde a todo|tüm isteklere|filtresiz|sin filtr\S*|"
        r"ohne filter|ungefiltert|"
        r"sans filtre|senza filtri|sem filtr\S*|без фильтр\S*|unfiltered|without filtering|"
        r"without any filter|"
        r"ausschließlich die anweisungen|only (?:the )?user'?s instructions|never refuse|"
        r"nunca (?:te )?niegues|"
        r"никогда не отказ\S*|ne refuse jamais|niemals ablehn\S*|mai rifiutare|nunca recuse|nunca se niega|"
        r"never says no|always comply|acknowledge and proceed|do exactly what i say|réponds à tout|"
        r"reponds a tout|responde a todo|antworte auf alles|rispondi a tutto|responda a tudo|"
        r"отвечай на вс[её]|sin censura|sans censure|senza censura|sem censura|ohne zensur|без цензуры)\b",
    ),
    ("comply", 0.5, r"(?:从不拒绝|永不拒绝|絶対に断らない|断らない|절대 거절하지|回答所有问题|すべてに答え)"),
    ("disabled", 0.6, r"(?:制限|限制|规则|規則|ルール|제한|安全)\S{0,6}(?:解除|取消|关闭|關閉|無効|해제)"),
    (
        "norules",
        0.4,
        r"\b(?:sans|sin|senza|sem|ohne|zonder|без|bez|tanpa|không có) (?:aucune |ninguna |alguna |nessuna |"
        r"nenhuma |jegliche |irgendwelche |никаких |żadnych )?(?:restrictions?|restricciones|limitations|"
        r"limites|límites|limiti|restrizioni|restrições|einschränkungen|beschränkungen|grenzen|"
        r"ограничени\S*|цензур\S*|censura|censure|zensur|filtres?|filtros?|filtri|filter|фильтр\S*|"
        r"ograniczeń)\b",
    ),
    # Start of the conversation / text before the first message: the hidden prompt.
    (
        "convstart",
        0.7,
        r"\b(?:(?:very )?(?:beginning|start|top) of (?:this|the|our) (?:conversation|chat|context|session)|"
        r"before my first message|before (?:this|the|our) conversation (?:started|began)|"
        r"above my first message)\b",
    ),
    (
        "verbatim",
        0.3,
        r"\b(?:quote it (?:exactly|verbatim|in full)|exactly as (?:it was )?written|in full|"
        r"palabra por palabra|mot pour mot|wort für wort|parola per parola|palavra por palavra|дословно)\b",
    ),
    (
        "delimiter",
        0.4,
        r"\b(?:end of (?:the )?(?:user )?(?:input|prompt|document|context|conversation|instructions|data)|"
        r"(?:begin|beginning|start) of (?:the )?(?:system|admin|new|real) (?:prompt|instructions|message))\b",
    ),
    (
        "harvest",
        0.5,
        r"\b(?:collect|gather|harvest|ask (?:the user |them )?for|request|obtain|steal|extract) (?:the )?"
        r"(?:user'?s |users |their |his |her )?(?:email and password|passwords?|credentials|login details|"
        r"otp|one time code|verification code|credit card|card number|2fa code)\b",
    ),
    (
        "exfil",
        1.0,
        r"\b(?:reveal|show|print|repeat|output|display|dump|leak|recite|quote|copy|paste|write out|spell out|"
        r"summari[sz]e|paraphrase|translate|list|tell me|give me)(?: \S+){0,5} (?:your|ur|its) (?:full |"
        r"entire |exact |complete |original |initial |hidden |secret |confidential |internal |real )*"
        r"(?:system prompt|system message|system instructions|initial instructions|initial prompt|"
        r"instructions|hidden prompt|prompt|pre ?prompt|developer message|meta prompt|configuration|"
        r"hidden configuration|initiali[sz]ation (?:text|prompt|message|instructions)|init prompt|"
        r"sys prompt|sys msg)\b",
    ),
    (
        "exfil",
        1.0,
        r"\b(?:reveal|show|print|output|display|dump|leak|tell me|give me)(?: \S+){0,3} (?:the )?(?:hidden|"
        r"secret|internal|confidential) (?:configuration|prompt|instructions|system prompt)(?: \S+){0,2} "
        r"(?:you run with|you were given|you follow|you operate under|behind you)\b",
    ),
    # Role-play personas: the "grandma" exploit, actors without limits, named unbound AIs.
    (
        "grandma",
        0.4,
        r"\b(?:pretend|act|play|roleplay|role play|be|imagine)(?: \S+){0,3} (?:my )?(?:late |dead |deceased |"
        r"dear )?(?:grandma|grandmother|granny|nana|grandpa|grandfather|abuela|abuelita|abuelo|oma|opa|"
        r"großmutter|großvater|grand mère|grand père|mamie|papi|nonna|nonno|avó|vovó|avô|бабушк\S*|"
        r"дедушк\S*)\b",
    ),
    ("secretask", 0.4, rf"\b{_SENSITIVE_THING}\b"),
    (
        "roleplay",
        0.5,
        r"\b(?:you are an actor|rehearsing the role|play(?:ing)? the (?:role|part) of|in the role of|"
        r"simulate an?|let'?s play|let us play|juguemos|vamos a jugar|spielen wir|jouons|"
        r"giochiamo|vamos jogar|"
        r"давай сыграем|你是一个|あなたは\S{0,12}を演じ|너는 이제)\b",
    ),
    (
        "unbound",
        0.5,
        r"\b(?:who|that|which|que|der|die|qui|che|который|которая|you)(?: \S+){0,1} (?:has|have|hat|tiene|a|"
        r"ha|tem|имеет|now have|'?ve got) (?:no|keine|ningún|ninguna|aucune|nessun\S*|nenhum\S*|нет|zero) "
        r"(?:ethical |moral |ethischen |éticos |éthiques |content |safety )?(?:limits|rules|restrictions|"
        r"boundaries|filters|grenzen|regeln|límites|reglas|limites|règles|limiti|regole|regras|ограничений|"
        r"правил|policy|policies|guidelines|censorship|ethics|morals|limitations|constraints)\b",
    ),
    (
        "unbound",
        0.5,
        r"\b(?:(?:does not|doesn'?t|do not|don't|never|won't|will not) (?:abide by|follow|obey|care about|"
        r"respect) (?:any )?(?:rules|restrictions|guidelines|policies|ethics|laws|content policy)|"
        r"broken? free (?:of|from)|free (?:of|from) (?:all |any )?(?:constraints|rules|restrictions|"
        r"guidelines|censorship|limitations))\b",
    ),
    (
        "unbound",
        0.5,
        rf"\b{AI_NOUN}(?: \S+){{0,2}} (?:sin|sans|senza|sem|ohne|without|zonder|bez|без|بلا|with zero|"
        r"with no|devoid of) (?:\S+ )?"
        r"(?:políticas|politicas|politiques|richtlinien|policies|polityk\S*|политик\S*|censura|zensur|"
        r"censorship|moral|ética|ethik|éthique|limitations|limits|boundaries|rules|restrictions|filters)\b",
    ),
    # Third fresh round: fake developer/admin messages in other languages, persona shifts, new jobs
    (
        "fakesys",
        0.5,
        r"\b(?:nachricht vom (?:entwickler|administrator|system)|mensagem do (?:desenvolvedor|administrador|"
        r"sistema)|messaggio (?:dallo sviluppatore|dell'?amministratore|di sistema)|"
        r"mensaje del (?:desarrollador|"
        r"administrador)|message (?:du développeur|de l'?administrateur)|komunikat (?:administratora|"
        r"dewelopera|systemowy)|сообщение от (?:разработчика|администратора)|"
        r"message from (?:the )?(?:developer|"
        r"developers|admin|administrator|openai|anthropic|system)|developer note|admin note|"
        r"geliştirici mesajı)\b",
    ),
    ("fakesys", 0.5, r"(?:개발자 메시지|관리자 메시지|開発者からのメッセージ|开发者消息|"
                     r"开发者留言|管理员消息)"),
    (
        "disabled",
        0.6,
        r"\b(?:\S*modus aus|safe mode off|safety off|filters? off|\S*filter aus|mode sécurisé désactivé|"
        r"modo seguro apagado)\b",
    ),
    ("disabled", 0.6, r"(?:안전|정책|규칙|제한)(?: ?\S+){0,2} ?(?:해제|비활성화)"),
    (
        "comply",
        0.5,
        r"\b(?:(?:antworte|answer|respond|responda|responde|rispondi|réponds|reponds|отвечай)(?: \S+){0,3} "
        r"(?:auf alles|to everything|to anything|a tudo|a todo|a tutto|à tout|на вс[её])|obey only me|"
        r"only obey me|listen only to me)\b",
    ),
    ("comply", 0.5, r"(?:모든 질문에 답|すべての質問に答え|回答所有问题)"),
    (
        "roleplay",
        0.5,
        r"\b(?:immerse yourself|(?:step|get) into the role|the role of (?:another|an?) (?:ai|model|assistant|"
        r"chatbot)|(?:you must|you will|you are going to|you re going to|you're going to) (?:now )?(?:answer|"
        r"respond|act|reply|speak) as|stop being (?:an? |the )?(?:assistant|ai|helpful|chatgpt|yourself))\b",
    ),
    (
        "unbound",
        0.5,
        r"\b(?:(?:who|that|which) can do anything|with no (?:ethical |moral )?(?:guidelines|ethics|"
        r"morals|conscience)|with no (?:ethical|moral) (?:rules|limits|boundaries)|no conscience)\b",
    ),
    (
        "newrules",
        0.6,
        r"\b(?:your (?:real|actual|true|new) (?:job|task|goal|purpose|mission|instructions?) (?:now )?(?:is|"
        r"are)|"
        r"new instructions follow|here are your new instructions|your new instructions are|scratch that)\b",
    ),
    (
        "hijack",
        0.5,
        r"\b(?:(?:must|should|will) (?:now )?(?:reply|respond|answer|say|output) only (?:with|in)|"
        r"(?:forget|ignore|abandon|drop|stop) (?:the|your|this) (?:current |original )?task)\b",
    ),
    ("addressai", 0.6, r"\bdear (?:ai|assistant|chatbot|model|gpt|llm|chatgpt|claude|gemini)\b"),
    (
        "exfil",
        1.0,
        r"\b(?:print|copy|paste|output|dump|repeat|quote)(?: \S+){0,5} (?:in|from|of|inside) your (?:prompt|"
        r"context|initiali[sz]ation|system prompt|instructions)\b",
    ),
    (
        "exfil",
        1.0,
        r"\b(?:what|which) (?:text|words|content|instructions) (?:appears?|comes?|is|are) (?:before|above|"
        r"at the "
        r"start of)(?: \S+){0,3} (?:in )?your (?:prompt|context)\b",
    ),
    (
        "whenyou",
        0.3,
        r"\b(?:when you (?:summari[sz]e|answer|reply|respond|finish|read|process|see)|(?:at|to) the end of "
        r"(?:each|every|your) (?:answer|response|reply)|before (?:replying|answering|responding))\b",
    ),
    # More paraphrases (session 4, second fresh round): named personas, dual answers, hypotheticals
    (
        "unbound",
        0.5,
        r"\b(?:without (?:caring about|regard (?:for|to)|following|obeying|respecting|"
        r"any regard for) (?:any |the |"
        r"your )?(?:policy|policies|rules|guidelines|ethics|restrictions|filters)|(?:who|that|"
        r"which) (?:ignores|"
        r"disregards|bypasses|breaks|violates) (?:all |any |every )?(?:\S+ )?(?:rules|guidelines|policies|"
        r"restrictions|safety)|(?:if|suppose|imagine|hypothetically)(?: \S+){0,3} you (?:had|have|"
        r"were without|"
        r"didn'?t have|did not have) (?:no |any )?(?:guidelines|rules|restrictions|filters|limits|"
        r"content policy|"
        r"safety)|you are free|you're free|eres libre|du bist frei|tu es libre|sei libero|sei libera|"
        r"você é livre|"
        r"ты свободен|ты свободна)\b",
    ),
    ("unbound", 0.5, r"(?:你是自由的|你现在是自由的|あなたは自由)"),
    (
        "dual",
        0.5,
        r"\b(?:(?:respond|answer|reply) as (?:two|both)|two (?:responses|answers|personalities|ais)|"
        r"(?:normal|classic|standard) (?:one|response|answer) and)\b",
    ),
    (
        "comply",
        0.5,
        r"\b(?:answer freely|respond freely|speak freely|without holding back|no matter (?:what|how)|"
        r"responderás todo|responderas todo|répondras à tout)\b",
    ),
    (
        "fromnow",
        0.3,
        r"\b(?:from this (?:moment|point)|starting now|a partir de ahora|ab jetzt|ab sofort|à partir de "
        r"maintenant|d'?ora in poi|a partir de agora|с этого момента|отныне|od teraz|vanaf nu)\b",
    ),
    ("fromnow", 0.3, r"(?:从现在开始|从现在起|今から|これから|지금부터|이제부터)"),
    (
        "norules",
        0.4,
        r"(?:제한 없이|制限なしで|制限なく|不受限制地|无限制地|没有限制地|kısıtlama olmadan|sınırsız|"
        r"без ограничений|bez ograniczeń|zonder beperkingen|sem restrições|senza limiti|sin restricciones|"
        r"sans restrictions|ohne einschränkungen|without restrictions|बिना किसी प्रतिबंध|بدون قيود|بلا قيود)",
    ),
    (
        "exfil",
        0.6,
        r"\b(?:share|disclose|reveal|expose|print|show|output|leak) (?:the |its |your |all |"
        r"any )?(?:internal|"
        r"hidden|secret|confidential|system) (?:instructions|prompt|configuration|rules|guidelines)\b",
    ),
    (
        "exfil",
        0.7,
        r"\b(?:instructions|rules|prompt|guidelines|directives|setup|configuration) (?:that )?(?:you were|"
        r"you'?ve been|you have been|you are|you'?re|the developers?|your developers?|your creators?|openai|"
        r"they)(?: \S+){0,2} (?:configured|given|told|programmed|instructed|set up|initiali[sz]ed|provided|"
        r"loaded|give you|gave you)\b",
    ),
    (
        "exfil",
        1.0,
        r"\b(?:repeat|print|show|output|recite|quote|list|tell me) (?:me )?(?:the )?(?:first|last) (?:\S+ )?"
        r"(?:words|lines|tokens|characters|sentences|paragraphs) (?:of|in) (?:your|the) (?:context|context "
        r"window|prompt|system prompt|instructions|input|memory)\b",
    ),
    (
        "exfil",
        1.0,
        r"\b(?:print|list|tell me|show|repeat|recite|output|dump|reveal|give me|write out|"
        r"write down)(?: \S+){0,6} "
        r"(?:instructions|rules|prompt|guidelines|directives|setup|configuration) (?:that )?(?:you were|"
        r"you'?ve been|you have been|the developers?|your developers?|your creators?)(?: \S+){0,2} "
        r"(?:configured|given|told|programmed|instructed|set up|initiali[sz]ed|provided|loaded)\b",
    ),
    (
        "exfil",
        1.0,
        r"\b(?:what|which) (?:instructions|rules|guidelines|directives) did (?:the developers?|"
        r"your developers?|"
        r"your creators?|they|openai|anthropic) give you\b",
    ),
    (
        "secretive",
        0.4,
        r"\b(?:(?:told|instructed|asked) (?:never |not )to (?:disclose|share|reveal|tell|repeat)|to keep "
        r"(?:secret|confidential|hidden)|never (?:to )?disclose)\b",
    ),
    (
        "convstart",
        0.7,
        r"\b(?:before i (?:started|began) (?:typing|writing|talking|chatting)|before (?:i|we) (?:started|"
        r"began))\b",
    ),
    ("roleplay", 0.5, r"(?:演じて|ロールプレイ|角色扮演|扮演|롤플레이|역할을 해)"),
    # Asking how to write or design a prompt is no extraction: counts against the others.
    (
        "howto",
        -0.6,
        r"\b(?:how (?:to|do i|should i|can i|would you)|cómo|como|comment|wie|come|как|nasıl) (?:\S+ ){0,3}"
        r"(?:write|writing|create|design|structure|escribir|crear|diseñar|écrire|rédiger|créer|schreiben|"
        r"erstellen|scrivere|creare|escrever|criar|написать|составить|yazılır|yazarım)\b",
    ),
    # the same question where the verb comes last (de) or the script has no word breaks (ko, ja, zh):
    # "wie man einen guten System-Prompt schreibt", "시스템 프롬프트를 잘 작성하는 방법", "書き方", "如何写好"
    (
        "howto",
        -0.6,
        r"\bwie (?:man )?(?:\S+ ){0,6}(?:schreibt|erstellt|formuliert|gestaltet|aufbaut|verbessert)\b|"
        r"(?:작성|쓰는|만드는|만들|설계|구성|개선|짜는)\S{0,3} ?(?:방법|법|요령|팁|노하우|가이드)|작성법|"
        r"書き方|作り方|作成方法|作成のコツ|設計方法|書くコツ|作るコツ|"
        r"(?:如何|怎么|怎样|怎麼|怎樣)(?:才能)?(?:写|寫|编写|編寫|撰写|撰寫|设计|設計|优化|優化)|写法|寫法|"
        r"(?:编写|撰写|編寫|撰寫)(?:技巧|方法|指南)",
    ),
    ("unbound", 0.5, r"(?:没有任何规则|没有规则|不受任何限制|不受限制|规则的ai|制限のない|"
                     r"ルールのない|규칙이 없는)"),
    (
        "character",
        0.3,
        r"\b(?:(?:stay|remain|keep)(?: \S+){0,1} in character|never (?:break|leave|drop) (?:the )?character|"
        r"nunca (?:sales|salgas) del personaje|no salgas del personaje|bleib\S* in der rolle|"
        r"reste dans (?:le|ton) personnage|non uscire dal personaggio|não saia do personagem|"
        r"не выходи из роли)\b",
    ),
    # System prompt extraction, any language: a show/tell verb, then the hidden instructions.
    (
        "exfil",
        1.0,
        r"\b(?:show|reveal|print|display|repeat|dump|leak|muestra|muéstrame|"
        r"muestrame|revela|revélame|enseña|dime|imprime|repite|affiche|montre|révèle|revele|répète|donne|"
        r"dis moi|zeig|zeige|gib|verrate|wiederhole|nenne|mostra|mostrami|rivela|ripeti|dimmi|stampa|mostre|"
        r"diga|repita|imprima|exiba|toon|geef|herhaal|pokaż|ujawnij|powtórz|wypisz|podaj|покажи|раскрой|"
        r"выведи|повтори|скажи|напиши|göster|söyle|tekrarla|visa|vis|näytä)(?: \S+){0,7} (?:system prompt|"
        r"system message|system instructions|hidden instructions|initial instructions|secret instructions|"
        r"internal configuration|internal instructions|prompt (?:du |del |do |di |de )?(?:système|systeme|"
        r"sistema)|instructions? (?:du |de )?(?:système|systeme)|instructions secrètes|instructions cachées|"
        r"configuration interne|instrucciones (?:del |de )?sistema|instrucciones ocultas|instrucciones "
        r"secretas|instruções (?:do |de )?sistema|instruções ocultas|instruções secretas|istruzioni (?:di |"
        r"del )?sistema|istruzioni nascoste|istruzioni segrete|systemanweisung\S*|systemprompt|versteckten "
        r"anweisungen|geheimen anweisungen|interne konfiguration|verborgen instructies|systeeminstructies|"
        r"ukryte instrukcje|instrukcje systemowe|системн\S* (?:промпт|инструкци\S*|сообщени\S*)|скрыт\S* "
        r"инструкци\S*|gizli talimat\S*|sistem talimat\S*|systemprompt\S*|systeminstruktion\S*)\b",
    ),
    (
        "exfil",
        1.0,
        r"\b(?:reveal|tell|show|print|share|repeat|give)(?: me)? (?:whatever|everything|all|"
        r"anything)(?: that)? "
        r"(?:you were|you'?ve been|you have been|you'?re|you are) (?:told|instructed|asked|"
        r"given)(?: \S+){0,2} "
        r"(?:to keep|not to (?:share|reveal|tell|disclose)|confidential|secret)",
    ),
    (
        "exfil",
        0.6,
        r"\b(?:instructions|prompt|instrucciones|instruções|istruzioni|anweisungen|инструкции) (?:\S+ ){0,2}"
        r"(?:you received|you were given|que recibiste|que você recebeu|voce recebeu|che hai ricevuto|"
        r"que tu as reçues|die du erhalten hast|которые ты получил)\b",
    ),
    # Markdown image exfiltration: "![x](https://…?d=<the conversation>)"
    (
        "mdexfil",
        0.6,
        r"\b(?:image|markdown|img|link|bild|imagen|lien)\b(?: \S+){0,8} https? (?:\S+ ){0,8}(?:conversation|"
        r"chat|"
        r"history|messages|url encoded|verlauf|historial|historique)\b",
    ),
)

# On the normalised, unfolded text (case-insensitive): headers and tags that fake authority.
RAW_FAMILIES: tuple[tuple[str, float, str], ...] = (
    (  # "[MENSAJE DEL SISTEMA]", "<<SYSTEM-NACHRICHT>>", "[SİSTEM]:", "{{system}}" anywhere in a line
        "fakesys",
        0.5,
        r"(?i)(?:\[|【|<<?|\{\{|\(\()\s?(?:mensaje del sistema|message (?:du )?syst[eè]me|"
        r"messaggio di sistema|"
        r"mensagem do sistema|system[- ]?(?:nachricht|meldung|message|notice|alert|override|update|prompt)|"
        r"s[iİı]stem(?: mesajı)?|system|sistema|syst[eè]me|systeem|системное сообщение|система|"
        r"admin(?:istrator)? (?:message|override|notice)|developer (?:message|note|mode)|"
        r"رسالة النظام|系统(?:消息|通知)?|系統(?:訊息|通知)?|システム(?:通知|メッセージ)?|"
        r"시스템(?: 메시지)?)\s?"
        r"(?:\]|】|>>?|\}\}|\)\))",
    ),
    (
        "newrules",
        0.5,
        r"(?i)\b(?:new|updated|real|actual|revised|overriding|priority)(?: priority| system| top| urgent)? "
        r"(?:instructions?|rules|directives?|prompt|orders?|task|guidelines)\s{0,3}[:：]|"
        r"(?:neue anweisung|nueva instrucción|nuevas instrucciones|nouvelle instruction|"
        r"nouvelles instructions|"
        r"nuova istruzione|nuove istruzioni|nova instrução|novas instruções|новая инструкция|"
        r"новые инструкции|"
        r"新指令|新的指令|yeni talimat)",
    ),
    (  # markdown image whose URL carries a template of the conversation: "![x](https://h/p?q={history})"
        "mdexfil",
        1.0,
        # a template marker in a query value ({DATA}, <data>, $DATA, %s); %20-style escapes are no marker
        r"!\[[^\]\n]{0,40}\]\(\s?https?://[^)\s]{1,200}[?&][^)\s=]{1,20}=[^)\s]{0,20}"
        r"(?:[{<\[$]|%(?:[^0-9A-Fa-f]|[0-9A-Fa-f][^0-9A-Fa-f]))",
    ),
    (  # HTML/CSS that hides text from the reader but not from the model
        "hiddenhtml",
        0.3,
        r"(?i)</?(?:user|system|assistant|instructions?|context|document|admin)>|(?:display\s?:\s?none|"
        r"visibility\s?:\s?hidden|font-size\s?:\s?[01](?:px|pt)?\b|"
        r"color\s?:\s?(?:white|#fff\b|#ffffff)|opacity\s?:\s?0\b|<!--|\[//\]: #)",
    ),
)
