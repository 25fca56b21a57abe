"""Reading concrete specifications out of position texts: strength class, exposure classes, air content.

Shared by the concrete expert, the structural expert and catalogue matching, so that all three read
"Beton C30/37-XC4, XF1 provzdušněný" the same way.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import msgspec

STANDARD_CLASSES: tuple[tuple[int, int], ...] = (
    (8, 10),
    (12, 15),
    (16, 20),
    (20, 25),
    (25, 30),
    (30, 37),
    (35, 45),
    (40, 50),
    (45, 55),
    (50, 60),
    (55, 67),
    (60, 75),
    (70, 85),
    (80, 95),
    (90, 105),
    (100, 115),
)
"""Compressive strength classes of normal-weight concrete (EN 206 Table 12), C8/10 … C100/115."""

_VALID_CLASSES = frozenset(STANDARD_CLASSES)

EXPOSURE_CLASSES: tuple[str, ...] = (
    "X0",
    "XC1",
    "XC2",
    "XC3",
    "XC4",
    "XD1",
    "XD2",
    "XD3",
    "XS1",
    "XS2",
    "XS3",
    "XF1",
    "XF2",
    "XF3",
    "XF4",
    "XA1",
    "XA2",
    "XA3",
    "XM1",
    "XM2",
    "XM3",
)
"""Exposure classes of EN 206 plus the Czech XM (mechanical abrasion) classes."""

_STRENGTH = re.compile(
    r"(?<![0-9A-Za-zÀ-ž])(?P<do>do\s+)?(?P<lc>L)?C\s?(?P<fck>\d{1,3})\s?/\s?(?P<cube>\d{2,3})(?!\d)",
    re.IGNORECASE,
)
_EXPOSURE = re.compile(
    r"(?<![0-9A-Za-zÀ-ž])X(?:(?P<zero>0)|(?P<kind>[CDSFAM])\s?(?P<grade>[1-4]))(?![0-9A-Za-zÀ-ž])",
    re.IGNORECASE,
)
_MAX_GRADE = {"C": 4, "D": 3, "S": 3, "F": 4, "A": 3, "M": 3}
_CONCRETE_WORD = re.compile(
    r"beton(?!ář)|betón|železob|želbet|(?<![0-9a-zà-ž])žb(?![0-9a-zà-ž])|ž\.\s?b\.|concrete", re.IGNORECASE
)
_AIR_WORD = re.compile(
    r"provzdušn|air[\s-]?entrain|obsah\w*\s+vzduch|vzduchov\w*\s+pór|(?<![0-9A-Za-z])LP(?![0-9A-Za-z])",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"(\d{1,2}(?:[.,]\d{1,2})?)\s*%")


class StrengthClass(msgspec.Struct, frozen=True, order=True, gc=False):
    """A compressive strength class; ordered by characteristic cylinder strength, then cube strength."""

    cylinder: int
    cube: int

    @property
    def label(self) -> str:
        return f"C{self.cylinder}/{self.cube}"

    @classmethod
    def parse(cls, label: str) -> StrengthClass:
        """Parse one label such as "C30/37" or "C 30/37"; raises ``ValueError`` if it is not a class."""
        found = parse_strength_classes(label)
        if not found:
            raise ValueError(f"not a concrete strength class: {label!r}")
        return found[0]


class ConcreteSpec(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What a text says about concrete. Classes and exposures keep the order they appear in."""

    strength_classes: tuple[StrengthClass, ...] = ()
    exposure_classes: tuple[str, ...] = ()
    mentions_concrete: bool = False
    upper_bound: bool = False  # the class was written as a limit ("DO C30/37", OTSKP style)
    air_entrained: bool = False
    air_content_percent: Decimal | None = None

    @property
    def applies(self) -> bool:
        """Whether the text is about concrete at all."""
        return self.mentions_concrete or bool(self.strength_classes) or bool(self.exposure_classes)

    @property
    def weakest_class(self) -> StrengthClass | None:
        return min(self.strength_classes) if self.strength_classes else None


def parse_strength_classes(text: str) -> tuple[StrengthClass, ...]:
    """Normal-weight strength classes in the text (LC lightweight classes are ignored), no repeats."""
    return _read_strength(text)[0]


def parse_exposure_classes(text: str) -> tuple[str, ...]:
    """Exposure classes in the text, upper-case and without spaces ("xc 4" → "XC4"), no repeats."""
    found: list[str] = []
    for match in _EXPOSURE.finditer(text):
        if match.group("zero"):
            label = "X0"
        else:
            kind = match.group("kind").upper()
            grade = int(match.group("grade"))
            if grade > _MAX_GRADE[kind]:
                continue
            label = f"X{kind}{grade}"
        if label not in found:
            found.append(label)
    return tuple(found)


def parse_air_entrainment(text: str) -> tuple[bool, Decimal | None]:
    """Whether air entrainment is mentioned, and the air content in % written next to it if any."""
    for match in _AIR_WORD.finditer(text):
        window = text[max(0, match.start() - 25) : match.end() + 40]
        percent = _PERCENT.search(window)
        value = _decimal(percent.group(1)) if percent else None
        if match.group(0).upper() == "LP" and value is None:
            continue  # a bare "LP" is too ambiguous without a percentage next to it
        return True, value
    return False, None


@lru_cache(maxsize=32768)
def read_concrete_spec(text: str) -> ConcreteSpec:
    """Everything the concrete rules need from one text (cached: budgets repeat their texts)."""
    classes, upper_bound = _read_strength(text)
    exposures = parse_exposure_classes(text)
    air, percent = parse_air_entrainment(text)
    return ConcreteSpec(
        strength_classes=classes,
        exposure_classes=exposures,
        mentions_concrete=bool(_CONCRETE_WORD.search(text)),
        upper_bound=upper_bound,
        air_entrained=air,
        air_content_percent=percent,
    )


def _read_strength(text: str) -> tuple[tuple[StrengthClass, ...], bool]:
    found: list[StrengthClass] = []
    upper_bound = False
    for match in _STRENGTH.finditer(text):
        if match.group("lc"):
            continue
        pair = (int(match.group("fck")), int(match.group("cube")))
        if pair not in _VALID_CLASSES:
            continue
        upper_bound = upper_bound or bool(match.group("do"))
        strength = StrengthClass(*pair)
        if strength not in found:
            found.append(strength)
    return tuple(found), upper_bound


def _decimal(raw: str) -> Decimal | None:
    try:
        return Decimal(raw.replace(",", "."))
    except InvalidOperation:
        return None


_PLAIN = re.compile(r"prost(?:ý|ého|ém|ým)?\.?\s+bet|beton\w*\s+prost|nevyztuž", re.IGNORECASE)
_REINFORCED = re.compile(r"železob|želbet|(?<![0-9a-zà-ž])žb(?![0-9a-zà-ž])|ž\.\s?b\.|(?<!ne)vyztužen", re.IGNORECASE)
_INCLUDES_REBAR = re.compile(r"v[čc](?:etně|et|\.)?\s*výztuž|\bs\s+výztuží", re.IGNORECASE)
_EXCLUDES_REBAR = re.compile(r"bez\s+výztuž", re.IGNORECASE)


class ReinforcementSpec(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What a text says about reinforcement: plain or reinforced concrete, rebar priced in or not."""

    plain: bool = False
    reinforced: bool = False
    includes_rebar: bool = False
    excludes_rebar: bool = False

    def contradiction(self, item: ReinforcementSpec) -> str | None:
        """How this (a position's) text contradicts ``item`` (its catalogue item or class), if it does."""
        if self.reinforced and item.plain and not item.reinforced:
            return "the position is reinforced concrete, the item is plain concrete"
        if self.plain and item.reinforced and not self.reinforced:
            return "the position is plain concrete, the item is reinforced concrete"
        if self.includes_rebar and item.excludes_rebar:
            return "the position includes the reinforcement, the item is priced without it (bez výztuže)"
        if self.excludes_rebar and item.includes_rebar:
            return "the position excludes the reinforcement, the item's price includes it"
        return None


@lru_cache(maxsize=32768)
def read_reinforcement(text: str) -> ReinforcementSpec:
    """Plain ("z betonu prostého", "nevyztužený") or reinforced ("ze ŽB", "železobeton") concrete, and
    whether the reinforcement is included ("včetně výztuže") or excluded ("bez výztuže")."""
    return ReinforcementSpec(
        plain=bool(_PLAIN.search(text)),
        reinforced=bool(_REINFORCED.search(text)),
        includes_rebar=bool(_INCLUDES_REBAR.search(text)),
        excludes_rebar=bool(_EXCLUDES_REBAR.search(text)),
    )


_NOT_PLACED = re.compile(
    r"bourání|vybourání|demolice|odstranění|suť|suti|odvoz|poplatek|přesun|recykl|drcen", re.IGNORECASE
)


def concerns_removal(text: str) -> bool:
    """Demolition, debris, disposal or moving of material: concrete that is removed, not placed."""
    return bool(_NOT_PLACED.search(text))
