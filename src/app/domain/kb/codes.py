"""Catalogue codes: how they are normalised for look-up and which catalogue their shape belongs to.

ÚRS/KROS work items have 9 digits (``273313611``), ÚRS materials 8 (``58933310``), manufacturer
variants a suffix (``311272031.XLA``); OTSKP codes have 5–6 characters (``272325``, ``45131A``);
RTS codes mix digits and letters (``005211020R``); budgets also carry private codes (``Pol31``).
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache


class CodeShape(StrEnum):
    """The family a code's shape points to; ``PRIVATE``/``OTHER`` are not catalogue codes."""

    URS = "urs"
    URS_MATERIAL = "urs_material"
    URS_VARIANT = "urs_variant"
    OTSKP = "otskp"
    RTS = "rts"
    PRIVATE = "private"
    OTHER = "other"
    MISSING = "missing"


CATALOG_SHAPES = frozenset(
    {CodeShape.URS, CodeShape.URS_MATERIAL, CodeShape.URS_VARIANT, CodeShape.OTSKP, CodeShape.RTS}
)
"""Shapes of codes that a reference catalogue can be expected to contain."""

FAMILY = {
    CodeShape.URS: "urs",
    CodeShape.URS_MATERIAL: "urs",
    CodeShape.URS_VARIANT: "urs",
    CodeShape.OTSKP: "otskp",
    CodeShape.RTS: "rts",
}
"""Catalogue family of each catalogue shape (ÚRS work, material and variant codes are one family)."""

_URS = re.compile(r"\d{9}")
_URS_MATERIAL = re.compile(r"\d{8}")
_URS_VARIANT = re.compile(r"\d{8,9}\.[0-9A-Z][0-9A-Z.]*")
_OTSKP = re.compile(r"(?=[0-9A-Z]{5,6}$)\d{2,}[0-9A-Z]*")
_USER_R = re.compile(r"\d{4,10}R")  # KROS/RTS "R-položka": a catalogue number with an R suffix
_KROS_R = re.compile(r"\d{3,}R\d+")  # KROS R-item numbered within its section (621R100)
_RTS = re.compile(r"\d{3,}[0-9A-Z]*[A-Z][0-9A-Z]*")
_PRIVATE = re.compile(r"[A-Z].*|.*POL\d*")


@lru_cache(maxsize=65536)
def _normalized(code: str) -> str:
    return "".join(code.split()).upper()


def normalize_code(code: str | None) -> str:
    """Upper-case, without whitespace: the key under which catalogue items are looked up."""
    return _normalized(code) if code else ""


@lru_cache(maxsize=65536)
def code_shape(code: str | None, catalog: str | None = None) -> CodeShape:
    """Classify a code by its shape; ``catalog`` (e.g. "RTS 24/II") settles shapes that are ambiguous."""
    key = normalize_code(code)
    if not key:
        return CodeShape.MISSING
    hint = (catalog or "").upper()
    if _URS.fullmatch(key):
        return CodeShape.URS
    if _URS_MATERIAL.fullmatch(key):
        return CodeShape.URS_MATERIAL
    if _URS_VARIANT.fullmatch(key):
        return CodeShape.URS_VARIANT
    if _USER_R.fullmatch(key) or _KROS_R.fullmatch(key):
        return CodeShape.RTS if "RTS" in hint else CodeShape.PRIVATE
    if _PRIVATE.fullmatch(key):
        return CodeShape.PRIVATE
    if _OTSKP.fullmatch(key):
        return CodeShape.RTS if "RTS" in hint else CodeShape.OTSKP
    if _RTS.fullmatch(key):
        return CodeShape.RTS
    return CodeShape.OTHER


def code_family(code: str | None, catalog: str | None = None) -> str | None:
    """ "urs", "otskp" or "rts" for catalogue-shaped codes, else ``None``."""
    return FAMILY.get(code_shape(code, catalog))


def base_code(code: str | None) -> str | None:
    """The catalogue number under a manufacturer variant (``311272031.XLA`` → ``311272031``)."""
    key = normalize_code(code)
    if _URS_VARIANT.fullmatch(key):
        return key.split(".", 1)[0]
    return None


def element_group(code: str | None) -> str | None:
    """The construction group of a numeric catalogue code: its first two digits (27 = foundations).

    ÚRS and OTSKP both start with the TSKP classification, so concrete, formwork and reinforcement of
    one element share this prefix (``274313611`` / ``274351121`` / ``274361821``).
    """
    key = normalize_code(code)
    if len(key) >= 5 and key[:2].isdigit():
        return key[:2]
    return None
