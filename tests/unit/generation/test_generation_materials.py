"""Materials of an element: stated quantities first, documented ratios otherwise, nothing without a volume."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.generation.extract import Element
from app.domain.generation.materials import GenerationParameters, derive_materials


def needs(element: Element, parameters: GenerationParameters | None = None) -> list[tuple[str, str, Decimal, str]]:
    return [
        (need.material, need.unit, need.quantity, need.basis)
        for need in derive_materials(element, parameters or GenerationParameters())
    ]


def test_stated_quantities_are_used_as_stated() -> None:
    wall = Element(
        kind="wall",
        name="Stěny",
        volume_m3=Decimal("38.2"),
        volume_basis="stated",
        formwork_m2=Decimal("254"),
        formwork_basis="stated",
        reinforcement_t=Decimal("3.45"),
    )
    assert needs(wall) == [
        ("concrete", "m3", Decimal("38.200"), "stated"),
        ("formwork", "m2", Decimal("254.00"), "stated"),
        ("formwork_removal", "m2", Decimal("254.00"), "stated"),
        ("reinforcement", "t", Decimal("3.450"), "stated"),
    ]


def test_ratios_derive_formwork_and_reinforcement_from_the_volume() -> None:
    slab = Element(kind="foundation_slab", name="Základová deska", volume_m3=Decimal("45.6"), volume_basis="stated")
    assert needs(slab) == [
        ("concrete", "m3", Decimal("45.600"), "stated"),
        ("formwork", "m2", Decimal("22.80"), "ratio 0.5 m2/m3 × 45.6 m3 (foundation_slab)"),
        ("formwork_removal", "m2", Decimal("22.80"), "ratio 0.5 m2/m3 × 45.6 m3 (foundation_slab)"),
        ("reinforcement", "t", Decimal("4.560"), "ratio for foundation_slab 100 kg/m3 × 45.6 m3"),
    ]


def test_a_stated_ratio_wins_and_overrides_replace_single_kinds() -> None:
    ceiling = Element(
        kind="ceiling_slab", name="Strop", volume_m3=Decimal("24"), reinforcement_kg_per_m3=Decimal("125")
    )
    parameters = GenerationParameters.with_overrides(formwork_m2_per_m3={"ceiling_slab": Decimal("4.5")})
    assert needs(ceiling, parameters)[1:] == [
        ("formwork", "m2", Decimal("108.00"), "ratio 4.5 m2/m3 × 24 m3 (ceiling_slab)"),
        ("formwork_removal", "m2", Decimal("108.00"), "ratio 4.5 m2/m3 × 24 m3 (ceiling_slab)"),
        ("reinforcement", "t", Decimal("3.000"), "stated ratio 125 kg/m3 × 24 m3"),
    ]
    assert parameters.reinforcement_ratio("wall") == Decimal("90")  # untouched kinds keep their defaults


def test_plain_concrete_and_zero_ratios_get_no_reinforcement_or_formwork() -> None:
    subbase = Element(kind="subbase", name="Podkladní beton", volume_m3=Decimal("18"))
    plain_footings = Element(kind="footing", name="Patky", volume_m3=Decimal("6"), plain_concrete=True)
    assert [n[0] for n in needs(subbase)] == ["concrete"]
    assert [n[0] for n in needs(plain_footings)] == ["concrete", "formwork", "formwork_removal"]


def test_without_a_volume_only_stated_quantities_remain() -> None:
    rings = Element(kind="ring_beam", name="Věnce", reinforcement_t=Decimal("1.2"))
    nothing = Element(kind="column", name="Sloupy")
    assert needs(rings) == [("reinforcement", "t", Decimal("1.200"), "stated")]
    assert needs(nothing) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"chimney": Decimal(3)}, "unknown element kind 'chimney'"), ({"wall": Decimal(-1)}, "from 0 to")],
)
def test_invalid_overrides_are_refused(overrides: dict[str, Decimal], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GenerationParameters.with_overrides(reinforcement_kg_per_m3=overrides)
