from __future__ import annotations

import pytest

from app.domain.budgets.records import PositionRecord
from app.domain.kb.matching import (
    EnrichmentMatch,
    TrigramSearch,
    match_position,
    match_positions,
    similarity,
    trigrams,
)
from app.domain.kb.reference import CatalogItem
from tests.unit.kb.kb_builders import CONCRETE_ITEMS, Pos, index, item


def test_exact_code_scores_one() -> None:
    result = match_position(Pos(code="274 321 411", description="cokoliv", unit="M3"), index())
    assert result.score == 1.0
    assert result.match is not None and result.match.code == "274321411"
    assert result.evidence == {"rule": "exact_code", "code": "274321411", "unit_matches": True}


def test_concrete_class_and_exposure_score_095() -> None:
    result = match_position(Pos(description="Beton C30/37 XF1, XC4 pro věnce", unit="m3"), index())
    assert result.score == 0.95
    assert result.evidence["rule"] == "concrete_class_exposure"
    assert result.match is not None and result.match.code == "58933310"  # same exposure set first
    assert [c.code for c in result.candidates] == ["58933310", "58933320"]


def test_concrete_class_only_with_the_same_unit_scores_075() -> None:
    result = match_position(Pos(description="Železobeton pasů C 25/30", unit="m3"), index())
    assert result.score == 0.75
    assert result.evidence["rule"] == "concrete_class_unit"
    assert result.match is not None and result.match.code == "274321411"


def test_concrete_class_with_another_unit_falls_through_to_fuzzy() -> None:
    result = match_position(Pos(description="Železobeton pasů C 25/30", unit="m2"), index())
    assert result.evidence["rule"] in {"fuzzy_description", "none"}
    assert all(c.unit == "m2" for c in result.candidates)


def test_fuzzy_description_scores_the_similarity_with_top_three() -> None:
    result = match_position(Pos(description="Hloubení rýh nezapažených strojně", unit="m3"), index())
    assert result.evidence["rule"] == "fuzzy_description"
    assert result.match is not None and result.match.code == "132151253"
    assert 0.3 <= result.score < 1.0
    assert result.score == pytest.approx(
        similarity("Hloubení rýh nezapažených strojně", result.match.description), abs=1e-4
    )
    assert len(result.candidates) <= 3
    assert [c.score for c in result.candidates] == sorted((c.score for c in result.candidates), reverse=True)


def test_nothing_close_is_no_match() -> None:
    result = match_position(Pos(description="Fotovoltaická elektrárna na střeše", unit="kpl"), index())
    assert result.match is None
    assert result.score == 0.0
    assert result.evidence["rule"] == "none"


def test_injected_fuzzy_candidates_are_used_and_filtered_by_unit() -> None:
    m2_item = item("11130", "SEJMUTÍ DRNU", unit="M2", catalog="OTSKP 2025")
    m3_item = CONCRETE_ITEMS[6]
    asked: list[tuple[str, str | None]] = []

    def from_database(text: str, unit: str | None) -> list[tuple[CatalogItem, float]]:
        asked.append((text, unit))
        return [(m3_item, 0.91), (m2_item, 0.55)]

    result = match_position(Pos(description="Sejmutí drnu", unit="m2"), index(), from_database)
    assert asked == [("Sejmutí drnu", "m2")]
    assert result.match is not None and result.match.code == "11130"
    assert result.score == 0.55


def test_positions_from_the_parser_can_be_matched() -> None:
    records = [
        PositionRecord(code="273313711", description="Základové desky z betonu tř. C 20/25", unit="m3"),
        PositionRecord(description="Beton C30/37 XC4 XF1", unit="m3"),
    ]
    results = match_positions(records, index())
    assert [r.score for r in results] == [1.0, 0.95]
    assert all(isinstance(r, EnrichmentMatch) for r in results)


def test_pg_trgm_trigrams_and_similarity() -> None:
    assert trigrams("cat") == frozenset({"  c", " ca", "cat", "at "})
    assert similarity("word", "words") == pytest.approx(4 / 7)
    assert similarity("Beton", "BETON") == 1.0
    assert similarity("", "beton") == 0.0
    assert similarity("ŘÍMSY", "RÍMSY") < 1.0
    assert similarity("ŘÍMSY", "RÍMSY", fold_accents=True) == 1.0


def test_trigram_search_ranks_and_filters_by_unit() -> None:
    search = TrigramSearch(CONCRETE_ITEMS)
    query = "Hloubení rýh nezapažených š do 2000 mm strojně"
    found = search.search(query, "M3")
    assert [i.code for i, _ in found] == ["132151253", "132151254"]
    assert found[0][1] > found[1][1]
    assert search.search(query, "t") == []
