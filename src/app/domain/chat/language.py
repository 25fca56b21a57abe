"""Reading Czech and English budget questions: text folding, numbers, word stems and money.

Pure functions. The assistant matches on *folded* text (lower case, no diacritics, one space), so
"Kolik stojí beton?" and "kolik stoji BETON" read alike; numbers are read the way Czech estimators
write them ("12,5", "1 250,00", "4.900 Kč") as well as the English way ("1,250.00").
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

# Spaces people put between thousands: plain, no-break and narrow no-break.
_THOUSANDS_SPACE = "[ \u00a0\u202f]"
NUMBER_PATTERN = rf"-?(?:\d{{1,3}}(?:(?:{_THOUSANDS_SPACE}|[.,])\d{{3}})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)(?!\d)"
_NUMBER = re.compile(rf"(?<![\w.,/]){NUMBER_PATTERN}(?![\w/])")


def _latin_letter_table() -> dict[int, str]:
    """Accented Latin letters (À…ž) → their base letter, for str.translate."""
    table = {}
    for code in range(0xC0, 0x180):
        base = unicodedata.normalize("NFKD", chr(code))[0]
        if base.isascii() and base.isalpha():
            table[code] = base
    return table


_LATIN_LETTERS = _latin_letter_table()


def fold(text: str) -> str:
    """Lower case without diacritics, whitespace collapsed ("Změň  MNOŽSTVÍ" → "zmen mnozstvi").

    Czech letters go through a translation table (fast: descriptions of whole budgets are folded);
    anything else accented is decomposed the Unicode way.
    """
    translated = text.translate(_LATIN_LETTERS)
    if not translated.isascii():
        decomposed = unicodedata.normalize("NFKD", translated)
        translated = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(translated.lower().split())


def parse_number(text: str, language: str = "cs") -> Decimal | None:
    """A number as written in Czech or English: "12,5", "1 250,00", "1.250,00", "1,250.00", "35".

    A lone comma is the decimal comma in Czech ("12,500" is 12.5) and a thousands separator in
    English when three digits follow it ("250,000"); a lone dot is the decimal point, unless it
    separates more than one group of three digits. Returns None for anything else.
    """
    value = "".join(text.split()).replace("\u00a0", "").replace("\u202f", "")
    if not value:
        return None
    if "," in value and "." in value:
        decimal_mark = "," if value.rfind(",") > value.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        value = value.replace(thousands, "").replace(decimal_mark, ".")
    elif value.count(",") > 1 or value.count(".") > 1:
        value = value.replace(",", "").replace(".", "")
    elif language == "en" and re.fullmatch(r"-?\d{1,3},\d{3}", value):
        value = value.replace(",", "")
    else:
        value = value.replace(",", ".")
    if not re.fullmatch(r"-?\d+(?:\.\d+)?", value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def find_numbers(text: str) -> list[tuple[Decimal, int, int]]:
    """Every number in the text with its span."""
    found = []
    for match in _NUMBER.finditer(text):
        number = parse_number(match.group(0))
        if number is not None:
            found.append((number, match.start(), match.end()))
    return found


# Czech endings removed to reach a stem that matches every case of a noun or adjective.
_ENDING_TEXT = (
    "ovych ovymi ovou ovem ovym ove ovy ova ovi ami emi ach ech ich ych ymi imi eho emu ymu imu ou em im ym ho mu"
    " u y e i a o"
)
_ENDINGS = sorted(
    _ENDING_TEXT.split(),
    key=len,
    reverse=True,
)
_MIN_STEM = 3
# What may follow a stem inside a description word: derivation (-ov-, -n-, -ovan-) and a case ending.
_ALLOWED_TAIL = re.compile(
    r"(?:ovan|ov|an|en|n)?(?:[aeiouy]|em|ou|ho|mu|ch|mi|ami|emi|ach|ech|ich|ych|ym|ymi|im|imi|eho|emu|ymu|imu)?"
)


def stem(word: str) -> str:
    """A folded Czech word without its case ending ("vyztuze" → "vyztuz", "betonu" → "beton")."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_STEM:
            return word[: -len(ending)]
    return word


# Compounds whose first part makes them another material: pórobeton (aerated concrete: Ytong blocks,
# ceiling inserts) is masonry in a budget, and an estimator asking about "beton" does not mean it.
_OTHER_MATERIAL_PREFIXES = ("poro",)


def word_matches(stem_: str, word: str) -> bool:
    """Whether a description word is a form of the stem, possibly inside a compound ("zelezobetonu").

    Only inflection and adjective endings may follow the stem, so "betonarske" (of reinforcing
    steel) is not a form of "beton"; nor is "porobetonovych" (see _OTHER_MATERIAL_PREFIXES).
    """
    start = word.find(stem_)
    while start >= 0:
        if _ALLOWED_TAIL.fullmatch(word[start + len(stem_) :]) and not word[:start].endswith(_OTHER_MATERIAL_PREFIXES):
            return True
        start = word.find(stem_, start + 1)
    return False


_WORD = re.compile(r"[a-z0-9]+(?:/[a-z0-9]+)?")


def words(folded: str) -> list[str]:
    """Words of folded text; strength classes such as "c30/37" stay one word."""
    return _WORD.findall(folded)


def format_money(value: Decimal, language: str) -> str:
    """1234567.8 → "1 234 567,80 Kč" (cs) or "CZK 1,234,567.80" (en)."""
    grouped = f"{value.quantize(Decimal('0.01')):,.2f}"
    if language == "cs":
        return grouped.replace(",", "\u00a0").replace(".", ",") + "\u00a0Kč"
    return f"CZK {grouped}"


def format_number(value: Decimal, language: str, places: int = 2) -> str:
    """A quantity without trailing zeros beyond `places`, in the reader's notation."""
    rounded = value.quantize(Decimal(1).scaleb(-places))
    text = f"{rounded:,.{places}f}".rstrip("0").rstrip(".") if places else f"{rounded:,.0f}"
    if language == "cs":
        return text.replace(",", "\u00a0").replace(".", ",")
    return text


def count_of(count: int, language: str) -> str:
    """ "1 položka", "3 položky", "5 položek" / "1 position", "5 positions"."""
    if language == "cs":
        word = "položka" if count == 1 else "položky" if 2 <= count <= 4 else "položek"
        return f"{count} {word}"
    return f"{count} position{'' if count == 1 else 's'}"
