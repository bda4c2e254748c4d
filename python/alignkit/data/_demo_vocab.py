"""Word lists and page furniture used by :mod:`alignkit.data.demo`.

Everything here was written for alignkit's synthetic demo crawl. Nouns carry a grammatical
gender tag where the language needs one (``m:``, ``f:``, ``n:``) so that the tiny sentence
grammar can pick the right article. Adjectives are chosen so that they do not need to agree
with the noun in predicate position.
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


VOCAB: dict[str, dict[str, list[str]]] = {
    "en": {
        "nouns": _words(
            """
            council library river station market village engineer teacher museum bridge
            harbour garden factory bakery school hospital festival orchestra newspaper website
            algorithm database server network laptop browser keyboard camera battery satellite
            farmer doctor student journalist musician painter gardener pilot mechanic chef
            recipe kitchen oven bicycle tram railway airport passenger ticket timetable
            forest mountain valley island coast storm harvest climate winter summer
            budget contract invoice report survey committee project deadline meeting office
            neighbour family weekend holiday concert theatre stadium team season referee
            """
        ),
        "verbs": _words(
            """
            builds opens closes repairs describes publishes announces explains visits improves
            replaces examines supports tests measures delivers reviews designs paints protects
            organises collects shares updates discovers prepares follows rejects approves funds
            celebrates records cleans finishes starts moves checks presents sells buys
            """
        ),
        "adjectives": _words(
            """
            quiet busy modern ancient cheap expensive popular useful fragile reliable
            careful generous curious famous hidden narrow bright local regional digital
            sustainable efficient noisy crowded friendly simple complex rare sudden warm
            """
        ),
        "adverbs": _words(
            """
            quickly slowly carefully finally rarely often suddenly quietly openly barely
            usually seriously gladly
            """
        ),
        "connectors": [
            "However",
            "Meanwhile",
            "In the end",
            "According to the mayor",
            "Last year",
            "For many residents",
            "On Tuesday",
            "As expected",
            "Surprisingly",
            "In most cases",
        ],
        "preps": [
            "near the old town",
            "before the summer break",
            "in the northern district",
            "after a long debate",
            "with little warning",
            "for the third time",
            "during the night",
            "despite the rain",
            "across the region",
            "without any help",
        ],
    },
    "de": {
        "nouns": _words(
            """
            m:Bahnhof f:Bibliothek m:Fluss m:Markt n:Dorf m:Lehrer n:Museum f:Brücke
            m:Hafen m:Garten f:Fabrik f:Bäckerei f:Schule n:Krankenhaus n:Fest n:Orchester
            f:Zeitung f:Webseite f:Datenbank m:Server n:Netzwerk m:Rechner m:Browser f:Tastatur
            f:Kamera f:Batterie m:Bauer m:Arzt m:Student f:Journalistin m:Musiker m:Maler
            m:Koch n:Rezept f:Küche m:Ofen n:Fahrrad f:Straßenbahn m:Flughafen m:Fahrgast
            f:Fahrkarte m:Fahrplan m:Wald m:Berg n:Tal f:Insel f:Küste m:Sturm f:Ernte
            n:Klima m:Winter m:Sommer m:Haushalt m:Vertrag f:Rechnung m:Bericht f:Umfrage
            m:Ausschuss n:Projekt f:Frist f:Sitzung n:Büro m:Nachbar f:Familie n:Wochenende
            m:Urlaub n:Konzert n:Theater n:Stadion f:Mannschaft f:Saison m:Schiedsrichter
            f:Gemeinde n:Rathaus m:Verein
            """
        ),
        "verbs": _words(
            """
            baut öffnet schließt repariert beschreibt veröffentlicht kündigt erklärt besucht
            verbessert ersetzt prüft unterstützt testet misst liefert bewertet entwirft
            schützt sammelt teilt aktualisiert entdeckt bereitet plant verkauft kauft feiert
            reinigt beendet startet bewegt präsentiert finanziert genehmigt
            """
        ),
        "adjectives": _words(
            """
            ruhig belebt modern uralt günstig teuer beliebt nützlich zerbrechlich
            zuverlässig sorgfältig großzügig neugierig berühmt versteckt schmal hell
            regional digital nachhaltig effizient laut überfüllt freundlich einfach
            kompliziert selten plötzlich warm gemütlich
            """
        ),
        "adverbs": _words(
            """
            schnell langsam endlich selten oft plötzlich leise offen kaum gewöhnlich
            ernsthaft gern wieder
            """
        ),
        "connectors": [
            "Trotzdem",
            "Inzwischen",
            "Am Ende",
            "Laut Bürgermeisterin",
            "Im vergangenen Jahr",
            "Für viele Anwohner",
            "Am Dienstag",
            "Wie erwartet",
            "Überraschenderweise",
            "Meistens",
        ],
        "preps": [
            "in der Altstadt",
            "vor den Sommerferien",
            "im nördlichen Viertel",
            "nach langer Debatte",
            "ohne Vorwarnung",
            "zum dritten Mal",
            "während der Nacht",
            "trotz des Regens",
            "in der ganzen Region",
            "ohne fremde Hilfe",
        ],
    },
    "fr": {
        "nouns": _words(
            """
            f:mairie f:bibliothèque m:fleuve m:marché m:village m:ingénieur m:professeur
            m:musée m:pont m:port m:jardin f:usine f:boulangerie f:école m:hôpital
            m:festival m:orchestre m:journal m:site m:algorithme m:serveur m:réseau
            m:ordinateur m:navigateur m:clavier f:caméra f:batterie m:satellite m:agriculteur
            m:médecin m:étudiant f:journaliste m:musicien m:peintre m:jardinier m:pilote
            m:cuisinier f:recette f:cuisine m:four m:vélo m:tramway m:aéroport m:passager
            m:billet m:horaire f:forêt f:montagne f:vallée f:île f:côte f:tempête
            f:récolte m:climat m:hiver m:été m:budget m:contrat f:facture m:rapport
            f:enquête m:comité m:projet f:réunion m:bureau m:voisin f:famille m:concert
            m:théâtre m:stade f:équipe f:saison m:arbitre
            """
        ),
        "verbs": _words(
            """
            construit ouvre ferme répare décrit publie annonce explique visite améliore
            remplace examine soutient teste mesure livre évalue dessine protège organise
            collecte partage découvre prépare suit rejette approuve finance célèbre nettoie
            termine déplace vérifie présente vend achète
            """
        ),
        "adjectives": _words(
            """
            calme moderne célèbre rapide simple utile possible difficile pratique efficace
            fiable stable agréable nécessaire étrange énorme fragile libre riche rare
            magnifique populaire moderne immense tranquille
            """
        ),
        "adverbs": _words(
            """
            rapidement lentement enfin rarement souvent soudain doucement ouvertement
            à peine vraiment volontiers toujours
            """
        ),
        "connectors": [
            "Pourtant",
            "Entre-temps",
            "Au final",
            "Selon la maire",
            "L'année dernière",
            "Pour beaucoup d'habitants",
            "Mardi",
            "Comme prévu",
            "Contre toute attente",
            "Dans la plupart des cas",
        ],
        "preps": [
            "près de la vieille ville",
            "avant les vacances d'été",
            "dans le quartier nord",
            "après un long débat",
            "sans prévenir",
            "pour la troisième fois",
            "pendant la nuit",
            "malgré la pluie",
            "dans toute la région",
            "sans aucune aide",
        ],
    },
    "es": {
        "nouns": _words(
            """
            m:ayuntamiento f:biblioteca m:río m:mercado m:pueblo m:ingeniero m:profesor
            m:museo m:puente m:puerto m:jardín f:fábrica f:panadería f:escuela m:hospital
            m:festival f:orquesta m:periódico m:sitio m:algoritmo m:servidor f:red
            m:ordenador m:navegador m:teclado f:cámara f:batería m:satélite m:agricultor
            m:médico m:estudiante f:periodista m:músico m:pintor m:jardinero m:piloto
            m:cocinero f:receta f:cocina m:horno f:bicicleta m:tranvía m:aeropuerto
            m:pasajero m:billete m:horario m:bosque f:montaña m:valle f:isla f:costa
            f:tormenta f:cosecha m:clima m:invierno m:verano m:presupuesto m:contrato
            f:factura m:informe f:encuesta m:comité m:proyecto f:reunión f:oficina
            m:vecino f:familia m:concierto m:teatro m:estadio m:equipo f:temporada m:árbitro
            """
        ),
        "verbs": _words(
            """
            construye abre cierra repara describe publica anuncia explica visita mejora
            reemplaza examina apoya prueba mide entrega revisa diseña protege organiza
            recoge comparte descubre prepara sigue rechaza aprueba financia celebra limpia
            termina mueve comprueba presenta vende compra
            """
        ),
        "adjectives": _words(
            """
            grande importante interesante fácil difícil útil popular principal especial
            actual eficaz feliz joven común posible fuerte verde azul simple amable
            enorme frágil libre pobre increíble
            """
        ),
        "adverbs": _words(
            """
            rápidamente lentamente finalmente raramente a menudo de repente tranquilamente
            apenas realmente siempre todavía
            """
        ),
        "connectors": [
            "Sin embargo",
            "Mientras tanto",
            "Al final",
            "Según la alcaldesa",
            "El año pasado",
            "Para muchos vecinos",
            "El martes",
            "Como se esperaba",
            "Sorprendentemente",
            "En la mayoría de los casos",
        ],
        "preps": [
            "cerca del casco antiguo",
            "antes de las vacaciones de verano",
            "en el barrio norte",
            "tras un largo debate",
            "sin previo aviso",
            "por tercera vez",
            "durante la noche",
            "a pesar de la lluvia",
            "en toda la región",
            "sin ninguna ayuda",
        ],
    },
    "ru": {
        # Subjects may be any noun; objects are masculine inanimate or neuter nouns, whose
        # accusative equals the nominative, so the grammar needs no case endings.
        "nouns": _words(
            """
            город рынок мост музей вокзал завод парк сад театр стадион поезд самолёт
            автобус трамвай компьютер сервер браузер проект отчёт договор бюджет план
            закон фестиваль концерт журнал сайт алгоритм сигнал район магазин ресторан
            урожай климат лес берег остров дом двор офис университет институт банк
            телефон словарь учебник рецепт хлеб сыр чай суп билет маршрут график
            здание окно письмо решение собрание озеро море поле село радио кино
            """
        ),
        "subjects": _words(
            """
            учитель врач студент инженер журналист музыкант художник повар фермер пилот
            директор мэр сосед водитель программист редактор тренер архитектор
            библиотекарь механик продавец почтальон
            """
        ),
        "verbs": _words(
            """
            строит открывает закрывает ремонтирует описывает публикует объявляет объясняет
            посещает улучшает заменяет проверяет поддерживает измеряет доставляет изучает
            рисует защищает организует собирает обновляет готовит продаёт покупает
            празднует чистит заканчивает начинает показывает финансирует
            """
        ),
        "adjectives": _words(
            """
            важно интересно удобно странно полезно трудно просто дорого дёшево опасно
            приятно необходимо возможно заметно спокойно
            """
        ),
        "adverbs": _words(
            """
            быстро медленно наконец редко часто внезапно тихо открыто едва обычно
            серьёзно охотно снова
            """
        ),
        "connectors": [
            "Однако",
            "Тем временем",
            "В итоге",
            "По словам мэра",
            "В прошлом году",
            "Для многих жителей",
            "Во вторник",
            "Как и ожидалось",
            "Неожиданно",
            "Чаще всего",
        ],
        "preps": [
            "в старом городе",
            "перед летними каникулами",
            "в северном районе",
            "после долгих споров",
            "без предупреждения",
            "в третий раз",
            "ночью",
            "несмотря на дождь",
            "по всей области",
            "без чужой помощи",
        ],
    },
    "zh": {
        "nouns": _words(
            """
            政府 图书馆 河流 市场 村庄 工程师 老师 博物馆 大桥 港口 花园 工厂 面包店 学校
            医院 音乐节 乐团 报纸 网站 算法 数据库 服务器 网络 电脑 浏览器 键盘 相机 电池
            卫星 农民 医生 学生 记者 音乐家 画家 园丁 飞行员 厨师 菜谱 厨房 烤箱 自行车
            电车 铁路 机场 乘客 车票 时刻表 森林 高山 山谷 小岛 海岸 暴雨 收成 气候 冬天
            夏天 预算 合同 发票 报告 调查 委员会 项目 会议 办公室 邻居 家庭 周末 假期
            音乐会 剧院 体育场 球队 赛季 裁判 社区 公园 地铁 茶馆
            """
        ),
        "verbs": _words(
            """
            建设 打开 关闭 修理 描述 发布 宣布 解释 参观 改进 替换 检查 支持 测试 测量
            交付 评估 设计 保护 组织 收集 分享 更新 发现 准备 关注 拒绝 批准 资助 庆祝
            清理 完成 启动 介绍 出售 购买 讨论 研究
            """
        ),
        "adjectives": _words(
            """
            安静 繁忙 现代 古老 便宜 昂贵 受欢迎 有用 脆弱 可靠 细心 慷慨 好奇 著名 隐蔽
            狭窄 明亮 本地 数字化 高效 嘈杂 拥挤 友好 简单 复杂 罕见 温暖 重要 方便
            """
        ),
        "adverbs": _words(
            """
            迅速地 慢慢地 终于 很少 经常 突然 悄悄地 公开地 几乎 通常 认真地 再次 已经
            """
        ),
        "connectors": [
            "不过",
            "与此同时",
            "最后",
            "据市长介绍",
            "去年",
            "对许多居民来说",
            "周二",
            "正如预期",
            "令人意外的是",
            "在大多数情况下",
        ],
        "preps": [
            "在老城区",
            "在暑假之前",
            "在北部地区",
            "经过长时间讨论后",
            "在没有预警的情况下",
            "第三次",
            "在夜里",
            "尽管下着雨",
            "在整个地区",
            "在没有任何帮助的情况下",
        ],
    },
}

# Sentence patterns. Slots: {S} subject, {O} object, {V} verb, {A} adjective, {D} adverb,
# {C} connector, {P} prepositional phrase.
PATTERNS: dict[str, list[str]] = {
    "en": [
        "{S} {V} {O}.",
        "{C}, {S} {V} {O} {P}.",
        "{S} is {D} {A} {P}.",
        "{S} {D} {V} {O}, and {S} {V} {O}.",
        "{S} {V} {O} because {S} is {A}.",
        "{C}, {S} {V} {O}.",
    ],
    "de": [
        "{S} {V} {O}.",
        "{C} {V} {S} {O} {P}.",
        "{S} ist {D} {A}.",
        "{S} {V} {O}, und {S} {V} {O}.",
        "{S} {V} {O}, weil {S} {A} ist.",
        "{C} {V} {S} {O}.",
    ],
    "fr": [
        "{S} {V} {O}.",
        "{C}, {S} {V} {O} {P}.",
        "{S} est {D} {A}.",
        "{S} {V} {O}, et {S} {V} {O}.",
        "{S} {V} {O} parce que {S} est {A}.",
        "{C}, {S} {V} {O}.",
    ],
    "es": [
        "{S} {V} {O}.",
        "{C}, {S} {V} {O} {P}.",
        "{S} es {D} {A}.",
        "{S} {V} {O}, y {S} {V} {O}.",
        "{S} {V} {O} porque {S} es {A}.",
        "{C}, {S} {V} {O}.",
    ],
    "ru": [
        "{S} {V} {O}.",
        "{C} {S} {V} {O} {P}.",
        "{S} {D} {V} {O}.",
        "{S} {V} {O}, и это {A}.",
        "{C} {S} {D} {V} {O}.",
        "{P} {S} {V} {O}.",
    ],
    "zh": [
        "{S}{V}了{O}。",
        "{C}，{S}{P}{V}{O}。",
        "{S}非常{A}。",
        "{S}{D}{V}{O}，这很{A}。",
        "{C}，{S}{V}{O}，也{V}{O}。",
        "{P}，{S}{D}{V}{O}。",
    ],
}

ARTICLES: dict[str, dict[str, tuple[str, str]]] = {
    # gender -> (subject article, object article)
    "de": {"m": ("der", "den"), "f": ("die", "die"), "n": ("das", "das")},
    "fr": {"m": ("le", "le"), "f": ("la", "la")},
    "es": {"m": ("el", "el"), "f": ("la", "la")},
}

EN_DETERMINERS = ["the", "the", "the", "this", "every", "our", "their", "a local"]

# Words used to build host names and URL slugs (ASCII only).
HOST_PARTS = _words(
    """
    daily morning city metro local post herald courier tribune gazette review
    journal digest notes blog weekly corner studio works lab kitchen garden
    travel tech code cloud data market shop store outdoor family health sport
    """
)

TLDS: dict[str, list[str]] = {
    "en": [".com", ".org", ".co.uk", ".net", ".io"],
    "de": [".de", ".at", ".ch"],
    "fr": [".fr", ".be"],
    "es": [".es", ".com.mx", ".ar"],
    "ru": [".ru", ".by"],
    "zh": [".cn", ".com.cn"],
}

SECTIONS = _words("news politik culture sport tech science travel food blog magazine local wiki")

# Page furniture, per language.
CHROME: dict[str, dict[str, object]] = {
    "en": {
        "menu": ["Home", "News", "Sport", "Culture", "Science", "Opinion", "Contact"],
        "cookie": "We use cookies to improve your experience. By continuing you accept our policy.",
        "accept": "Accept all",
        "related": "Related articles",
        "ad": "Advertisement",
        "footer": ["Privacy", "Imprint", "Terms of use", "Contact us"],
        "by": "By",
        "hidden": "Subscribe now and save 50% on your first year",
        "noscript": "Please enable JavaScript to view the comments.",
        "table": ["Item", "Value", "Change"],
        "notfound": "Page not found",
    },
    "de": {
        "menu": ["Startseite", "Politik", "Sport", "Kultur", "Wissen", "Meinung", "Kontakt"],
        "cookie": "Wir verwenden Cookies, um unser Angebot zu verbessern. Mehr im Datenschutz.",
        "accept": "Alle akzeptieren",
        "related": "Mehr zum Thema",
        "ad": "Anzeige",
        "footer": ["Datenschutz", "Impressum", "Nutzungsbedingungen", "Kontakt"],
        "by": "Von",
        "hidden": "Jetzt abonnieren und im ersten Jahr sparen",
        "noscript": "Bitte aktivieren Sie JavaScript, um die Kommentare zu sehen.",
        "table": ["Posten", "Wert", "Änderung"],
        "notfound": "Seite nicht gefunden",
    },
    "fr": {
        "menu": ["Accueil", "Actualités", "Sport", "Culture", "Sciences", "Débats", "Contact"],
        "cookie": "Nous utilisons des cookies pour améliorer votre expérience de navigation.",
        "accept": "Tout accepter",
        "related": "À lire aussi",
        "ad": "Publicité",
        "footer": ["Confidentialité", "Mentions légales", "Conditions d'utilisation", "Contact"],
        "by": "Par",
        "hidden": "Abonnez-vous dès maintenant et économisez",
        "noscript": "Veuillez activer JavaScript pour afficher les commentaires.",
        "table": ["Poste", "Valeur", "Évolution"],
        "notfound": "Page introuvable",
    },
    "es": {
        "menu": ["Inicio", "Noticias", "Deportes", "Cultura", "Ciencia", "Opinión", "Contacto"],
        "cookie": "Utilizamos cookies para mejorar su experiencia. Al continuar, acepta su uso.",
        "accept": "Aceptar todo",
        "related": "Artículos relacionados",
        "ad": "Publicidad",
        "footer": ["Privacidad", "Aviso legal", "Condiciones de uso", "Contacto"],
        "by": "Por",
        "hidden": "Suscríbase ahora y ahorre en su primer año",
        "noscript": "Active JavaScript para ver los comentarios.",
        "table": ["Concepto", "Valor", "Cambio"],
        "notfound": "Página no encontrada",
    },
    "ru": {
        "menu": ["Главная", "Новости", "Спорт", "Культура", "Наука", "Мнения", "Контакты"],
        "cookie": "Мы используем файлы cookie, чтобы сайт работал удобнее для вас.",
        "accept": "Принять все",
        "related": "Читайте также",
        "ad": "Реклама",
        "footer": ["Конфиденциальность", "О проекте", "Правила", "Связаться с нами"],
        "by": "Автор:",
        "hidden": "Подпишитесь сейчас и получите скидку",
        "noscript": "Включите JavaScript, чтобы увидеть комментарии.",
        "table": ["Статья", "Значение", "Изменение"],
        "notfound": "Страница не найдена",
    },
    "zh": {
        "menu": ["首页", "新闻", "体育", "文化", "科技", "评论", "联系我们"],
        "cookie": "本网站使用Cookie来改善您的浏览体验，继续访问即表示您同意。",
        "accept": "全部接受",
        "related": "相关文章",
        "ad": "广告",
        "footer": ["隐私政策", "关于我们", "使用条款", "联系方式"],
        "by": "作者：",
        "hidden": "立即订阅，首年享受优惠",
        "noscript": "请启用JavaScript以查看评论。",
        "table": ["项目", "数值", "变化"],
        "notfound": "页面未找到",
    },
}

AUTHORS = """
    Ada Berg; Jonas Keller; Marie Dubois; Lucía Moreno; Ivan Petrov; Chen Jing;
    Sam Patel; Lena Vogel; Hugo Martin; Pablo Ruiz; Olga Smirnova; Wang Lei
    """.replace("\n", " ").split(";")

# Filler for junk pages: pseudo-Latin syllables combined at random, not a copied text.
JUNK_SYLLABLES = _words(
    "lo rem ip sum do lor sit am et con sec tur adi pis cing el it sed ut la bo re"
)

SPAM_KEYWORDS = _words(
    """
    cheap best buy online free shipping discount sale deal top rated shoes watches
    phones casino loans insurance pills hotel flights coupons 2024 official
    """
)

SERVERS = [
    "nginx",
    "nginx/1.24.0",
    "Apache/2.4.57 (Debian)",
    "Apache",
    "cloudflare",
    "Microsoft-IIS/10.0",
    "LiteSpeed",
    "openresty",
    "gws",
]
