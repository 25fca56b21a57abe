"""The assistant's grammar: what a Czech or English message asks for, and its parameters.

Pure and deterministic. A message is folded (no case, no diacritics), then *slots* are taken out
of it one kind at a time (quoted text, object "SO 201", versions, dates, amounts, codes, statuses,
filters, units), each removing its span so that no word is read twice. What is left, minus the
grammar's own words, are the search terms (stemmed; English material names become the Czech stems
the budgets are written in). Then ordered intent rules look at keywords and slots. Nothing is
guessed: a message no rule recognises is `unknown`, a command without its value or position says
what is missing.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec

from app.domain.chat.language import NUMBER_PATTERN, fold, parse_number, stem, words

INTENTS = (
    "total",  # cost / count / quantity of the budget, an object, a section, a material, a code
    "findings",  # positions of a status (red, amber...) with the audit's reasons
    "explain",  # why one position has its status
    "changes",  # what a version (or the versions since a date) changed
    "find",  # look-ups: without price, without quantity, by code or text, the most expensive
    "ratio",  # e.g. reinforcement per m3 of concrete
    "set_quantity",
    "set_price",
    "delete_position",
    "run_audit",
    "export",
    "help",
    "unknown",
)
COMMANDS = frozenset({"set_quantity", "set_price", "delete_position", "run_audit", "export"})


class Intent(msgspec.Struct, frozen=True, kw_only=True):
    """One reading of a message. `params()` lists what was found (the test set compares it)."""

    name: str
    confidence: float
    language: str = "cs"
    object_code: str | None = None
    category: str | None = None
    code: str | None = None
    position_number: str | None = None
    text: str | None = None  # a quoted description
    terms: tuple[str, ...] = ()  # search stems
    statuses: tuple[str, ...] = ()
    version: int | None = None
    version_from: int | None = None
    since: str | None = None  # "yesterday", "today", "7d", or an ISO date
    value: Decimal | None = None
    export_format: str | None = None
    measure: str | None = None  # cost (default), count, quantity
    unit: str | None = None
    filter: str | None = None  # unpriced, no_quantity, no_code, duplicates
    order: str | None = None  # most_expensive, cheapest
    limit: int | None = None
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    per_unit: str | None = None  # ratio: the denominator's unit
    per_terms: tuple[str, ...] = ()  # ratio: the denominator's search stems
    missing: tuple[str, ...] = ()  # what a command still needs
    # (search stem, the word as the message wrote it), for answers that quote the asker's words
    wording: tuple[tuple[str, str], ...] = ()

    def params(self) -> dict[str, Any]:
        """The parameters that were found, JSON-ready (decimals as strings, tuples as lists)."""
        found: dict[str, Any] = {}
        for name in self.__struct_fields__:
            if name in ("name", "confidence", "language", "wording"):
                continue
            value = getattr(self, name)
            if value is None or value == ():
                continue
            found[name] = (
                list(value) if isinstance(value, tuple) else str(value) if isinstance(value, Decimal) else value
            )
        return found

    def shown(self, terms: tuple[str, ...] | list[str]) -> str:
        """Search stems as the message wrote them ("vyztuz" → "výztuže")."""
        written = dict(self.wording)
        return " ".join(written.get(term, term) for term in terms)

    @property
    def is_command(self) -> bool:
        return self.name in COMMANDS

    @property
    def has_position_ref(self) -> bool:
        return bool(self.code or self.position_number or self.text or self.terms)


# ----------------------------------------------------------------------------------- vocabulary

# English names of materials and works → the Czech stems budgets are written with.
ENGLISH_STEMS = {
    "concrete": "beton",
    "concreting": "beton",
    "reinforcement": "vyztuz",
    "reinforcing": "vyztuz",
    "rebar": "vyztuz",
    "rebars": "vyztuz",
    "formwork": "bedneni",
    "shuttering": "bedneni",
    "excavation": "vykop",
    "excavations": "vykop",
    "steel": "ocel",
    "insulation": "izolac",
    "waterproofing": "izolac",
    "masonry": "zdiv",
    "brickwork": "zdiv",
    "bricks": "cihl",
    "brick": "cihl",
    "plaster": "omitk",
    "plastering": "omitk",
    "paint": "nater",
    "painting": "nater",
    "asphalt": "asfalt",
    "gravel": "sterk",
    "sand": "pisek",
    "pipe": "potrub",
    "pipes": "potrub",
    "piping": "potrub",
    "drainage": "odvodnen",
    "backfill": "zasyp",
    "foundation": "zaklad",
    "foundations": "zaklad",
    "footings": "zaklad",
    "wall": "sten",
    "walls": "sten",
    "slab": "desk",
    "slabs": "desk",
    "piles": "pilot",
    "pile": "pilot",
    "scaffolding": "lesen",
    "demolition": "bour",
    "earthworks": "zemni",
    "paving": "dlazb",
    "tiles": "dlazb",
    "kerb": "obrubn",
    "kerbs": "obrubn",
    "curb": "obrubn",
    "curbs": "obrubn",
    "windows": "okn",
    "window": "okn",
    "doors": "dver",
    "door": "dver",
    "roof": "strech",
    "roofing": "strech",
    "transport": "doprav",
    "haulage": "doprav",
    "geotextile": "geotextil",
    "membrane": "folie",
    "railing": "zabradl",
    "railings": "zabradl",
    # names of building objects (SO …), so "the garage" finds the object named "Garáž"
    "garage": "garaz",
    "garages": "garaz",
    "bridge": "most",
    "parking": "parkovist",
    "building": "budov",
}

# Words of the grammar itself and filler; never search terms.
_STOPWORD_TEXT = """
    a aby ale ani asi az bez bude budou by byl byla byli bylo byly bych co coz cim ci dal dej dejte
    do ho i jak jaka jake jaky jakou jaky je jeho jen jes jest jestli ji jich jim jsou jsem k ke kde
    kdo kdy kolik kolika ktera ktere ktery kterou kteri ma maji mam mame me mezi mi mit mne mnou mu
    muj my na nad nam nas ne nebo nez nic ni o od ohledne pak po pod podle pokud pri pro proc prosim
    protoze s se si sve svuj ta tak take tam te tech ten tento tyto teto tim to tom tu ty u uz v ve
    vse vsech vsechny vsechno vy z za ze zda a tedy tady
    stoji stoj stoje stat bude staci cena cenu ceny cene cenou celkem celkova celkove celkovy celkovou
    naklady nakladu suma soucet hodnota hodnotu rozpocet rozpoctu rozpoctem stavba stavby stavbu
    polozka polozky polozek polozce polozku polozkou polozkach radek radky radku vse celek celem
    najdi najdete vyhledej vyhledejte hledej hledam ukaz ukazte zobraz zobrazte vypis vypiste seznam
    potrebuju potrebuji chci chtel chtela zajima zajimalo rekni reknete prosim dekuji diky
    jsou byly je maji ma mel mela obsahuji obsahuje
    the a an of in on at to for from by with about and or is are was were be been do does did
    what which who whom whose how much many cost costs price prices priced total totals sum value
    show list find search give me tell please all items item positions position lines line rows
    row budget there that this these those it its has have any some get my our whole entire
    spend spent amount come comes since until od until can could would you will muzes muzete mohl mohla
    mohli bys byste budes nejak nejaka nejake vlastne ted nyni now currently currently jeste still also
    tell know want need like naposledy naposled posledni posledne latest last recent recently vysledky
    vysledek vysledku results result nasel nasla nasli naslo found nema nemaji nemam jednotkova jednotkovou
    jednotkove jednotkovych jednotkovy unit verze verzi verzich version versions stav stavu status state
    tuto tato toto tohle tuhle tenhle techto tomto teto tyhle
    jde jdou jit go goes going money penez penize zaplatime zaplatit platime utratime utratit cela cely cele
    celou objekt objektu objektech objekty objektem object objects probehl probehly probehlo probehla
    happened happen pripada pripadaji falls dohromady dohromad projekt projektu projektem project davame
    dame davat jako oznacil oznacila oznacilo oznacene oznacen marked
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# ------------------------------------------------------------------------------------- patterns

_NUM = NUMBER_PATTERN
# A value ends where the number ends: 1e309, 3e5 or 1/2 is not read as its first digits (never act on a part).
_VALUE = rf"{_NUM}(?!e[+-]?\d|/\d)"
_UNIT_WORDS = {
    "m3": "m3",
    "m2": "m2",
    "m": "m",
    "bm": "m",
    "t": "t",
    "tun": "t",
    "tuna": "t",
    "tuny": "t",
    "tonnes": "t",
    "tons": "t",
    "tonne": "t",
    "ton": "t",
    "kg": "kg",
    "ks": "ks",
    "kus": "ks",
    "kusu": "ks",
    "pieces": "ks",
    "kusy": "ks",
    "metru": "m",
    "metr": "m",
    "metry": "m",
    "metres": "m",
    "meters": "m",
    "krychlovych": "m3",
    "kubiku": "m3",
    "cubic": "m3",
    "ctverecnich": "m2",
    "square": "m2",
}
_UNIT = r"(m3|m2|bm|m|t|kg|ks|tun[ay]?|tonnes?|tons?|kus[uy]?|pieces|metr[uy]?|metres|meters|kubiku)"

_QUOTED = re.compile(r"[\"„“”'‚‘’«»]([^\"„“”'‚‘’«»]{2,200})[\"„“”'‚‘’«»]")
_FORMAT = re.compile(r"\b(xlsx|excel\w*|xls|csv)\b")
_OBJECT = re.compile(r"\b(so|ps|objekt\w*|object)\s*[-.:#]?\s*(\d{1,4}(?:[./-]\d{1,3})*[a-z]?)\b")
_VERSION_WORD = r"(?:verz\w*|version|ver\.?|v\.?)"
_VERSION_RANGE = re.compile(
    rf"\b(?:mezi|between|od|from)\s+{_VERSION_WORD}\s*(\d{{1,6}})\s*(?:a|and|do|to|az|k|-)\s*{_VERSION_WORD}?\s*(\d{{1,6}})\b"
)
_VERSION_PAIR = re.compile(
    rf"\b(?:verz\w*|versions?)\s*(\d{{1,6}})\s*(?:a|and|s|se|with|vs\.?|versus|az|to|-)\s*{_VERSION_WORD}?\s*(\d{{1,6}})\b"
)
_VERSION_SINCE = re.compile(rf"\b(?:od|since|from|po|after)\s+{_VERSION_WORD}\s*(?:c\.|cislo|no\.?|#)?\s*(\d{{1,6}})\b")
_VERSION = re.compile(r"\b(?:verz\w*|version|ver\.?)\s*(?:c\.|cislo|no\.?|number|#)?\s*(\d{1,6})\b|\bv(\d{1,6})\b")
_SINCE = (
    (re.compile(r"\b(?:vcer\w*|yesterday)\b"), "yesterday"),
    (re.compile(r"\b(?:dnes\w*|today|dneska)\b"), "today"),
    (re.compile(r"\b(?:za\s+|v\s+)?(?:minul\w*|posledn\w*|last|past|this)\s+(?:tyd\w*|week)\b"), "7d"),
    (re.compile(r"\b(?:za\s+|v\s+)?(?:minul\w*|posledn\w*|last|past|this)\s+(?:mesic\w*|month)\b"), "30d"),
)
_SINCE_DAYS = re.compile(r"\b(?:za\s+|in\s+the\s+)?(?:posledn\w*|last|past)\s+(\d{1,3})\s+(?:dn\w*|days?)\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_CZ_DATE = re.compile(r"\b(\d{1,2})\.\s?(\d{1,2})\.(?:\s?(\d{4}))?")
_MIN_TOTAL = re.compile(
    rf"\b(?:drazsi\w*|vic|vice|nad|vetsi\w*|more|over|above|greater|pres|exceeding)\s+(?:nez|than|jak|nez\s+je)?\s*({_VALUE})\s*(?:kc|czk|,-)?"
)
_MAX_TOTAL = re.compile(
    rf"\b(?:levnejsi\w*|mene|pod|mensi\w*|under|below|less|cheaper)\s+(?:nez|than|jak)?\s*({_VALUE})\s*(?:kc|czk|,-)?"
)
_COMMAND_VALUE = re.compile(
    rf"(?:\bna\s+hodnotu\b|\bna\b|\bto\b|=|:|\bbyt\b|\bbe\b|\bmit\b|\bbudou\b)\s*({_VALUE})\s*(?:kc|czk|,-|{_UNIT}\b)?"
)
_TOP = re.compile(
    r"\b(?:top|prvnich|first|nejvic)\s*(\d{1,3})\b|\b(\d{1,3})\s+(?=nej|most|largest|biggest|highest|top|cheapest|lowest|smallest|least)"
)
_POSITION_NUMBER = re.compile(
    r"(?:\b(?:polozk\w*|position|item|radek|radku|row)\s+(?:c\.|cislo|no\.?|number|#|pc\.?)?\s*|\bpc\.?\s*|#)"
    r"(\d{1,4})\b(?![.,]\d)"
)
_CODE_WORD = re.compile(r"\b(?:kod\w*|code)\s*[:#]?\s*([a-z0-9][a-z0-9.\-/]{1,40})")
_CODE = re.compile(r"\b(\d{5,12}(?:\.\d+)?[a-z]?\d*|\d{2,}[a-z]{1,3}\d+[a-z0-9]*|pol\s?\d{1,6})\b")
_STATUS_WORDS = (
    (re.compile(r"\b(?:cerven\w*|red|rude)\b"), "RED"),
    (re.compile(r"\b(?:oranzov\w*|zlut\w*|amber|orange|yellow)\b"), "AMBER"),
    (re.compile(r"\b(?:zelen\w*|green)\b"), "GREEN"),
)
_PROBLEM = re.compile(
    r"\b(?:problem\w*|chyb\w*|nalez\w*|findings?|issues?|vad\w*|spatn\w*|wrong|errors?|warnings?|varovan\w*"
    r"|podezrel\w*|suspicious|flagged|nedostatk\w*|kriticke|critical|attention|pozornost\w*|reviz\w*"
    r"|needs?\s+review|ke\s+kontrole)\b"
)
_FILTERS = (
    (
        re.compile(
            r"\b(?:bez|chybejic\w*|nulov\w*|zero|no|missing|without|nevyplnen\w*|prazdn\w*|empty)\s+"
            r"(?:a\s+|an\s+|any\s+|the\s+|zadne\s+|zadnou\s+)?(?:jednotkov\w*\s+|unit\s+)?(?:cen\w*|prices?)\b|\b(?:neocenen\w*|unpriced|nenacenen\w*)\b"
            r"|\b(?:nemaj\w*|nema|have\s+no|has\s+no|(?:don'?t|do\s+not|does\s+not|doesn'?t)\s+have)\s+"
            r"(?:a\s+|any\s+|zadnou\s+)?(?:jednotkov\w*\s+|unit\s+)?(?:cen\w*|prices?)\b"
            r"|\bcen\w*\s+(?:je\s+)?(?:nula|nulova|0)\b"
        ),
        "unpriced",
    ),
    (
        re.compile(
            r"\b(?:bez|chybejic\w*|nulov\w*|zero|no|missing|without|nevyplnen\w*|prazdn\w*|empty)\s+"
            r"(?:a\s+|any\s+|the\s+)?(?:mnozstv\w*|vymer\w*|quantit\w*|qty)\b"
            r"|\b(?:nemaj\w*|nema|have\s+no|has\s+no|(?:don'?t|do\s+not|does\s+not|doesn'?t)\s+have)\s+"
            r"(?:a\s+|any\s+|zadne\s+)?(?:mnozstv\w*|vymer\w*|quantit\w*|qty)\b"
        ),
        "no_quantity",
    ),
    (
        re.compile(r"\b(?:bez|chybejic\w*|no|missing|without|prazdn\w*|empty)\s+(?:kod\w*|codes?)\b"),
        "no_code",
    ),
    (re.compile(r"\b(?:duplicit\w*|duplicates?|duplicated|dvakrat|twice|zdvojen\w*)\b"), "duplicates"),
)
_ORDER = (
    (
        re.compile(
            r"\b(?:nejdraz\w*|most\s+expensive|largest|biggest|nejvets\w*|highest|nejvyss\w*|top|costliest|priciest)\b"
        ),
        "most_expensive",
    ),
    (re.compile(r"\b(?:nejlevn\w*|cheapest|nejmens\w*|smallest|lowest|nejniz\w*)\b"), "cheapest"),
)
_COUNT = re.compile(
    r"\b(?:kolik\s+(?:je\s+|ma\s+|mame\s+|obsahuje\s+)?(?:tam\s+)?(?:polozek|radku)|pocet\s+(?:polozek|radku)"
    r"|how\s+many\s+(?:positions|items|lines|rows)|number\s+of\s+(?:positions|items|lines)|count)\b"
)
_QUANTITY = re.compile(
    rf"\b(?:kolik|how\s+many|how\s+much)\s+(?:je\s+|ma\s+)?(?:tam\s+)?{_UNIT}(?=\s|$|\?)"
    rf"|\b(?:mnozstvi|objem\w*|vymer\w*|quantity|volume|kubatur\w*|plocha|area)\b"
)
_PER_UNIT = re.compile(rf"(?:\bna\b|\bper\b|/|\bza\b)\s*(?:1\s*)?{_UNIT}(?=\s|$|\?|\.)")
_RATIO_WORDS = re.compile(r"\b(?:pomer\w*|ratio|spotreb\w*|podil\w*|vs|versus)\b")
_CATEGORY = re.compile(
    r"\b(?:dil\w*|sekc\w*|section|kapitol\w*|category|kategori\w*|oddil\w*|chapter)\s+"
    r"(?:c\.\s*|cislo\s*)?([a-z0-9][a-z0-9 .\-]{0,60}?)(?=\s+(?:v|ve|in|za|na|for|of)\s|\s*[?!.,]|$)"
)

_HELP = re.compile(
    r"^(?:help|napoveda|pomoc|\?+|menu|info)\W*$|\b(?:co\s+umis|co\s+dokazes|co\s+vsechno|what\s+can\s+you"
    r"|how\s+(?:do|can|should)\s+i\s+ask|jak\s+se\s+(?:te\s+)?(?:mam\s+)?ptat|co\s+se\s+(?:te\s+)?muzu\s+zeptat"
    r"|what\s+(?:can|should|may)\s+i\s+ask|what\s+do\s+you\s+(?:know|understand)|co\s+se\s+(?:te\s+)?(?:muzu|mohu|da)\s+ptat"
    r"|napoveda|ukaz\s+prikazy|commands)\b"
)
_DELETE = re.compile(
    r"\b(?:smaz|smazat|smazte|smazes|odstran|odstranit|odstrante|vymaz|vymazat|vymazte|zrus|zrusit|zruste"
    r"|delete|remove|drop|vyhod|vyhodit|vyrad|vyradit)\b"
)
_SET = re.compile(
    r"\b(?:zmen|zmenit|zmente|nastav|nastavit|nastavte|uprav|upravit|upravte|oprav|opravit|opravte|prepis"
    r"|prepsat|prepiste|zvys|zvysit|sniz|snizit|change|set|update|modify|make|adjust|correct|fix)\b"
    r"|\b(?:ma\s+byt|ma\s+mit|mela\s+by\s+byt|mel\s+by\s+byt|should\s+be|must\s+be)\b"
)
_QUANTITY_FIELD = re.compile(r"\b(?:mnozstvi|vymer\w*|pocet|quantity|qty|amount|objem)\b")
_PRICE_FIELD = re.compile(r"\b(?:cen\w*|price|rate|j\.?\s?c\.?|jc)\b")
_RUN_AUDIT = re.compile(
    r"\b(?:spust\w*|proved\w*|provest|udelej\w*|zahaj\w*|pust\w*|run|rerun|start|launch|trigger|do|perform)\b"
    r"(?:\s+\w+){0,3}\s+(?:audit\w*|kontrol\w*|check|review)\b"
    r"|^(?:audituj\w*|zaudituj\w*|proved\s+audit|audit)\b(?!.*\?)"
    r"|^(?:zkontroluj\w*|prekontroluj\w*|check)(?:\s+(?:cely|celej|the|my|muj|whole))?"
    r"(?:\s+(?:rozpocet|projekt|vse|vsechno|budget|project|everything|all))?\W*$"
    r"|\b(?:audit|check)\s+(?:the\s+|my\s+)?(?:budget|project|rozpocet|projekt)\b(?!.*\?)"
    r"|\b(?:znovu|again)\s+(?:audit\w*|zkontroluj\w*)"
)
_EXPORT = re.compile(r"\b(?:export\w*|vyexport\w*|stahn\w*|stahnout|download|uloz\w*\s+(?:do|jako))\b")
_GENERATE = re.compile(r"\b(?:vygeneruj\w*|vytvor\w*|generate|create|make|dej\s+mi|give\s+me)\b")
_EXPLAIN = re.compile(
    r"\b(?:proc|procpak|why|duvod\w*|reason\w*|vysvetl\w*|explain|zduvodn\w*)\b"
    r"|\bco\s+je\s+(?:spatne|spatneho)\b|\bwhat(?:'s|\s+is)\s+wrong\b|\bco\s+(?:je\s+)?s\s+(?:polozk\w*|kod\w*)"
)
_CHANGES = re.compile(
    r"\b(?:zmenil\w*|zmeny|zmena|zmenach|zmenen\w*|changed|changes|rozdil\w*|difference|differences|diff"
    r"|co\s+je\s+nov\w*|what(?:'s|\s+is)\s+new|pribyl\w*|ubyl\w*|added|removed|pridan\w*|odstranen\w*|smazan\w*"
    r"|modified|upraven\w*|historie|history|delta|vyvoj|compare|porovn\w*)\b"
)
_TOTAL_STRONG = re.compile(
    r"\bkolik\s+(?:to\s+|nas\s+|me\s+)?(?:stoj\w*|je\s+(?:celkov|cena)\w*|dela|bude\s+stat|vyjde|penez|celkem)"
    r"|\bhow\s+much\b|\bwhat\s+(?:does|do|is|are)\b(?=.*\bcost)|\bcelkov\w*\s+(?:cen|naklad|sum)\w*|\btotal\s+(?:cost|price|value)"
    r"|\bcena\s+(?:celkem|za|vsech)\b|\bsoucet\b|\bsum\s+of\b|\bcena\b.*\?|\bcost\s+of\b"
)
_TOTAL_WEAK = re.compile(
    r"\b(?:kolik|stoj\w*|cen[auy]|naklad\w*|celkem|celkov\w*|suma|soucet|sum|total|cost\w*|price|hodnot\w*|value"
    r"|rozpoc\w*|budget|vyjde)\b"
)
_FIND = re.compile(
    r"\b(?:najdi|najdete|najit|vyhledej\w*|hledej\w*|hledam|ukaz\w*|zobraz\w*|vypis\w*|seznam|list|show|find"
    r"|search|look\s+up|dej\s+mi|give\s+me|filtr\w*|filter)\b"
    r"|\b(?:which|ktere|ktera|ktery|jake|jaky|what|where|kde)\b(?=.*\b(?:polozk\w*|positions?|items?|radk\w*|rows?"
    r"|lines?|obsahuj\w*|contain\w*|maji|have|has)\b)"
)
_CHECK = re.compile(r"\b(?:zkontroluj\w*|prekontroluj\w*|check|verify|overit|overte|prover\w*)\b")
_AUDIT_WORD = re.compile(r"\b(?:audit\w*|kontrol\w*|verdikt\w*|verdicts?)\b")
_CZECH_HINT = re.compile(
    r"\b(?:kolik|stoji|polozk\w*|ktere|jsou|najdi|zmen\w*|smaz\w*|spust\w*|verz\w*|proc|co|je|na|ve?|bez|cen\w*"
    r"|nastav\w*|mnozstvi|vyztuz\w*|beton\w*|dil\w*|exportuj|vcera|dnes)\b"
)
_CZECH_LETTERS = re.compile(r"[áčďéěíňóřšťúůýž]", re.IGNORECASE)


class _Slots:
    """The folded message with taken spans blanked out (same length, so spans stay valid)."""

    def __init__(self, folded: str) -> None:
        self.folded = folded
        self.rest = folded

    def take(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        match = pattern.search(self.rest)
        if match is not None:
            self.blank(match.start(), match.end())
        return match

    def take_last(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        last = None
        for match in pattern.finditer(self.rest):
            last = match
        if last is not None:
            self.blank(last.start(), last.end())
        return last

    def blank(self, start: int, end: int) -> None:
        self.rest = self.rest[:start] + " " * (end - start) + self.rest[end:]


def detect_language(message: str, folded: str) -> str:
    if _CZECH_LETTERS.search(message):
        return "cs"
    english = re.search(r"\b(?:the|what|how|which|is|are|of)\b", folded)
    return "cs" if _CZECH_HINT.search(folded) and not english else "en"


def _object_code(match: re.Match[str]) -> str:
    prefix = "PS" if match.group(1) == "ps" else "SO"
    return f"{prefix} {match.group(2).upper()}"


def _unit(text: str | None) -> str | None:
    return _UNIT_WORDS.get(text) if text else None


def _terms(text: str, written: dict[str, str], wording: list[tuple[str, str]]) -> tuple[str, ...]:
    """Search stems from what is left of a message (English materials translated); `wording` collects
    each stem with the word as written."""
    found: list[str] = []
    for word in words(text):
        if word in STOPWORDS or len(word) < 3 or (any(ch.isdigit() for ch in word) and "/" not in word):
            continue
        term = ENGLISH_STEMS.get(word) or (word if "/" in word else stem(word))
        if term not in found:
            found.append(term)
            wording.append((term, written.get(word, word)))
    return tuple(found)


def _since(slots: _Slots) -> str | None:
    if match := slots.take(_SINCE_DAYS):
        return f"{int(match.group(1))}d"
    for pattern, label in _SINCE:
        if slots.take(pattern):
            return label
    if match := slots.take(_ISO_DATE):
        return f"{match.group(1)}-{match.group(2)}-{match.group(3)}"
    if match := slots.take(_CZ_DATE):
        day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
        if 1 <= day <= 31 and 1 <= month <= 12:
            return f"{year or '*'}-{month:02d}-{day:02d}"
    return None


def parse_message(message: str) -> Intent:
    """Read one chat message: the intent, its parameters and how sure the reading is."""
    folded = fold(message.replace("\x00", " "))[:2000]  # PostgreSQL refuses NUL in text and jsonb
    language = detect_language(message, folded)
    slots = _Slots(folded)
    found: dict[str, Any] = {"language": language}

    if match := slots.take(_QUOTED):
        found["text"] = match.group(1).strip()
    if match := slots.take(_FORMAT):
        found["export_format"] = "csv" if match.group(1) == "csv" else "xlsx"
    if match := slots.take(_OBJECT):
        found["object_code"] = _object_code(match)
    if match := slots.take(_VERSION_RANGE) or slots.take(_VERSION_PAIR):
        found["version_from"], found["version"] = int(match.group(1)), int(match.group(2))
    elif match := slots.take(_VERSION_SINCE):
        found["version_from"] = int(match.group(1))
    elif match := slots.take(_VERSION):
        found["version"] = int(match.group(1) or match.group(2))
    if since := _since(slots):
        found["since"] = since
    if match := slots.take(_MIN_TOTAL):
        found["min_total"] = parse_number(match.group(1), language)
    if match := slots.take(_MAX_TOTAL):
        found["max_total"] = parse_number(match.group(1), language)

    is_delete = bool(_DELETE.search(folded))
    is_set = bool(_SET.search(folded)) and not is_delete
    if is_set and (match := slots.take_last(_COMMAND_VALUE)):
        found["value"] = parse_number(match.group(1), language)
    if match := slots.take(_TOP):
        found["limit"] = int(match.group(1) or match.group(2))
    if match := slots.take(_POSITION_NUMBER):
        found["position_number"] = match.group(1)
    if match := slots.take(_CODE_WORD):
        found["code"] = match.group(1).upper().rstrip(".")
    elif match := slots.take(_CODE):
        found["code"] = match.group(1).replace(" ", "").upper()

    statuses = [status for pattern, status in _STATUS_WORDS if slots.take(pattern)]
    problem = bool(slots.take(_PROBLEM))
    for pattern, name in _FILTERS:
        if slots.take(pattern):
            found["filter"] = name
            break
    for pattern, name in _ORDER:
        if slots.take(pattern):
            found["order"] = name
            break
    if match := slots.take(_CATEGORY):
        found["category"] = match.group(1).strip()

    ratio_words = bool(slots.take(_RATIO_WORDS))
    per = slots.take(_PER_UNIT)
    count = bool(_COUNT.search(folded))
    quantity = slots.take(_QUANTITY) if not per else None
    if quantity is not None and quantity.lastindex and quantity.group(1):
        found["unit"] = _unit(quantity.group(1))

    # The grammar's words themselves are no search terms.
    for pattern in (
        _HELP,
        _DELETE,
        _SET,
        _QUANTITY_FIELD,
        _PRICE_FIELD,
        _RUN_AUDIT,
        _EXPORT,
        _EXPLAIN,
        _CHANGES,
        _TOTAL_STRONG,
        _COUNT,
        _FIND,
        _AUDIT_WORD,
        _CHECK,
        _POLITE,
    ):
        for match in list(pattern.finditer(slots.rest)):
            slots.blank(match.start(), match.end())

    written = {fold(word): word for word in re.findall(r"[\w/]+", message)}
    wording: list[tuple[str, str]] = []
    if per is not None:
        found["per_unit"] = _unit(per.group(1))
        found["terms"] = _terms(slots.rest[: per.start()], written, wording)
        found["per_terms"] = _terms(slots.rest[per.end() :], written, wording)
    else:
        found["terms"] = _terms(slots.rest, written, wording)
    found["wording"] = tuple(wording)

    name, confidence = _decide(
        folded,
        found,
        statuses=statuses,
        problem=problem,
        is_delete=is_delete,
        is_set=is_set,
        per=per is not None,
        ratio_words=ratio_words,
        count=count,
        quantity=quantity is not None,
    )
    if name == "findings" and not statuses:
        statuses = ["RED", "AMBER"] if name == "findings" else []
    if name == "findings" or (name in ("total", "find", "explain") and statuses):
        found["statuses"] = tuple(statuses)
    if name == "total":
        found["measure"] = "count" if count else "quantity" if quantity is not None else None
    if name == "set_quantity" or name == "set_price":
        missing = []
        if found.get("value") is None:
            missing.append("value")
        if not (found.get("code") or found.get("position_number") or found.get("text") or found.get("terms")):
            missing.append("position")
        found["missing"] = tuple(missing)
    if name == "delete_position" and not (
        found.get("code") or found.get("position_number") or found.get("text") or found.get("terms")
    ):
        found["missing"] = ("position",)
    if name == "export" and "export_format" not in found:
        found["export_format"] = "xlsx"
    kept = _KEPT.get(name, _KEPT_DEFAULT)
    return Intent(
        name=name,
        confidence=confidence,
        **{k: v for k, v in found.items() if k in kept or k in ("language", "wording")},
    )


# Which parameters each intent carries (the rest were read but mean nothing for it).
_REFS = {"object_code", "code", "position_number", "text", "terms", "category"}
_KEPT_DEFAULT: frozenset[str] = frozenset()
_KEPT: dict[str, frozenset[str]] = {
    "total": frozenset(_REFS | {"statuses", "measure", "unit", "filter", "min_total", "max_total", "version"}),
    "findings": frozenset(_REFS | {"statuses", "limit", "order"}),
    "explain": frozenset(_REFS | {"statuses"}),
    "changes": frozenset({"version", "version_from", "since", "object_code", "code", "terms", "category"}),
    "find": frozenset(_REFS | {"statuses", "filter", "order", "limit", "min_total", "max_total", "version"}),
    "ratio": frozenset({"object_code", "category", "terms", "per_unit", "per_terms"}),
    "set_quantity": frozenset({"object_code", "code", "position_number", "text", "terms", "value", "missing"}),
    "set_price": frozenset({"object_code", "code", "position_number", "text", "terms", "value", "missing"}),
    "delete_position": frozenset({"object_code", "code", "position_number", "text", "terms", "missing"}),
    "run_audit": frozenset(),
    "export": frozenset({"export_format", "version"}),
    "help": frozenset(),
    "unknown": frozenset(),
}


def _decide(
    folded: str,
    found: dict[str, Any],
    *,
    statuses: list[str],
    problem: bool,
    is_delete: bool,
    is_set: bool,
    per: bool,
    ratio_words: bool,
    count: bool,
    quantity: bool,
) -> tuple[str, float]:
    """The intent rules, most specific first; the confidence says how many signals agreed."""
    has_ref = bool(found.get("code") or found.get("position_number") or found.get("text"))
    has_scope = bool(found.get("object_code") or found.get("category") or found.get("terms"))
    polite = bool(_POLITE.match(folded))
    question = not polite and (
        folded.endswith("?")
        or bool(re.match(r"^(?:co|kolik|ktere|ktera|jak|proc|je|jsou|what|which|how|why|is|are|does|do)\b", folded))
    )
    if _HELP.search(folded):
        return "help", 0.95
    if is_delete and not question:
        return "delete_position", 0.95 if (has_ref or found.get("terms")) else 0.6
    has_value = found.get("value") is not None
    if is_set and (has_value or not question) and not _CHANGES_QUESTION.search(folded):
        if _PRICE_FIELD.search(folded) and not _QUANTITY_FIELD.search(folded):
            return "set_price", 0.95 if has_value else 0.7
        if _QUANTITY_FIELD.search(folded):
            return "set_quantity", 0.95 if has_value else 0.7
    if _RUN_AUDIT.search(folded):
        return "run_audit", 0.95
    if (_EXPORT.search(folded) or (_GENERATE.search(folded) and found.get("export_format"))) and not question:
        return "export", 0.95 if found.get("export_format") else 0.85
    if _EXPLAIN.search(folded) and (has_ref or found.get("terms") or statuses):
        return ("explain", 0.9) if has_ref or found.get("terms") else ("findings", 0.85)
    if (found.get("version") is not None or found.get("version_from") is not None or found.get("since")) and (
        _CHANGES.search(folded)
        or not (_TOTAL_WEAK.search(folded) or _FIND.search(folded) or found.get("terms") or statuses or problem)
    ):
        return "changes", 0.95 if _CHANGES.search(folded) else 0.75
    if _CHANGES.search(folded) and not found.get("filter"):
        return "changes", 0.9
    if per and (ratio_words or re.search(r"\b(?:kolik|how\s+much|how\s+many|what)\b|^(?:kg|t|m2|m3|m|ks)\b", folded)):
        return "ratio", 0.9
    if per and found.get("terms") and found.get("per_terms"):
        return "ratio", 0.8
    if ratio_words and found.get("terms") and len(found["terms"]) >= 2:
        return "ratio", 0.7
    if found.get("filter"):
        return "find", 0.9
    if _TOTAL_STRONG.search(folded) or count or quantity:
        return "total", 0.95
    if statuses or problem or (_AUDIT_WORD.search(folded) and question):
        return "findings", 0.9 if statuses else 0.8
    if found.get("order") or found.get("min_total") is not None or found.get("max_total") is not None:
        return "find", 0.9
    if _FIND.search(folded) and (has_ref or has_scope):
        return "find", 0.85
    if _CHECK.search(folded) and (has_ref or has_scope):
        return "findings", 0.7
    if re.search(r"\b(?:kde|where)\b", folded) and (has_ref or has_scope):
        return "find", 0.7
    if _TOTAL_WEAK.search(folded):
        return "total", 0.8
    if has_ref:
        return "find", 0.6
    if found.get("object_code") or found.get("category"):
        return "total", 0.6
    return "unknown", 0.0


_POLITE = re.compile(
    r"^(?:muzes|muzete|mohl\w*|mohla|prosim|bud\s+tak\s+hodn\w*|can\s+you|could\s+you|would\s+you|please)\b"
)
_CHANGES_QUESTION = re.compile(r"\b(?:co|what|ktere|which|jake)\b.*\b(?:zmenil\w*|zmeneno|changed|zmeny|changes)\b")
