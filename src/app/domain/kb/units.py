"""Units of measure: one canonical spelling per unit, so that OTSKP's ``M3`` equals ÚRS's ``m3``."""

from __future__ import annotations

from functools import lru_cache

_CANONICAL: dict[str, str] = {
    # length, area, volume
    "m": "m",
    "bm": "m",
    "mb": "m",
    "m1": "m",
    "km": "km",
    "hm": "hm",
    "cm": "cm",
    "mm": "mm",
    "m2": "m2",
    "ha": "ha",
    "m3": "m3",
    "m3op": "m3op",  # OTSKP: cubic metre of scaffolded space
    "dm3": "dm3",
    "l": "l",
    "litr": "l",
    "litrů": "l",
    # mass, transport
    "t": "t",
    "tuna": "t",
    "tun": "t",
    "kg": "kg",
    "g": "g",
    "tkm": "tkm",
    # count, sets, lump sums
    "kus": "kus",
    "ks": "kus",
    "kusy": "kus",
    "kusů": "kus",
    "pár": "pár",
    "par": "pár",
    "sada": "sada",
    "sad": "sada",
    "kpl": "kpl",
    "komplet": "kpl",
    "soubor": "kpl",
    "%": "%",
    # time
    "h": "h",
    "hod": "h",
    "hodina": "h",
    "hodin": "h",
    "nh": "h",
    "den": "den",
    "dny": "den",
    "dní": "den",
    "týden": "týden",
    "měsíc": "měsíc",
    "měs": "měsíc",
    "mes": "měsíc",
    "rok": "rok",
    # OTSKP unit-days (rent of barriers, signs, scaffolding per day)
    "mden": "mden",
    "m2den": "m2den",
    "kusden": "kusden",
    "ksden": "kusden",
}

KNOWN_UNITS = frozenset(_CANONICAL.values())
"""Canonical units the audit accepts as known."""


@lru_cache(maxsize=4096)
def normalize_unit(unit: str | None) -> str:
    """Canonical spelling of a unit (``M3`` → ``m3``, ``ks`` → ``kus``, ``hod`` → ``h``); "" if empty.

    An unknown unit comes back lower-cased and without spaces, so equal spellings still compare equal.
    """
    if not unit:
        return ""
    key = "".join(unit.split()).lower().replace("²", "2").replace("³", "3").rstrip(".")
    return _CANONICAL.get(key, key)


def is_known_unit(unit: str | None) -> bool:
    """Whether the unit is one of the units budgets use (see ``KNOWN_UNITS``)."""
    return normalize_unit(unit) in KNOWN_UNITS


def same_unit(a: str | None, b: str | None) -> bool:
    """Equal after normalising case and synonyms; two missing units are not "the same"."""
    na, nb = normalize_unit(a), normalize_unit(b)
    return bool(na) and na == nb


_DIMENSIONS: dict[str, str] = {
    **dict.fromkeys(("m3", "m3op", "dm3", "l"), "volume"),
    **dict.fromkeys(("m2", "ha"), "area"),
    **dict.fromkeys(("m", "km", "hm", "cm", "mm"), "length"),
    **dict.fromkeys(("t", "kg", "g"), "mass"),
    **dict.fromkeys(("kus", "pár", "sada"), "count"),
    **dict.fromkeys(("h", "den", "týden", "měsíc", "rok"), "time"),
}


def unit_dimension(unit: str | None) -> str | None:
    """What a unit measures: volume, area, length, mass, count or time (None for lump sums and unknowns).

    Two units of one dimension convert (t and kg); units of different dimensions never do (m3 and t).
    """
    return _DIMENSIONS.get(normalize_unit(unit))
