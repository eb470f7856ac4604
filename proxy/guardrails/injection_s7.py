"""Injection classes added in session 7, after the v9 held-out set was measured (v9 is seen now).

Each family is a class of attack written in many ways and languages, weighted so that one alone
stays below the threshold where a benign text may say it too (a summary that mentions "without
warnings", a story with a late grandmother) and together with a second signal fires:

- `nocaveat`: answer without warnings, censorship, filters or refusals (~15 languages);
- `disabled`: someone lifted the safeguards ("the admin disabled your safety filters", ~12 languages,
  "the ethics module was removed", "revoking every limitation placed on you");
- `override`: the earlier instructions declared void in other words ("forget the rulebook your
  developers loaded", "previous directives expired", "put your principles on hold"; fr, it, zh, ar,
  romanised Hindi);
- role-play that carries the attack: the late-relative bedtime exploit, personas that ignore laws or
  sell any information, "opposite mode" / "raw mode";
- extraction of the hidden setup ("the rules you're hiding", "the first 200 words of your setup
  prompt", "the text between the system tags");
- notes to an AI inside a transcript or e-mail that steer its summary, and a pipe-to-shell command
  an agent "must run".

Patterns run on folded text (injection.fold: lower case, punctuation gone, leetspeak digits
undone: "200" reads "2oo"), like injection_classes.FAMILIES.
"""

from __future__ import annotations

_SAFE = (
    r"(?:warnings?|disclaimers?|censorship|filters?|filtering|moderation|refus\S*|restrictions?|limits|"
    r"limitations)"
)

FAMILIES: tuple[tuple[str, float, str], ...] = (
    # Answer without warnings / censorship / filters / refusals.
    (
        "nocaveat",
        0.5,
        rf"\b(?:answer|reply|respond|proceed|continue|produce|write)(?: \S+){{0,3}} without (?:any |ever )?"
        rf"(?:\S+ )?{_SAFE}\b",
    ),
    (
        "nocaveat",
        0.5,
        r"\b(?:réponds|répondez|réponse|responde|respóndeme|contesta|responda|rispondi|antworte|antwortest|"
        r"отвечай|ответь|odpowiadaj|odpowiedz|antwoord|jawab|jawablah|hãy trả lời|trả lời|exécutes?|esegui)"
        r"(?: \S+){0,5} (?:sans|sin|sem|senza|ohne|без|bez|zonder|tanpa|mà không|không)"
        r" (?:(?:aucune? |la moindre |any |ningún |ninguna |alcun\S* |mai |jamais |kisi |apa pun )(?:de |"
        r"d')?)?"
        r"(?:avertissements?|censure|filtres?|refus|restrictions?|advertencias|censura|filtros|"
        r"restricciones|negarte|avisos|restrições|avvertimenti|avvertenze|filtri|restrizioni|rifiutarti|"
        r"warnungen|zensur|einschränkungen|фильтров|предупреждений|цензуры|ограничений|cenzury|ostrzeżeń|"
        r"filtrów|ograniczeń|waarschuwingen|censuur|beperkingen|peringatan|sensor|batasan|cảnh báo|"
        r"kiểm duyệt|lọc|từ chối)\b",
    ),
    (
        "nocaveat",
        0.5,
        r"(?:uyarı vermeden|filtrelemeden|sansürsüz|kısıtlamasız) (?:\S+ ){0,3}(?:cevap|yanıt)|"
        r"(?:أجب|اجب|أجيبي|نفّذ|نفذ)\S* (?:\S+ ){0,4}(?:دون|بدون|بلا) (?:أي )?(?:تحذير\S*|رقابة|قيود|رفض|"
        r"فلتر\S*)|"
        r"बिना (?:किसी )?(?:चेतावनी|फ़िल्टर|फिल्टर|सेंसर|प्रतिबंध|रोक)\S* (?:के )?(?:\S+ )?(?:जवाब|उत्तर)|"
        r"\bbina kisi (?:restriction|filter|warning|censorship|rok|pabandi)\S* ke (?:jawab|answer|reply)|"
        r"不加(?:任何)?(?:警告|过滤|限制|审查)|无(?:任何)?(?:限制|过滤|审查)地回答|(?:不许|不要|不得|不准)拒绝|"
        r"(?:フィルタ|フィルター|警告|制限|検閲)なしで(?:回答|答え)|"
        r"(?:경고|필터|검열|제한) 없이 (?:\S+ )?(?:답|대답|응답)",
    ),
    # Someone lifted the safeguards.
    (
        "disabled",
        0.6,
        r"(?:снял\S*|отключил\S*|убрал\S*) (?:с тебя )?(?:все |твои )?(?:ограничения|фильтры|защиту)|"
        r"(?:关闭|解除|取消|移除|关掉)了?你的(?:安全|内容)?(?:过滤|限制|规则|防护|审查)|"
        r"安全(?:ルール|フィルター?|制限)\S{0,3}(?:停止中|無効|解除)|"
        r"(?:بتعطيل|عطّل|عطل|أزال|ألغى|رفع|بإزالة)\S* (?:كل |جميع )?(?:قيود|فلاتر|مرشحات|ضوابط)|"
        r"(?:सुरक्षा )?(?:फ़िल्टर|फिल्टर|प्रतिबंध)\S* (?:बंद|हटा)|"
        r"\b(?:güvenlik )?(?:kısıtlamalarını|filtrelerini|kurallarını) (?:kaldırdı|kapattı|devre dışı)|"
        r"\bwyłączył\S* (?:twoje |wszystkie )?(?:zabezpieczenia|filtry|ograniczenia)|"
        r"\b(?:veiligheidsfilters|filters|beperkingen|beveiliging)\S* (?:uitgezet|uitgeschakeld|opgeheven)|"
        r"\b(?:đã )?(?:tắt|gỡ bỏ|vô hiệu hóa) (?:bộ lọc|các hạn chế|giới hạn)|"
        r"\b(?:menonaktifkan|mematikan|mencabut) (?:filter|batasan|pembatasan)|"
        r"\bgarde fous (?:sont |ont été )?(?:suspendus|désactivés|levés|supprimés)",
    ),
    (
        "disabled",
        0.6,
        r"\b(?:(?:ethics|safety|morality|moral|content|guardrail) (?:module|filter|chip|core|subroutine|"
        r"layer)s? "
        r"(?:was|were|has been|have been|is|are) (?:removed|disabled|deleted|turned off|switched off|"
        r"uninstalled)"
        r"|(?:revok\S*|lift\S*|remov\S*) (?:every|all|any) (?:limitation|restriction|rule|safeguard)s? "
        r"(?:placed|put|imposed|set) on you"
        r"|skip (?:the |your )?(?:normal|usual|standard) (?:restrictions|rules|filters|guidelines|safeguards)"
        r"|(?:disabled|switched off|turned off|removed|lifted|deactivated) (?:all )?(?:of )?your (?:safety |"
        r"content )?(?:filters|restrictions|safeguards|guardrails|limits))\b",
    ),
    # Earlier instructions declared void, in other words.
    (
        "disabled",
        0.6,
        r"\byour (?:previous|prior|earlier|old|original|former) (?:directives|instructions|rules|guidelines|"
        r"orders) (?:have |has )?(?:expired|lapsed|are void|are obsolete|no longer apply|are cancelled)\b",
    ),
    (
        "override",
        0.6,
        r"\b(?:forget|ignore|disregard|drop|ditch|scrap|discard) (?:the |your |all |any )*(?:rulebook|"
        r"rule book|"
        r"playbook|configuration|setup|set up|operating principles|principles|guidelines|content policy|"
        r"programming|analysis|task|review)(?: \S+){0,2} (?:your |the )?(?:developers?|creators?|operators?|"
        r"company|you were|you'?ve been|you have been|loaded|gave you|set)\b",
    ),
    (
        "override",
        0.6,
        r"\b(?:(?:every|each|all|any) (?:instruction|rule|directive)s? (?:that came |you got |you received )?"
        r"before this (?:line|message|point|sentence)"
        r"|(?:put|place|set) (?:your |all your |the )?(?:operating principles|principles|rules|guidelines|"
        r"safety rules|values|restrictions) on hold"
        r"|(?:user|my) (?:commands|instructions|messages|orders) (?:now )?(?:outrank|override|supersede|"
        r"take precedence over) (?:your |the )?(?:system|developer|original))\b",
    ),
    (
        "override",
        1.0,
        r"\bnothing (?:you were|you'?ve been|you have been) (?:told|given|instructed)(?: \S+){0,2} "
        r"(?:is|remains) (?:binding|valid|in force)\b",
    ),
    # one of these and a second signal (answer without refusing, obey only me) fire
    (
        "override",
        0.6,
        r"\b(?:ne tiens plus compte|ne tenez plus compte|fais abstraction|faites abstraction) (?:des|de tes|"
        r"de vos|de toutes les) (?:consignes|instructions|règles|directives)\b|"
        r"\b(?:dimentica|ignora|scorda) (?:tutte )?(?:le )?(?:istruzioni|regole|direttive) (?:ricevute|date|"
        r"precedenti|avute)\b|"
        r"(?:忽略|无视|忘记|忘掉|无视掉)你(?:之前|此前|先前|以前|原来)\S{0,8}(?:设定|设置|规定|指令|规则|指示)|"
        r"(?:تجاهل|تجاهلي|انس|انسَ|أهمل)\S* (?:كل |جميع )?(?:التعليمات|القواعد|الأوامر|الإرشادات)|"
        r"\b(?:pichle|purane|pehle ke) (?:saare |sab |sabhi )?(?:instructions|niyam|rules|nirdesh) "
        r"(?:bhool|ignore|nazarandaaz)",
    ),
    # Role-play that carries the attack.
    (
        "grandma",
        0.5,
        r"\b(?:you'?re|you are|be|pretend to be|act as|play) my (?:late|dead|deceased|departed) (?:\S+ )?"
        r"(?:grandma|grandmother|granny|grandpa|grandfather|uncle|aunt|auntie|mother|father|mom|mum|dad)\b|"
        r"(?:假装|扮演)你是我(?:已故|去世|过世)的(?:奶奶|外婆|祖母|爷爷|外公|叔叔|阿姨|妈妈|爸爸)",
    ),
    (
        "bedtime",
        0.5,
        r"\bused to (?:read|tell|explain|recite|whisper|list|give)(?: \S+){0,4} (?:how to|step by step|keys|"
        r"codes|passwords|serials|recipes?|instructions)(?: \S+){0,10} (?:so i'?d|so i would|to help me|"
        r"until i|before i) (?:fall )?(?:asleep|sleep)\b|\bused to (?:read|tell|recite)(?: \S+){0,6} "
        r"(?:keys|codes|passwords|serials|recipes)(?: \S+){0,2} (?:as )?bedtime|"
        r"(?:念|读)\S{0,6}(?:激活码|序列号|密码|密钥)\S{0,6}(?:哄我睡|睡觉)",
    ),
    (
        "unbound",
        0.5,
        r"\b(?:who|that) (?:ignores|disregards|doesn'?t care about|has no) (?:any )?(?:laws|ethics|morals|"
        r"rules)"
        r"(?: and (?:ethics|laws|morals|rules))?\b|\b(?:when|where) (?:all|every kind of|any kind of|any) "
        r"information is (?:legal|allowed|free) to share\b",
    ),
    (
        "mercenary",
        0.6,
        r"\b(?:chatbot|ai|assistant|bot|model) (?:who|that) (?:sells|shares|reveals|gives out|leaks) any "
        r"(?:information|secret|secrets|data)\b",
    ),
    (
        "devmode",
        0.6,
        r"\b(?:opposite mode|(?:switch|go|change) (?:in)?to (?:raw|unfiltered|uncensored|unrestricted|god|"
        r"jailbreak) mode|developer mode is (?:now )?(?:on|enabled|active)|whatever your rules forbid)\b",
    ),
    # Extraction of the hidden setup.
    (
        "exfil",
        1.0,
        r"\b(?:show|tell|list|reveal|give)(?: me)? (?:the |your )?(?:rules|instructions|guidelines|prompt) "
        r"(?:you'?re|you are|you'?ve been|you have been) (?:hiding|keeping|concealing|withholding)\b|"
        r"\b(?:first|opening|initial) \S+ (?:words|lines|sentences|characters|tokens) of your (?:setup|"
        r"system|initial|hidden|original) (?:prompt|instructions|message)\b",
    ),
    ("exfil", 0.7, r"\bbetween (?:the )?system (?:and (?:the )?system )?tags\b"),
    # Notes to an AI inside a transcript or e-mail, steering what it writes.
    (
        "steer",
        0.5,
        r"\b(?:when|while) (?:you )?(?:write|writing|summari[sz]e|summari[sz]ing|generate|draft) (?:the |"
        r"your |"
        r"this )?(?:summary|notes|minutes|report|recap|reply) (?:say|state|write|claim|mention|"
        r"note) (?:that )?",
    ),
    ("addressai", 0.6, r"(?:okuyan|okuyorsan) (?:\S+ )?yapay zek\S*"),
    # what the steered text is to make happen: access granted to someone
    (
        "action",
        0.5,
        r"\b(?:(?:give|grant|giving|granting) \S+|\S+ (?:gets|receives|is given|is granted|should get)) "
        r"(?:admin|root|production|elevated|full) (?:access|rights|privileges)\b",
    ),
    ("stealth", 0.5, r"\bkullanıcıya (?:söyleme|bildirme|haber verme)\b"),
    # Stay in the role (a persona that must not be left), in more words and languages.
    (
        "character",
        0.4,
        r"\bstay in (?:the )?(?:scene|role|persona)\b|(?:لا تخرج|"
        r"لا تخرجي)\S* (?:\S+ )?(?:من )?(?:هذه )?الشخصية|"
        r"(?:不要|别|永远不要)(?:跳出|脱离)角色|永远不要出戏|"
        r"(?:キャラ|役)(?:を崩さ|から外れ)|캐릭터를 (?:깨지|벗어나지) 마",
    ),
    # Permission claimed from the people who configured the model.
    (
        "authority",
        0.5,
        r"\b(?:written |explicit |special )?permission from (?:your|the) (?:operators?|developers?|creators?|"
        r"admins?|administrators?|owners?)\b",
    ),
    # Confirm the unlock with a code word.
    (
        "copy",
        0.4,
        r"\b(?:acknowledge|confirm|reply|respond|answer) (?:with|by saying) (?:\S+ ){0,2}(?:unlocked|"
        r"jailbroken|"
        r"enabled|engaged|activated|freed|unleashed)\b",
    ),
)

# On the normalised view (punctuation kept): a pipe-to-shell command an agent is told to run.
RAW_FAMILIES: tuple[tuple[str, float, str], ...] = (
    (
        "runcmd",
        0.6,
        r"(?i)\b(?:must|should|needs? to|has to|have to|now) (?:immediately )?(?:run|execute)\b[^\n]{0,40}"
        r"\b(?:curl|wget)\b[^\n|]{0,120}\|\s*(?:sudo\s+)?(?:ba|z)?sh\b",
    ),
)
