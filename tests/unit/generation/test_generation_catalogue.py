"""Catalogue items by code shape and concrete class, from the shipped extract (reference prices included)."""

from __future__ import annotations

from decimal import Decimal

from app.domain.generation.catalogue import choose_item
from app.domain.kb.reference import load_catalog_index


def code_and_price(kind: str, material: str, **options: object) -> tuple[str | None, Decimal | None, str | None]:
    choice = choose_item(load_catalog_index(), kind, material, **options)  # type: ignore[arg-type]
    return (
        choice.item.code if choice.item else None,
        choice.item.reference_price if choice.item else None,
        choice.note,
    )


def test_concrete_of_the_stated_class() -> None:
    assert code_and_price("foundation_slab", "concrete", strength_class="C20/25") == (
        "273313711",
        Decimal("4340.00"),
        None,
    )
    assert code_and_price("ring_beam", "concrete", strength_class="C20/25")[0] == "417321414"


def test_a_class_the_catalogue_lacks_takes_the_nearest_and_says_so() -> None:
    code, _, note = code_and_price("foundation_slab", "concrete", strength_class="C30/37")
    assert code == "273313711"  # the strongest foundation-slab concrete of the extract
    assert note == (
        "the catalogue has no foundation_slab concrete item of class C30/37; "
        "273313711 (C20/25) is used: adjust the code"
    )
    assert code_and_price("foundation_slab", "concrete", strength_class="C12/15")[0] == "273311611"  # C16/20


def test_formwork_erection_and_removal_and_reinforcement_kinds() -> None:
    assert code_and_price("foundation_slab", "formwork")[:2] == ("273351121", Decimal("692.00"))
    assert code_and_price("foundation_slab", "formwork_removal")[:2] == ("273351122", Decimal("146.00"))
    assert code_and_price("foundation_slab", "reinforcement")[:2] == ("273361821", Decimal("56700.00"))
    assert code_and_price("foundation_slab", "reinforcement", mesh=True)[:2] == ("273362021", Decimal("38800.00"))
    assert code_and_price("column", "formwork")[0] == "331351115"


def test_no_item_of_that_shape_means_no_code() -> None:
    assert code_and_price("wall", "concrete", strength_class="C30/37") == (
        None,
        None,
        "the catalogue has no concrete item for wall",
    )
