"""Workflow B, step 3: the catalogue item for a material of an element, with its reference price (pure).

ÚRS codes say what they are: the first three digits the construction part (273 foundation slabs,
274 strips, 275 footings, 311/327 walls, 330–332 columns, 411 ceilings, 413 beams, 417 ring beams,
430/431 stairs, 631 subbase and screeds), then 3[12]xxxx concrete, 351xxx formwork (erection /
removal by its text), 36xxxx reinforcement. An element kind therefore maps to items by code shape,
never by guessing a code: among the items of that shape the one with the element's strength class
wins, then the nearest stronger class, then the strongest there is (with a note to adjust the code);
priced items before unpriced ones. No item → no code (the
position keeps its quantity and the audit flags the missing code and price).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from app.domain.audits.concrete_text import StrengthClass, read_concrete_spec
from app.domain.generation.materials import Material
from app.domain.kb.codes import normalize_code
from app.domain.kb.reference import CatalogIndex, CatalogItem

PART_PREFIXES: dict[str, tuple[str, ...]] = {
    "foundation_slab": ("273",),
    "foundation_strip": ("274",),
    "footing": ("275",),
    "pile": ("224", "226"),
    "subbase": ("631", "451"),
    "ceiling_slab": ("411",),
    "ring_beam": ("417",),
    "beam": ("413",),
    "column": ("331", "330", "332"),
    "wall": ("311", "327"),
    "stairs": ("430", "431"),
}
_MATERIAL_SHAPES: dict[Material, re.Pattern[str]] = {
    "concrete": re.compile(r"^(\d{3})3[12]\d{4}$"),
    "formwork": re.compile(r"^(\d{3})351\d{3}$"),
    "formwork_removal": re.compile(r"^(\d{3})351\d{3}$"),
    "reinforcement": re.compile(r"^(\d{3})36\d{4}$"),
}
_ERECTION = re.compile(r"zřízení", re.IGNORECASE)
_REMOVAL = re.compile(r"odstranění", re.IGNORECASE)
_MESH = re.compile(r"kari|sít", re.IGNORECASE)
_BARS = re.compile(r"betonářsk|10\s?505|b500|žebírk", re.IGNORECASE)
CATALOGUE_CODE_PATTERN = r"^(" + "|".join(sorted({p for ps in PART_PREFIXES.values() for p in ps})) + r")(3[12]|351|36)"
"""Codes of the items generation may use (a PostgreSQL regular expression, to load only those)."""


class CatalogueChoice(msgspec.Struct, frozen=True, kw_only=True):
    """The chosen item (None when the catalogue has none of that shape) and what a person should check."""

    item: CatalogItem | None
    note: str | None = None


def _classes(item: CatalogItem) -> tuple[StrengthClass, ...]:
    return read_concrete_spec(item.description).strength_classes


def _by_shape(index: CatalogIndex) -> dict[tuple[str, Material], list[CatalogItem]]:
    """Items by (three-digit part, material), each list in code order: built once per catalogue."""
    table: dict[tuple[str, Material], list[CatalogItem]] = {}
    for item in index.values():
        code = normalize_code(item.code)
        for material, shape in _MATERIAL_SHAPES.items():
            match = shape.match(code)
            if match is None:
                continue
            if material == "formwork" and not _ERECTION.search(item.description):
                continue
            if material == "formwork_removal" and not _REMOVAL.search(item.description):
                continue
            table.setdefault((match.group(1), material), []).append(item)
    for items in table.values():
        items.sort(key=lambda item: normalize_code(item.code))
    return table


def candidates(index: CatalogIndex, kind: str, material: Material) -> list[CatalogItem]:
    table = index.derived("generation_items_by_shape", _by_shape)
    return [item for prefix in PART_PREFIXES.get(kind, ()) for item in table.get((prefix, material), [])]


def _priced_first(items: Iterable[CatalogItem]) -> list[CatalogItem]:
    return sorted(items, key=lambda item: item.reference_price is None)


def choose_item(
    index: CatalogIndex,
    kind: str,
    material: Material,
    *,
    strength_class: str | None = None,
    mesh: bool = False,
) -> CatalogueChoice:
    """The catalogue item for one material of one element kind (see the module docstring)."""
    found = candidates(index, kind, material)
    if not found:
        return CatalogueChoice(item=None, note=f"the catalogue has no {material} item for {kind}")
    if material == "reinforcement":
        wanted = _MESH if mesh else _BARS
        preferred = [item for item in found if wanted.search(item.description)] or found
        return CatalogueChoice(item=_priced_first(preferred)[0])
    if material != "concrete" or strength_class is None:
        return CatalogueChoice(item=_priced_first(found)[0])
    wanted_class = StrengthClass.parse(strength_class)
    exact = [item for item in found if wanted_class in _classes(item)]
    if exact:
        return CatalogueChoice(item=_priced_first(exact)[0])
    classed = [item for item in found if _classes(item)]
    stronger = sorted(
        (item for item in classed if min(_classes(item)) > wanted_class),
        key=lambda item: (min(_classes(item)), item.reference_price is None),
    )
    strongest = sorted(classed, key=lambda item: (-max(_classes(item)).cylinder, item.reference_price is None))
    chosen = (stronger or strongest or _priced_first(found))[0]
    label = ", ".join(c.label for c in _classes(chosen)) or "no class"
    return CatalogueChoice(
        item=chosen,
        note=(
            f"the catalogue has no {kind} concrete item of class {strength_class}; "
            f"{chosen.code} ({label}) is used: adjust the code"
        ),
    )
