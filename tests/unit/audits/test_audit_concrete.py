from __future__ import annotations

from typing import Any

import pytest

from app.domain.audits.experts import Status, Verdict
from app.domain.audits.experts.concrete import check
from app.domain.kb.reference import load_exposure_table
from tests.unit.audits.audit_builders import concrete, context, issue_types, position


def verdict_for(description: str, **overrides: Any) -> Verdict:
    positions = [concrete(description, **overrides)]
    return check(positions, context(positions))[0]


def test_class_below_the_exposure_minimum_is_red() -> None:
    verdict = verdict_for("Beton C25/30 XD3")
    assert verdict.status is Status.RED
    assert issue_types(verdict) == ["strength_below_exposure_minimum"]
    assert verdict.evidence["required_class"] == "C30/37"
    assert "XD3 needs C30/37" in verdict.reasoning


def test_class_reaching_the_minimum_is_green() -> None:
    verdict = verdict_for("Beton C30/37 XD3")
    assert verdict.status is Status.GREEN
    assert verdict.claims == {"concrete_class": "C30/37"}


def test_every_listed_exposure_counts() -> None:
    verdict = verdict_for("Železobeton C25/30 XC4, XD3")
    assert verdict.status is Status.RED
    assert verdict.evidence["governing_exposure"] == "XD3"


@pytest.mark.parametrize("text", ["Beton C 30/37 XS1", "ZÁKLADY ZE ŽELEZOBETONU DO C30/37 XC4", "C30/37-XC4"])
def test_spellings_of_the_class(text: str) -> None:
    assert verdict_for(text).status is Status.GREEN


def test_freeze_thaw_without_a_word_on_air_is_information() -> None:
    verdict = verdict_for("Beton C30/37 XF4")  # budgets rarely repeat the air content: not proven wrong
    assert verdict.status is Status.GREEN
    assert issue_types(verdict) == ["air_entrainment_missing"]
    assert "reaches the minimum" in verdict.reasoning


def test_freeze_thaw_with_air_entrainment_is_green() -> None:
    assert verdict_for("Beton C30/37 XF4 provzdušněný, obsah vzduchu 5 %").status is Status.GREEN
    low = verdict_for("Beton C30/37 XF4 LP 3 %")
    assert issue_types(low) == ["air_content_low"]


def test_exposure_without_class_is_information() -> None:
    verdict = verdict_for("Monolitický beton XC4", code=None)
    assert verdict.status is Status.GREEN
    assert issue_types(verdict) == ["exposure_without_class"]
    assert "C25/30" in (verdict.issues[0].suggestion or "")


def test_class_from_the_catalogue_when_the_text_has_none() -> None:
    verdict = verdict_for("Základové pasy XC2", code="274313611")  # catalogue: C 16/20
    assert verdict.status is Status.GREEN
    assert verdict.evidence["class_source"] == "catalogue"
    assert verdict.claims == {}


def test_several_classes_with_one_too_weak_is_amber() -> None:
    verdict = verdict_for("Beton C16/20 nebo C30/37 XD3")
    assert verdict.status is Status.AMBER
    assert issue_types(verdict) == ["ambiguous_class"]


def test_positions_without_concrete_are_not_judged() -> None:
    positions = [position()]
    [verdict] = check(positions, context(positions))
    assert verdict.status is Status.GREEN
    assert verdict.evidence == {"applicable": False}


def test_the_exposure_table_is_a_setting() -> None:
    positions = [concrete("Beton C25/30 XC4")]
    national = check(positions, context(positions))[0]
    en206 = check(positions, context(positions, table=load_exposure_table("EN_206_F1")))[0]
    assert national.status is Status.GREEN
    assert en206.status is Status.RED  # EN 206 F.1 recommends C30/37 for XC4


def test_concrete_of_a_class_measured_by_mass_is_amber() -> None:
    verdict = verdict_for("Základové pasy z betonu tř. C 16/20", unit="t", code="Pol5")
    assert verdict.status is Status.AMBER
    assert issue_types(verdict) == ["concrete_by_mass"]
    debris = verdict_for("Odvoz suti z betonu C 16/20", unit="t", code="Pol6")  # weighed debris is fine
    assert debris.status is Status.GREEN
