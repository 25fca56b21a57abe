"""Cell values (spreadsheet cells, XML text, CSV fields) as clean text and comparable labels."""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Sequence
from typing import TypeAlias

Cell: TypeAlias = (
    int | float | str | bool | datetime.date | datetime.datetime | datetime.time | datetime.timedelta | None
)

_FOLD_CACHE: dict[str, str] = {}
_CZECH_DATE = re.compile(r"(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4})")


def cell_text(value: Cell) -> str:
    """The cell as trimmed text: whole floats lose ".0" (PČ 1.0 → "1"), line ends become "\\n"."""
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").strip()
    if isinstance(value, datetime.datetime | datetime.date):
        return value.strftime("%d.%m.%Y")
    return str(value).strip()


def fold(value: Cell) -> str:
    """A label reduced for matching: no diacritics, lower case, letters and digits only.

    "J.cena [CZK]" → "jcenaczk", "Množství" → "mnozstvi", "PČ" → "pc".
    """
    text = value if isinstance(value, str) else cell_text(value)
    cached = _FOLD_CACHE.get(text)
    if cached is not None:
        return cached
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))
    if len(_FOLD_CACHE) < 10_000:
        _FOLD_CACHE[text] = folded
    return folded


def row_excerpt(row: Sequence[Cell]) -> str:
    """The row's non-empty cells as text, " | " between them (how a skipped row is shown)."""
    return " | ".join(text for text in (cell_text(value) for value in row) if text)


def is_blank_row(row: Sequence[Cell]) -> bool:
    return all(value is None or value == "" for value in row)


def iso_date(text: str) -> str | None:
    """A Czech date ("08.09.2025", "20. 1. 2026") as ISO "2025-09-08"; ``None`` if it is not one."""
    match = _CZECH_DATE.fullmatch(text.strip())
    if match is None:
        return None
    day, month, year = (int(part) for part in match.groups())
    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None
