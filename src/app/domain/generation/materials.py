"""Workflow B, step 2: the materials an element needs — concrete, formwork, reinforcement (pure).

A quantity the documents state (or their dimensions give) is used as it is. When they do not state
formwork or reinforcement, the element's concrete volume times a ratio per element kind gives it:

| kind             | formwork m2/m3 | reinforcement kg/m3 |
|------------------|---------------:|--------------------:|
| foundation_slab  | 0.5            | 100                 |
| foundation_strip | 2.0            | 80                  |
| footing          | 2.5            | 80                  |
| pile             | 0              | 90                  |
| subbase          | 0              | 0                   |
| ceiling_slab     | 5.0            | 110                 |
| ring_beam        | 7.0            | 120                 |
| beam             | 6.0            | 150                 |
| column           | 10.0           | 160                 |
| wall             | 7.0            | 90                  |
| stairs           | 6.0            | 110                 |
| default          | 4.0            | 100                 |

(Reinforcement ratios sit in the 80–200 kg/m3 the structural audit expects; formwork ratios are
typical shares of formed surface per m3 of the element's usual thickness.) Both tables are
parameters of the job: POST /api/projects/{id}/generate accepts `formwork_m2_per_m3` and
`reinforcement_kg_per_m3` objects that override single kinds. A ratio the document states
("110 kg/m3") wins over the table; plain concrete ("prostý beton") gets no reinforcement; a ratio
of 0 means "none". Without a concrete volume nothing is derived: a ratio never stands in for a
missing quantity.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import msgspec

from app.domain.generation.extract import KINDS_BY_NAME, Element

Material = Literal["concrete", "formwork", "formwork_removal", "reinforcement"]
DEFAULT_KIND = "default"

DEFAULT_FORMWORK_M2_PER_M3: dict[str, Decimal] = {
    "foundation_slab": Decimal("0.5"),
    "foundation_strip": Decimal("2.0"),
    "footing": Decimal("2.5"),
    "pile": Decimal("0"),
    "subbase": Decimal("0"),
    "ceiling_slab": Decimal("5.0"),
    "ring_beam": Decimal("7.0"),
    "beam": Decimal("6.0"),
    "column": Decimal("10.0"),
    "wall": Decimal("7.0"),
    "stairs": Decimal("6.0"),
    DEFAULT_KIND: Decimal("4.0"),
}
DEFAULT_REINFORCEMENT_KG_PER_M3: dict[str, Decimal] = {
    "foundation_slab": Decimal("100"),
    "foundation_strip": Decimal("80"),
    "footing": Decimal("80"),
    "pile": Decimal("90"),
    "subbase": Decimal("0"),
    "ceiling_slab": Decimal("110"),
    "ring_beam": Decimal("120"),
    "beam": Decimal("150"),
    "column": Decimal("160"),
    "wall": Decimal("90"),
    "stairs": Decimal("110"),
    DEFAULT_KIND: Decimal("100"),
}
KNOWN_RATIO_KEYS = frozenset(KINDS_BY_NAME) | {DEFAULT_KIND}
# Formwork m2/m3 and reinforcement kg/m3 a request may set (the densest reinforcement is ~400 kg/m3).
MAX_RATIO = Decimal(10_000)

_STEPS = {"m3": Decimal("0.001"), "m2": Decimal("0.01"), "t": Decimal("0.001")}


class GenerationParameters(msgspec.Struct, frozen=True, kw_only=True):
    """Ratios used where the documents state no formwork or reinforcement (see the module docstring)."""

    formwork_m2_per_m3: dict[str, Decimal] = msgspec.field(default_factory=lambda: dict(DEFAULT_FORMWORK_M2_PER_M3))
    reinforcement_kg_per_m3: dict[str, Decimal] = msgspec.field(
        default_factory=lambda: dict(DEFAULT_REINFORCEMENT_KG_PER_M3)
    )

    @classmethod
    def with_overrides(
        cls,
        formwork_m2_per_m3: dict[str, Decimal] | None = None,
        reinforcement_kg_per_m3: dict[str, Decimal] | None = None,
    ) -> GenerationParameters:
        """The defaults with some kinds overridden; raises ValueError for an unknown kind or a negative ratio."""
        for table in (formwork_m2_per_m3 or {}, reinforcement_kg_per_m3 or {}):
            for key, value in table.items():
                if key not in KNOWN_RATIO_KEYS:
                    raise ValueError(f"unknown element kind {key!r}; use one of {', '.join(sorted(KNOWN_RATIO_KEYS))}")
                # NaN would raise on `<`; Infinity would overflow the derived quantities.
                if not value.is_finite() or not 0 <= value <= MAX_RATIO:
                    raise ValueError(f"ratio for {key!r} must be a number from 0 to {MAX_RATIO}")
        return cls(
            formwork_m2_per_m3={**DEFAULT_FORMWORK_M2_PER_M3, **(formwork_m2_per_m3 or {})},
            reinforcement_kg_per_m3={**DEFAULT_REINFORCEMENT_KG_PER_M3, **(reinforcement_kg_per_m3 or {})},
        )

    def formwork_ratio(self, kind: str) -> Decimal:
        return self.formwork_m2_per_m3.get(kind, self.formwork_m2_per_m3.get(DEFAULT_KIND, Decimal(0)))

    def reinforcement_ratio(self, kind: str) -> Decimal:
        return self.reinforcement_kg_per_m3.get(kind, self.reinforcement_kg_per_m3.get(DEFAULT_KIND, Decimal(0)))


class MaterialNeed(msgspec.Struct, frozen=True, kw_only=True):
    """One quantity of one material for one element, and how it was obtained (`basis`)."""

    material: Material
    unit: str
    quantity: Decimal
    basis: str


def rounded(quantity: Decimal, unit: str) -> Decimal:
    """m3 and t to 0.001, m2 to 0.01 (half up): what a budget writes."""
    return quantity.quantize(_STEPS[unit], rounding=ROUND_HALF_UP)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def derive_materials(element: Element, parameters: GenerationParameters) -> list[MaterialNeed]:
    """Concrete (the volume), formwork erection and removal, reinforcement — each only when known or derivable."""
    needs: list[MaterialNeed] = []
    volume = element.volume_m3
    if volume is not None and volume > 0:
        needs.append(
            MaterialNeed(
                material="concrete", unit="m3", quantity=rounded(volume, "m3"), basis=element.volume_basis or "stated"
            )
        )

    formwork: tuple[Decimal, str] | None = None
    if element.formwork_m2 is not None:
        formwork = (element.formwork_m2, element.formwork_basis or "stated")
    elif volume is not None and (ratio := parameters.formwork_ratio(element.kind)) > 0:
        formwork = (volume * ratio, f"ratio {_plain(ratio)} m2/m3 × {_plain(volume)} m3 ({element.kind})")
    if formwork is not None and formwork[0] > 0:
        area = rounded(formwork[0], "m2")
        needs.append(MaterialNeed(material="formwork", unit="m2", quantity=area, basis=formwork[1]))
        needs.append(MaterialNeed(material="formwork_removal", unit="m2", quantity=area, basis=formwork[1]))

    reinforcement: tuple[Decimal, str] | None = None
    if element.reinforcement_t is not None:
        reinforcement = (element.reinforcement_t, "stated")
    elif volume is not None and not element.plain_concrete:
        stated_ratio = element.reinforcement_kg_per_m3
        ratio = stated_ratio if stated_ratio is not None else parameters.reinforcement_ratio(element.kind)
        source = "stated ratio" if stated_ratio is not None else f"ratio for {element.kind}"
        if ratio > 0:
            reinforcement = (
                volume * ratio / 1000,
                f"{source} {_plain(ratio)} kg/m3 × {_plain(volume)} m3",
            )
    if reinforcement is not None and reinforcement[0] > 0:
        needs.append(
            MaterialNeed(
                material="reinforcement",
                unit="t",
                quantity=rounded(reinforcement[0], "t"),
                basis=reinforcement[1],
            )
        )
    return needs
