from __future__ import annotations

from app.domain.audits.experts import Status
from app.domain.audits.experts.standards import check
from app.domain.kb.matching import MatchCandidate
from tests.unit.audits.audit_builders import EXCAVATION, FOUNDATION_CONCRETE, context, issue_types, position


def test_known_code_with_its_unit_is_green() -> None:
    positions = [position(code="132151253", unit="m3")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN
    assert verdict.evidence["catalog_code"] == "132151253"
    assert verdict.claims["code"] == "132151253"
    assert not verdict.needs_review


def test_unit_is_compared_without_case_and_synonyms() -> None:
    positions = [position(code="272325", unit="m3", description="Základy ze železobetonu")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN  # catalogue writes M3


def test_unit_mismatch_against_catalogue_is_red() -> None:
    positions = [position(code="274313611", unit="m2", description="Základové pasy z betonu tř. C 16/20")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.RED
    assert issue_types(verdict) == ["unit_mismatch"]
    assert "m3" in verdict.issues[0].suggestion


def test_unknown_code_with_close_candidates_is_amber() -> None:
    # 274313711 is not listed; 274313611 shares its first six digits
    positions = [position(code="274313711", unit="m3", description="Základové pasy z betonu tř. C 20/25")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.AMBER
    assert issue_types(verdict) == ["unknown_code"]
    assert verdict.evidence["candidates"][0]["code"] == FOUNDATION_CONCRETE.code
    assert verdict.needs_review is False  # 6 of 9 digits shared: score 0.67


def test_unknown_code_without_candidates_is_red() -> None:
    positions = [position(code="999888777", description="Neexistující položka")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.RED
    assert verdict.needs_review


def test_candidates_from_enrichment_are_used() -> None:
    target = position(code="999888777", description="Hloubení rýh strojně")
    candidate = MatchCandidate.of(EXCAVATION, 0.62)
    [verdict] = check([target], context([target], candidates={target.id: [candidate]}))
    assert verdict.status is Status.AMBER
    assert verdict.evidence["candidates"][0]["code"] == EXCAVATION.code
    assert verdict.evidence["match_score"] == 0.62


def test_private_codes_are_amber_at_most() -> None:
    positions = [position(code="Pol31", description="Atypický prvek"), position(code="RMAT0002")]
    verdicts = check(positions, context(positions))
    assert [v.status for v in verdicts] == [Status.AMBER, Status.AMBER]
    assert issue_types(verdicts[0]) == ["private_code"]


def test_missing_code_is_amber() -> None:
    positions = [position(code=None)]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.AMBER
    assert issue_types(verdict) == ["missing_code"]


def test_code_of_a_catalogue_not_loaded_is_amber() -> None:
    only_urs = [item for item in context([]).catalog.values() if item.catalog.startswith("CS ÚRS")]
    positions = [position(code="11120", unit="M2", description="ODSTRANĚNÍ KŘOVIN", catalog="OTSKP 2025")]
    [verdict] = check(positions, context(positions, catalog=only_urs))
    assert verdict.status is Status.AMBER
    assert issue_types(verdict) == ["catalogue_not_loaded"]


def test_code_shape_must_fit_the_named_price_system() -> None:
    positions = [position(code="132151253", catalog="OTSKP 2025")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.AMBER
    assert issue_types(verdict) == ["code_shape"]


def test_manufacturer_variant_of_a_known_item() -> None:
    positions = [position(code="132151253.XLA")]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.AMBER
    assert issue_types(verdict) == ["catalogue_variant"]
