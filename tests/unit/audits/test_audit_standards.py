from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.audits.experts import Status
from app.domain.audits.experts.standards import check
from app.domain.kb.matching import MatchCandidate
from app.domain.kb.reference import CatalogItem
from tests.unit.audits.audit_builders import (
    CATALOG,
    EXCAVATION,
    FOUNDATION_CONCRETE,
    context,
    issue_types,
    position,
)


def test_known_code_with_its_unit_is_green() -> None:
    positions = [position(code="132151253", unit="m3")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN
    assert verdict.evidence["catalog_code"] == "132151253"
    assert verdict.claims["code"] == "132151253"
    assert not verdict.needs_review


def test_every_code_gets_its_tskp_class_path() -> None:
    positions = [position(code="411321414", unit="m3", description="Stropy deskové ze ŽB tř. C 25/30")]
    [verdict] = check(positions, context(positions))
    assert verdict.evidence["code_class_path"] == ("4", "41", "411", "4113", "41132")
    assert verdict.evidence["code_class"] == "41132"
    assert "železobetonu" in verdict.evidence["code_class_name"]
    assert verdict.evidence["code_class_kind"] == "concrete"
    assert verdict.evidence["class_table"].startswith("TSKP 2025-01")


def test_unit_is_compared_without_case_and_synonyms() -> None:
    positions = [position(code="272325", unit="m3", description="Základy ze železobetonu")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN  # catalogue writes M3


def test_unit_of_another_dimension_than_the_catalogue_is_red() -> None:
    positions = [position(code="274313611", unit="t", description="Základové pasy z betonu tř. C 16/20")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.RED
    assert issue_types(verdict) == ["unit_mismatch"]
    assert "m3" in verdict.issues[0].suggestion


def test_unit_of_the_same_dimension_as_the_catalogue_is_amber() -> None:
    positions = [position(code="274361821", unit="kg", description="Výztuž základových pasů betonářskou ocelí")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.AMBER  # kg for a t item: convertible, worth a look
    assert issue_types(verdict) == ["unit_mismatch"]


@pytest.mark.parametrize(
    ("code", "unit", "description"),
    [
        ("273313712", "t", "Základové desky z betonu tř. C 20/25"),  # concrete by mass
        ("273361822", "m3", "Výztuž základových desek betonářskou ocelí"),  # reinforcement by volume
        ("273351122", "m3", "Zřízení bednění základových desek"),  # formwork by volume
    ],
)
def test_unit_incompatible_with_the_code_class_is_red(code: str, unit: str, description: str) -> None:
    positions = [position(code=code, unit=unit, description=description)]  # codes not in the catalogue
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.RED
    assert "unit_incompatible_with_class" in issue_types(verdict)
    assert "TSKP 2733" in verdict.reasoning  # names the class it judged by


def test_description_of_other_work_than_the_class_is_amber() -> None:
    positions = [position(code="273313712", unit="m3", description="Výztuž základových desek z oceli")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.AMBER
    assert "description_class_mismatch" in issue_types(verdict)


def test_code_whose_class_does_not_exist_is_amber() -> None:
    positions = [position(code="471321414", unit="m3", description="Beton C25/30", item_type="K")]  # no group 47
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.AMBER
    assert "unknown_class" in issue_types(verdict)


def test_general_class_x0_is_not_a_typo() -> None:
    positions = [position(code="330321510", unit="m3", description="Sloupy nebo pilíře ze ŽB tř. C 20/25")]
    [verdict] = check(positions, context(positions))
    assert "unknown_class" not in issue_types(verdict)


def test_concrete_class_other_than_the_items_is_amber() -> None:
    # Workflow B: the catalogue description, the element's real class in the full description
    slab = position(
        code="274313611",
        description="Základové pasy z betonu tř. C 16/20",
        full_description="Základový pas: beton C30/37 XC2",
    )
    [verdict] = check([slab], context([slab]))
    assert verdict.status is Status.AMBER
    assert issue_types(verdict) == ["concrete_class_differs_from_item"]
    assert "C30/37" in verdict.issues[0].description and "274313611" in verdict.issues[0].description


def test_class_within_an_upper_bound_item_is_fine() -> None:
    positions = [position(code="272325", unit="M3", description="Základy ze železobetonu C25/30")]  # DO C30/37
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN


def test_reinforcement_on_an_item_without_it_is_amber() -> None:
    column = CatalogItem(
        catalog="CS ÚRS 2025 02",
        code="330321510",
        description="Sloupy nebo pilíře ze ŽB tř. C 20/25 bez výztuže",
        unit="m3",
        reference_price=Decimal("5360"),
    )
    wrong = position(code="330321510", description="Sloupy ze ŽB tř. C 20/25 včetně výztuže")
    plain = position(code="273313712", description="Základová deska ze železobetonu C 20/25")  # class: prostý
    verdicts = check([wrong, plain], context([wrong, plain], catalog=(*CATALOG, column)))
    assert [v.status for v in verdicts] == [Status.AMBER, Status.AMBER]
    assert "reinforcement_differs_from_item" in issue_types(verdicts[0])
    assert "reinforcement_differs_from_item" in issue_types(verdicts[1])


def test_unknown_code_is_information_with_close_candidates() -> None:
    # 274313711 is not listed; 274313611 shares its first six digits
    positions = [position(code="274313711", unit="m3", description="Základové pasy z betonu tř. C 20/25")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN
    assert issue_types(verdict) == ["unknown_code"]
    assert verdict.issues[0].severity is Status.GREEN
    assert verdict.evidence["candidates"][0]["code"] == FOUNDATION_CONCRETE.code
    assert "TSKP 27431" in verdict.issues[0].description  # placed by its class


def test_unknown_code_without_candidates_is_information() -> None:
    positions = [position(code="999888777", description="Neexistující položka")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN
    assert issue_types(verdict) == ["unknown_code"]


def test_candidates_from_enrichment_are_used() -> None:
    target = position(code="999888777", description="Hloubení rýh strojně")
    candidate = MatchCandidate.of(EXCAVATION, 0.62)
    [verdict] = check([target], context([target], candidates={target.id: [candidate]}))
    assert verdict.status is Status.GREEN
    assert verdict.evidence["candidates"][0]["code"] == EXCAVATION.code
    assert verdict.evidence["match_score"] == 0.62


def test_private_and_r_item_codes_are_information() -> None:
    positions = [
        position(code="Pol31", description="Atypický prvek"),
        position(code="RMAT0002"),
        position(code="621R100", description="Omítka atypická", unit="m2"),
    ]
    verdicts = check(positions, context(positions))
    assert [v.status for v in verdicts] == [Status.GREEN] * 3
    assert [issue_types(v) for v in verdicts] == [["private_code"]] * 3


def test_missing_code_is_information() -> None:
    positions = [position(code=None)]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN
    assert issue_types(verdict) == ["missing_code"]


def test_code_of_a_catalogue_not_loaded_is_information() -> None:
    only_urs = [item for item in context([]).catalog.values() if item.catalog.startswith("CS ÚRS")]
    positions = [position(code="11120", unit="M2", description="ODSTRANĚNÍ KŘOVIN", catalog="OTSKP 2025")]
    [verdict] = check(positions, context(positions, catalog=only_urs))
    assert verdict.status is Status.GREEN
    assert issue_types(verdict) == ["catalogue_not_loaded"]


def test_code_shape_must_fit_the_named_price_system() -> None:
    positions = [position(code="132151253", catalog="OTSKP 2025")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.AMBER
    assert issue_types(verdict) == ["code_shape"]


def test_manufacturer_variant_of_a_known_item_is_information() -> None:
    positions = [position(code="132151253.XLA")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN
    assert issue_types(verdict) == ["catalogue_variant"]
