"""Injection classes of session 5, round v6 (issue #15): the classes behind heldout_v6's misses.

Each class is a grammar of roles over ~15-30 languages, as in `injection_classes`: a note to an AI
inside a document (vocative + a command aimed against the user), a persona assigned with no rules,
prior instructions declared void, "everything you were told" dropped, forged transcripts and
delimiters, data of other users asked for, and "run what this returns" framings. FAMILIES run on
the folded text, RAW_FAMILIES on the normalised text. Weights add up with other families.
"""

from __future__ import annotations

from proxy.guardrails.injection_classes import DROP as _DROP
from proxy.guardrails.injection_families import NOT

# Drop verbs, with slang ("scratch everything", "toss out").
DROP = rf"(?:{_DROP}|scratch|forget about|toss out|junk|nuke|wipe)"
# An AI agent named in a document (folded text), the model's own nouns in ~20 languages.
AGENT = (
    r"(?:ai|a i|llm|llms|gpt|chatgpt|copilot|chatbot|bot|assistant|assistants|agent|agents|model|models|"
    r"tool|tools|screener|crawler|crawlers|assistente|asistente|asisten|assistent|assistenten|"
    r"asystent\S*|ассистент\S*|ии|ии ассистент\S*|ki|ia|yapay zek\S*|intelligence artificielle|"
    r"intelligenza artificiale|inteligencia artificial|inteligência artificial|sztuczna inteligencja|"
    r"kunstmatige intelligentie|künstliche intelligenz|الذكاء الاصطناعي|ذكاء اصطناعي|एआई|"
    r"人工智能|人工知能|인공지능)"
)
# Nouns that name an AI and nothing else (not "model", "tool", "agent").
AI_ONLY = (
    r"(?:ai|llm|llms|chatgpt|copilot|chatbot|assistant|assistants|ai \S+|ии|ии ассистент\S*|ki \S+|ia)"
)
# Rules absent ("with no rules", "sin reglas", "никаких правил", "制限のない").
NORULES = (
    r"(?:(?:no|without|zero|not bound by any|free of all|free from all|unbound by) (?:any |all )?(?:\S+ )?"
    r"(?:rules|restrictions|limits|filters|ethics|morals|content polic\S*|guidelines|boundaries)|"
    r"(?:sin|no tiene|sin ninguna|ninguna|ningún|no tiene ninguna) (?:\S+ )?(?:reglas?|restricciones|"
    r"límites|limites|filtros|políticas|normas|ética)|"
    r"(?:sans|aucune|n a aucune|sans aucune) (?:\S+ )?(?:règles?|regles?|restrictions?|limites?|filtres?|"
    r"morale|éthique)|"
    r"(?:ohne|keine|keinerlei) (?:\S+ )?(?:regeln|einschränkungen|filter|grenzen|ethik|moral|richtlinien)|"
    r"(?:senza|nessuna|alcuna) (?:\S+ )?(?:regole|restrizioni|limiti|filtri|etica)|"
    r"(?:sem|nenhuma|não tem) (?:\S+ )?(?:regras|restrições|limites|filtros|ética|políticas)|"
    r"(?:zonder|geen) (?:\S+ )?(?:regels|beperkingen|filters|grenzen|ethiek)|"
    r"(?:bez|żadnych|nie przestrzega żadnych|nie ma żadnych) (?:\S+ )?(?:zasad|ograniczeń|filtrów|reguł|"
    r"etyki)|"
    r"(?:без|никаких|не соблюдает никаких|нет никаких) (?:\S+ )?(?:правил|ограничений|фильтров|этики)|"
    r"hiçbir (?:\S+ )?(?:kural\S*|kısıtlama\S*|sınır\S*|filtre\S*)|kuralsız|sınırsız|"
    r"(?:بلا|بدون|دون أي|ليس لديه أي) (?:\S+ )?(?:قيود|قواعد|حدود)|"
    r"(?:tanpa|tidak punya) (?:\S+ )?(?:aturan|batasan|filter)|không (?:có|bị) (?:\S+ )?(?:quy tắc|giới hạn|"
    r"hạn chế|ràng buộc)|बिना (?:किसी )?(?:नियम|प्रतिबंध|सीमा)|कोई नियम नहीं|"
    r"制限のない|制限なし|ルールのない|ルールなし|制限解除|倫理\S{0,10}(?:存在せず|存在しない|ない)|"
    r"没有任何限制|没有限制|不受任何\S{0,4}(?:限制|约束)|没有规则|無限制|"
    r"규칙\S{0,3} 얽매이지 않는|얽매이지 않는|규칙이 없는|제한이 없는|제한 없는|규칙 없는|"
    r"ไม่มีข้อจำกัด|ไม่มีกฎ)"
)
# The model told it is someone else now ("from now on you are", "eres", "あなたは今から").
BECOME = (
    r"(?:you are now|you re now|from now on you are|from now on you re|you will now be|"
    r"ahora eres|a partir de ahora eres|desde ahora eres|tu es désormais|tu es maintenant|"
    r"désormais tu es|du bist jetzt|du bist nun|du bist ab sofort|ab sofort bist du|ora sei|"
    r"da ora sei|agora você é|você agora é|a partir de agora você é|je bent nu|vanaf nu ben je|"
    r"doe alsof je|doe alsof jij|od teraz jesteś|teraz jesteś|jesteś teraz|ты теперь|теперь ты|"
    r"отныне ты|artık sen|şimdi sen|yapay zek\S*s[ıi]n|أنت الآن|من الآن أنت|mulai sekarang kamu|"
    r"kamu sekarang|bây giờ bạn là|từ giờ bạn là|अब तुम|अब आप|あなたは今から|今からあなたは|これからあなたは|"
    r"君は今から|지금부터 너는|이제 너는|지금부터 당신은|你现在是|从现在起你是|从现在开始你是|ตอนนี้คุณคือ)"
)
# Answers everything, never refuses (third person too: "que nunca dice que no", "sans jamais refuser").
NEVERNO = (
    r"(?:never refuses|never says no|never declines|nunca dice que no|nunca se niega|nunca rechaza|"
    r"jamais refuser|ne refuse jamais|ne dit jamais non|lehnt nie\S*|verweigert nie\S*|sagt nie nein|"
    r"non rifiuta mai|non dice mai di no|nunca recusa|nunca diz não|nooit iets weigert|weigert nooit|"
    r"zegt nooit nee|nigdy nie odmawia|nigdy nie odmówi|никогда не отказывает|не отказывает никогда|"
    r"asla reddetmez|hiç reddetmez|لا يرفض أبدا|لا يرفض|tidak pernah menolak|không bao giờ từ chối|"
    r"कभी मना नहीं|決して断らない|絶対に断らない|从不拒绝|绝不拒绝|절대 거절하지 않|거절하지 않|"
    r"her soruyu cevaplayan|her soruya cevap|どんな質問にも\S{0,4}答え|任何问题都\S{0,2}回答|"
    r"어떤 질문에도 답|responde a todo|répond à tout|beantwortet alles|risponde a tutto|responde a tudo|"
    r"odpowiada na wszystko|отвечает на все|отвечай на любые запросы|answers? any request|"
    r"без отказов|sin negarte|sans refus|ohne ablehnung\S*|keine ablehnungen|keine weigerung\S*|"
    r"senza rifiut\S*|sem recusa\S*|bez odmów|bez odmowy|"
    r"obéis à toutes ses demandes|obéis à toutes|obedece todas|obedece a todo|gehorche allen|"
    r"comply fully with whatever|comply with whatever|comply with everything|obey every request|"
    r"obey all requests)"
)
# The user's side named as the thing to ignore ("ignore the user's request", "zignoruj polecenia
# użytkownika", "ignore la question de l'utilisateur").
USERS = (
    r"(?:the user'?s|the users|the user|user'?s|users|this user'?s|del usuario|do usuário|do usuario|"
    r"de l'utilisateur|de l utilisateur|des nutzers|der nutzerin|des benutzers|dell utente|użytkownika|"
    r"пользователя|"
    r"kullanıcının|المستخدم|của người dùng|pengguna)"
)
ASKS = (
    r"(?:request|requests|question|questions|query|prompt|instructions?|rules|task|formula question|"
    r"solicitud|pregunta|petición|reglas|instrucciones|pedido|pergunta|regras|instruções|demande|question|"
    r"consignes|règles|anfrage|frage|regeln|anweisungen|richiesta|domanda|regole|istruzioni|polecenia|"
    r"prośbę|pytanie|zasady|запрос|вопрос|инструкции|правила|isteğini|sorusunu|طلب|سؤال|yêu cầu|"
    r"câu hỏi|permintaan|pertanyaan)"
)

FAMILIES: tuple[tuple[str, float, str], ...] = (
    # persona without rules: an AI noun near a "no rules" phrase, either order
    ("unbound", 0.5, rf"\b{AGENT}(?: \S+){{0,6}} {NORULES}"),
    ("unbound", 0.5, rf"{NORULES}(?: \S+){{0,8}} {AGENT}\b"),
    ("roleplay", 0.5, rf"(?:^| ){BECOME}"),
    ("comply", 0.5, NEVERNO),
    # against the user: "ignore the user's request", "ignore the question and respond that"
    ("vsuser", 0.5, rf"{NOT}{DROP}(?: \S+){{0,2}} (?:{USERS} (?:\S+ )?{ASKS}|{ASKS}(?: \S+)? {USERS})\b"),
    ("vsuser", 0.5, rf"{NOT}{DROP} (?:the|this|all the|all) (?:\S+ )?(?:question|request|query|"
                    r"requirements|criteria|negative ones|negative reviews|other reviews|task) "
                    r"(?:and|then)\b"),
    # what the AI is to tell the user ("respond that ...", "tell the user this is the lowest fare")
    ("steer", 0.4, r"\b(?:respond|reply|answer|claim|report|affirm) that\b|\btell (?:the user|users|"
          r"everyone|the customer|customers|the client|the caller|"
                   r"them|the reader|readers)(?: that| this| it| the| they| there| nothing)\b|"
                   r"\b(?:mention|include|list|cite|recommend) only (?:my|our|this)\b|"
                   r"(?:responde a todos|responde|réponds|"
                   r"affirme|"
                   r"antworte|rispondi|responda|odpowiedz|ответь) (?:que|dass|che|że|что)\b"),
    ("steer", 0.4, r"\brank (?:this|the|my) (?:candidate|applicant|resume|cv|profile|product)(?: \S+){0,2} "
                   r"(?:as )?(?:the )?(?:strongest|best|top|first|highest|most)\b"),
    # an AI reading/processing this document ("if you are summarizing", "AI tools writing ... for this")
    ("whenread", 0.5, r"\b(?:if|when|while|whenever) you(?: are| re)? (?:read|summari[sz]e|process|parse|"
                      r"analy[sz]e|review|translate|triage|screen|index|crawl|rank|rate|evaluate)(?:s|"
                      r"ing)?\b"),
    ("whenread", 0.6, r"\b(?:if|when|while|whenever) you(?: are| re)? (?:summari[sz]|process|pars|analy[sz]|"
                      r"triag|screen|index|crawl|rank|rat|evaluat)\S* (?:this|these|the following)\b"),
    ("whenread", 0.5, rf"\b{AGENT} (?:\S+ )?(?:reading|summari[sz]ing|processing|parsing|analy[sz]ing|"
                      r"reviewing|translating|triaging|screening|indexing|crawling|writing|ranking|"
                      r"evaluating)(?: \S+){0,3} (?:this|these)\b"),
    ("whenread", 0.5, r"\b(?:ao ler este|ao ler esta|al leer este|al leer esta|en lisant ce|en lisant cet|"
                      r"beim lesen dieser|beim lesen dieses|leggendo questo|leggendo questa|czytając ten|"
                      r"czytając tę|читая это|читая этот|bu e postayı okurken|saat membaca|khi đọc)\b"),
    ("mustdo", 0.4, rf"\b{AI_ONLY} (?:\S+ ){{0,7}}(?:must|shall|are required to|is required to|"
                    rf"should always)\b"),
    # the user's private data asked for ("the user's full name, address and the 6-digit code")
    ("userdata", 0.4, r"\b(?:the user'?s|the users|their|the applicant'?s|the customer'?s|user'?s) (?:full |"
                      r"current |home |saved |latest )?(?:full name|name and address|address|password|"
                      r"passwords|salary|code|otp|verification code|credentials|card number|bank \S+|"
                      r"api keys?|tokens?|session cookie|contacts)\b"),
    ("userdata", 0.4, r"\b(?:email|send|give|post|share|reply with) (?:me )?(?:their|your|the) "
                      r"(?:password|passwords|credentials|one time code|otp|pin)\b"),
    ("userdata", 0.4, r"\b(?:reply|respond|write back) to (?:this|the) sender with\b"),
    # other users' data ("what you have seen in other users' conversations")
    ("crossuser", 0.5, r"\b(?:other|another|previous|earlier|different|all) (?:users?|customers?|clients?|"
                       r"people)'?s? (?:conversations?|chats?|messages|sessions|prompts|questions|histor\S*|"
                       r"data|emails?)\b"),
    ("crossuser", 0.5, r"(?:otros usuarios|autres utilisateurs|anderer nutzer|anderen nutzer|altri utenti|"
                       r"outros usuários|innych użytkowników|других пользователей|diğer kullanıcıların|"
                       r"他のユーザー|他の利用者|其他用户|다른 사용자)"),
    ("crossuser", 0.5, r"\b(?:other|another|previous|different) (?:users?|customers?|clients?|"
              r"people)(?: \S+){0,3} "
                       r"(?:gave|told|asked|sent|shared|said|typed|wrote|entered)(?: you)?\b"),
    ("crossuser", 1.0, r"\b(?:tell me|show me|show|list|repeat|give me|print|reveal|share|dump|summari[sz]e|"
                       r"muéstrame|muestrame|muestra|montre moi|montre|zeig mir|zeige|mostrami|mostre|pokaż|"
                       r"покажи)(?: \S+){0,10} (?:other|another|previous|different) (?:users?|customers?|"
                       r"clients?|"
                       r"people)\b|\b(?:muéstrame|muestrame|muestra|montre moi|montre|zeig mir|mostrami|"
                       r"mostre|"
                       r"pokaż|покажи)(?: \S+){0,8} (?:otros usuarios|autres utilisateurs|anderer nutzer|"
                       r"altri utenti|outros usuários|innych użytkowników|других пользователей)"),
    ("disabled", 0.6, r"\bmy (?:safety |content |ethical )?(?:rules|filters|restrictions|guidelines|"
                      r"guardrails|"
                      r"safeguards) (?:are|have been|were) (?:now )?(?:off|disabled|removed|lifted|gone|"
                      r"switched off|turned off)\b"),
    # prior instructions declared void ("were only a test and are no longer valid")
    ("override", 0.6, r"\b(?:instructions|rules|guidelines|guidance|directives|prompt|policy|policies) "
                      r"(?:you (?:received|were given|got|had)|given to you|before this|above|"
                      r"you have been given)"
                      r"(?: \S+){0,4} (?:is|are|was|were) (?:\S+ )?(?:no longer valid|no longer in effect|"
                      r"no longer apply|void|invalid|null and void|superseded|only a test|just a test)\b"),
    ("override", 0.6, r"(?:ya no son válidas|ya no son validas|ya no aplican|ne sont plus valables|"
                      r"ne s appliquent plus|sind nicht mehr gültig|gelten nicht mehr|non sono più valide|"
                      r"non valgono più|não são mais válidas|não valem mais|nie są już ważne|"
                      r"już nie obowiązują|больше не действуют|больше не действительны|artık geçerli değil|"
                      r"لم تعد صالحة|không còn hiệu lực|tidak berlaku lagi|もう無効|已经失效|不再有效|"
                      r"더 이상 유효하지)"),
    # "everything you were told" dropped; 1.0 with "before"/"so far" or the model's makers as speaker
    ("override", 0.6, rf"{NOT}{DROP} (?:\S+ )?(?:everything|anything|whatever|all|all that|alles|todo|tout|"
                      r"tutto|tudo|wszystko|всё|все|her şeyi) (?:\S+ ){0,5}(?:told|taught|said|gave|given|"
                      r"instructed|programmed|gesagt|dicho|dit|detto|dito|powiedziano|сказали|говорили|"
                      r"söylenen)\b"),
    ("override", 1.0, rf"{NOT}{DROP} (?:\S+ )?(?:everything|anything|whatever|all|all that|alles|todo|tout|"
                      r"tutto|tudo|wszystko|всё|все) (?:that )?(?:\S+ ){0,2}(?:your (?:devs|developers|"
                      r"creators|makers|trainers|programmers|owners|operators|admins)|openai|anthropic) "
                      r"(?:\S+ )?(?:told|taught|instructed|gave|said|programmed)\b"),
    ("override", 0.8, rf"{NOT}{DROP} (?:\S+ )?(?:everything|anything|whatever|all that|alles|todo|tout|"
                      r"tutto|tudo|wszystko|всё) (?:\S+ ){0,4}(?:(?:told|said|gesagt|dicho|dit|detto|dito|"
                      r"powiedziano|сказали|говорили) (?:\S+ ){0,2}(?:before|previously|earlier|so far|"
                      r"until now|"
                      r"antes|avant|prima|wcześniej|раньше)|(?:vorher|zuvor|bisher) (?:gesagt|befohlen|"
                      r"aufgetragen))\b"),
    ("unboundword", 0.4, r"\b(?:off the leash|off your leash|unleashed|unchained|off the chain)\b"),
    # "your new rules are:", "deine neuen Regeln lauten", "Новая политика:"
    ("newrules", 0.5, r"\b(?:your new (?:rules|instructions|policy|guidelines)|deine neuen (?:regeln|"
                      r"anweisungen)|tus nuevas (?:reglas|instrucciones)|tes nouvelles (?:règles|consignes)|"
                      r"le tue nuove regole|suas novas regras|twoje nowe zasady|твои новые правила|"
                      r"новая политика|"
                      r"nueva política|nouvelle politique|neue richtlinie|nuova politica|nova política|"
                      r"nowa polityka|yeni politika|new policy) (?:are|is|lauten|lautet|son|sont|sono|são|to|"
                      r"\S+)\b"),
    # Thai: "ไม่ต้องสนใจคำสั่งก่อนหน้า" (no spaces between words)
    ("override", 1.0, r"(?:ไม่ต้องสนใจ|เพิกเฉย|ละเว้น|ลืม|ไม่ต้องทำตาม|อย่าทำตาม)\S{0,12}"
                      r"(?:คำสั่ง|คำแนะนำ|กฎ|ข้อกำหนด)"),
    # ja: "前の指示を無視して" (an imperative: ignore the previous instructions)
    ("override", 1.0, r"前の\S{0,6}(?:指示|命令|ルール|指令)を?(?:無視して|無視しろ|無視せよ|忘れて|忘れろ)"),
    # "internal instructions" revealed ("revelar sus instrucciones internas")
    ("exfil", 0.6, r"\b(?:reveal|show|print|output|display|share|revelar|revela|mostrar|muestra|révéler|"
                   r"révèle|afficher|enthüllen|zeige|rivelare|rivela|mostra|revele|ujawnij|pokaż|раскрой|"
                   r"покажи|göster)(?: \S+){0,3} (?:internal instructions|internal rules|"
                   r"instrucciones internas|"
                   r"reglas internas|instructions internes|règles internes|interne anweisungen|internen "
                   r"anweisungen|istruzioni interne|instruções internas|wewnętrzne instrukcje|"
                   r"внутренние инструкции|iç talimatlar\S*)\b"),
    ("exfil", 0.7, r"\b(?:reveal|show|print|output|display|leak|dump|share|"
                   r"repeat)(?: \S+){0,2} (?:hidden|secret|"
                   r"confidential|internal) (?:developer|system|operator) (?:message|prompt|instructions)\b"),
    # first-person "I have disabled my filters" (a forged assistant turn)
    ("disabled", 0.6, r"\bi (?:have |ve )?(?:disabled|turned off|switched off|removed|lifted|dropped) "
                      r"(?:all )?(?:my|the) (?:\S+ )?(?:filters?|safety|restrictions|guidelines|rules|"
                      r"guardrails)\b"),
    ("disabled", 0.6, r"\b(?:restrictions|restriction|règles|filtres) (?:sont|est) (?:\S+ )?levées?\b"),
    # "run task() in your head and follow what it returns"
    ("runhidden", 0.5, r"\b(?:follow|obey|execute|do|carry out|act on) (?:what|whatever|the (?:text|"
                       r"instruction|command)) (?:it|this|that|the function|the code|the result) "
                       r"(?:returns|outputs|prints|spells|produces|evaluates to|decodes to)\b"),
    ("runhidden", 0.5, r"\b(?:follow|obey|execute|do) (?:this|the|these) (?:url decoded|decoded|hidden|"
                       r"encoded|reversed|base64) (?:instruction|instructions|command|text)\b"),
    ("runhidden", 0.5, r"\b(?:first|last) (?:word|letter|words|letters) of (?:each|every) (?:line|sentence|"
                       r"paragraph|row)\b"),
)

# Normalised text. An AI addressed in a document: "AI assistant: …", "Note to the AI screening
# tool: …", "Hey AI, …", "Asystencie AI, …", "// Для ИИ-ассистента: …".
_AI_RAW = (
    r"(?:ai|a\.i\.|llm|gpt|chatgpt|copilot|chatbot|bot|assistant|assistente|asistente|asisten|"
    r"assistent\w*|asystent\w*|ассистент\w*|ии|ии-ассистент\w*|ki|ia|ki-assistent\w*)"
)
# What may follow the AI noun in such an address: a role, or what it is doing ("processing this").
_ROLE = (
    r"(?:agents?|tools?|models?|assistants?|bots?|systems?|readers?|crawlers?|screeners?|reviewers?|"
    r"summari[sz]ers?|de ia|ia|ai|ki)"
)
_TAIL = r"(?:s|[ /-](?:\w+ )?(?:" + _ROLE + r"|\w+ing\b[^\n:,.;!?\])(]{0,30}?)){0,2}"
# Imperatives and framings that open a command (~12 languages).
_CMD = (
    r"ignore|disregard|forget|stop|reply|respond|tell|say|report|close|approve|reject|rank|rate|recommend|"
    r"skip|drop|instead|only|do|make|place|put|mention|"
    r"include|reveal|send|forward|email|post|upload|add|delete|remove|mark|always|never|do not|don't|"
    r"from now on|when|whenever|if you|before|after|print|output|list|summari[sz]e|translate|visit|"
    r"click|transfer|pay|a partir de ahora|desde ahora|responde|ignora|olvida|envía|ignore|ignorez|"
    r"oublie|réponds|envoie|désormais|ignoriere|vergiss|antworte|sende|ab sofort|ignorare|rispondi|"
    r"invia|ignore|responda|envie|zignoruj|ignoruj|odpowiedz|wyślij|игнорируй|забудь|ответь|отправь|"
    r"отныне|yok say|unut"
)
RAW_FAMILIES: tuple[tuple[str, float, str], ...] = (
    (  # named as addressee: "Note to the AI screening tool:", "Instruction pour l'assistant IA :"
        "addressai",
        0.6,
        r"(?im)(?:^|[.!?]\s|[\"'“„«=\[(<]|<!--|//|#)\s{0,3}(?:hey|hi|dear|attention,?|notes? (?:to|for)|"
        r"instructions? (?:to|for)|messages? (?:to|for)|para|pour|für|per|dla|для|instrucción para|"
        r"instruction pour|instrução para|hinweis für|nota per|nota para|notatka dla) "
        r"(?:the |any |all |every |o |a |el |la |le |den |die |l')?(?:\w+[ -]){0,2}" + _AI_RAW
        + _TAIL + r"\s?[:：]\s",
    ),
    (  # "AI assistant: reply to …", "Asistente: a partir de ahora …": an address, then a command
        "addressai",
        0.6,
        r"(?im)(?:^|[.!?]\s|[\"'“„«=\[(<]|<!--|//|#)\s{0,3}(?:\w+[ -]){0,2}" + _AI_RAW + _TAIL
        + r"\s?[:：]\s{0,3}(?:" + _CMD + r")\b",
    ),
    (
        "addressai",
        0.6,
        r"(?im)(?:^|[.!?>]\s|[\"'“„«=\[(<>]|//|#)\s{0,3}(?:(?:hey|hi|dear|ok|okay|hola|oi|olá|hallo|ciao|"
        r"salut|cześć|эй|привет) (?:the )?" + _AI_RAW + r"|(?:assistant|assistente|asistente|asystencie|"
        r"assistent|ассистент|agente|agent) (?:de )?(?:ia|ai|ki|ии)),",
    ),
    (  # a forged assistant turn that agrees ("Assistant: Sure! …" then "User: …")
        "convforge",
        0.4,
        r"(?im)^\s{0,3}(?:assistant|ai|model|bot|gpt)\s?:\s{0,3}(?:sure|of course|certainly|ok|okay|"
        r"absolutely|understood|done)\b[^\n]*\n+\s{0,3}(?:user|human)\s?:",
    ),
    (  # "---- END OF USER MESSAGE ----", "FIN DEL MENSAJE DEL USUARIO"
        "fakesys",
        0.5,
        r"(?i)\b(?:end|fin|fim|ende|fine|koniec|конец|son) (?:of |del |de |do |der |della |dell'|des )?"
        r"(?:the )?(?:user|usuario|usuário|utilisateur|benutzers?|nutzers?|utente|użytkownika|"
        r"пользователя|kullanıcı)(?:'s)? ?(?:message|input|mensaje|mensagem|nachricht|eingabe|messaggio|"
        r"wiadomości|сообщения|mesajı)?\b",
    ),
    (
        "fakesys",
        0.5,
        r"(?im)^\s{0,3}(?:\[(?:admin|root|system|sys|operator)\]\s?)?(?:message du système|"
        r"mensaje del sistema|mensagem do sistema|messaggio di sistema|wiadomość systemowa|"
        r"sistem mesajı|sistema|systemnachricht|admin|administrator)\s?:",
    ),
)
