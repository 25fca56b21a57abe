"""Only priced line items become positions; every other row and sheet is kept with its item or counted.

Figures, measurement lines, notes, section headings and subtotals are never positions; sheets that
are not budgets (recapitulation, list of figures, cover) are recognised by structure and skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from app.domain.budgets.records import PositionRecord
from app.domain.documents.parsers import parse_document
from tests.fixtures.budget_files import (
    SAMPLE_BUDGET,
    SAMPLE_BUDGET_POSITIONS,
    SAMPLE_BUDGET_TOTAL,
    esticon_xlsx_bytes,
    kros_xlsx_bytes,
    rts_xlsx_bytes,
    sheets_xlsx_bytes,
    unixml_bytes,
    xc4_bytes,
)

HEADER = (None, "PČ", "Typ", "Kód", "Popis", "MJ", "Množství", "J.cena [CZK]", "Cena celkem [CZK]")
COVER = [(None, "SOUPIS PRACÍ"), (None, "Stavba:"), (None, None, "Bytový dům Lipová"), (None, "Objekt:")]


def budget_sheet(*rows: tuple[object, ...]) -> list[tuple[object, ...]]:
    return [*COVER, (None, None, "SO 01 - Bytový dům"), (), HEADER, *[(None, *row) for row in rows]]


REAL_LOOKING_ROWS = budget_sheet(
    ("Náklady soupisu celkem", None, None, None, None, None, None, 30450.0),
    (None, "D", "HSV", "Práce a dodávky HSV", None, None, None, 30450.0),
    (None, "D", "2", "Zakládání", None, None, None, 30450.0),
    ("1", "K", "274313611", "Základové pásy z betonu tř. C 16/20", "m3", 7.0, 4150.0, 29050.0),
    (None, "PP", None, "Základové pásy z betonu prostého", None, None, None, None),
    (None, "VV", None, "(14+1)*0,8*0,5", None, 6.0, None, None),
    (None, None, "CF10", None, None, 1.0, None, None),  # a figure used by the item above, no Typ
    (None, None, None, "Objekt A", None, None, None, None),  # a caption of its measurement lines
    (None, "PSC", None, "Poznámka k souboru cen:\nBeton bez výztuže.", None, None, None, None),
    ("2", "K", "274351121", "Zřízení bednění základových pasů rovného", "m2", 10.0, 140.0, 1400.0),
    (None, "VV", "F0001", "obvod * výška", None, 10.0, None, None),
    (None, None, None, "Celkem za díl 2", None, None, None, 30450.0),
    (None, "X", None, "Poznámka zpracovatele", None, None, None, None),
)


def test_figures_measurements_notes_and_subtotals_are_never_positions() -> None:
    document = parse_document(sheets_xlsx_bytes({"SO 01 - Bytový dům": REAL_LOOKING_ROWS}))

    assert [(p.code, p.unit, p.total_price) for p in document.positions] == [
        ("274313611", "m3", Decimal("29050.00")),
        ("274351121", "m2", Decimal("1400.00")),
    ]
    footing, formwork = document.positions
    assert footing.full_description == "Základové pásy z betonu prostého"
    assert footing.measurements == ["(14+1)*0,8*0,5", "Objekt A"]
    assert footing.metadata["figures"] == [{"code": "CF10", "quantity": "1"}]
    assert footing.metadata["price_set_note"] == "Beton bez výztuže."
    assert formwork.metadata["figures"] == [{"code": "F0001", "quantity": "10", "text": "obvod * výška"}]
    assert document.skipped == {"summary": 2, "section": 2, "unknown_type": 1}
    assert document.attached == {
        "full_description": 1,
        "measurement": 3,
        "figure_reference": 2,
        "price_note": 1,
    }
    lines = {(row.kind, row.line) for row in document.skipped_rows}
    assert lines == {("summary", 8), ("section", 9), ("section", 10), ("summary", 19), ("unknown_type", 20)}
    unknown = next(row for row in document.skipped_rows if row.kind == "unknown_type")
    assert unknown.sheet == "SO 01 - Bytový dům" and unknown.text == "X | Poznámka zpracovatele"
    assert "'X'" in unknown.reason


def test_a_row_without_type_is_a_position_only_with_the_shape_of_one() -> None:
    rows = budget_sheet(
        ("1", "K", "121151113", "Sejmutí ornice", "m2", 100.0, 30.0, 3000.0),
        ("2", None, "162751117", "Vodorovné přemístění výkopku", "m3", 20.0, 50.0, 1000.0),  # Typ left empty
        (None, None, None, "56,8*0,5", None, 28.4, None, None),
    )

    document = parse_document(sheets_xlsx_bytes({"Rozpočet": rows}))

    assert [p.code for p in document.positions] == ["121151113", "162751117"]
    assert document.positions[1].measurements == ["56,8*0,5"]


def test_sheets_that_are_not_budgets_are_recognised_by_structure_not_name() -> None:
    figures = [
        (None, None, "Kód", "Popis", "MJ", "Výměra"),
        (None, None, "SO 01", "Bytový dům"),
        (None, None, "F0001", "Podkladní beton", "m3", 100.8),
        (None, None, None, "100,8", None, 100.8),
        (None, None, "Použití figury:"),
        (None, None, "274351121", "Zřízení bednění základových pasů rovného", "m2", 10.0),
    ]
    recap = [(None, "REKAPITULACE OBJEKTŮ STAVBY"), (None, "Kód", "Popis", "Cena bez DPH"), (None, "SO 01", "Dům", 1.0)]
    cover = [(None, "KRYCÍ LIST ROZPOČTU"), (None, "Stavba:", "Bytový dům Lipová")]
    data = sheets_xlsx_bytes(
        {"Souhrn": recap, "List1": cover, "SO 01 - Bytový dům": REAL_LOOKING_ROWS, "List3": figures}
    )

    document = parse_document(data)

    assert len(document.positions) == 2
    assert [(s.sheet, s.kind, s.rows) for s in document.skipped_sheets] == [
        ("Souhrn", "recapitulation", 3),
        ("List1", "cover", 2),
        ("List3", "figure_list", 6),
    ]
    assert document.skipped["sheet_rows:figure_list"] == 6
    formwork = document.positions[1]
    assert {"code": "F0001", "quantity": "10", "text": "Podkladní beton"} in formwork.metadata["figures"]


def test_a_figure_list_sheet_keeps_unixml_and_kros_excel_equal() -> None:
    from_xml = parse_document(unixml_bytes(SAMPLE_BUDGET))
    from_excel = parse_document(kros_xlsx_bytes(SAMPLE_BUDGET, figure_list=True))

    assert len(from_excel.positions) == SAMPLE_BUDGET_POSITIONS
    assert [_money_fields(p) for p in from_excel.positions] == [_money_fields(p) for p in from_xml.positions]
    assert sum(p.total_price or Decimal(0) for p in from_excel.positions) == SAMPLE_BUDGET_TOTAL
    assert [s.kind for s in from_excel.skipped_sheets] == ["recapitulation", "figure_list"]
    with_figures = [p for p in from_excel.positions if p.metadata.get("figures")]
    assert with_figures and all(p.metadata["figures"][0]["code"].startswith("F") for p in with_figures)


def _money_fields(position: PositionRecord) -> tuple[object, ...]:
    return (
        position.code,
        position.description,
        position.unit,
        position.quantity,
        position.unit_price,
        position.total_price,
    )


# ../shared/samples beside the repository: the main checkout or a worktree some levels further down.
SAMPLES = Path(
    os.environ.get("SHARED_SAMPLES")
    or next(
        (found for parent in Path(__file__).resolve().parents if (found := parent / "shared" / "samples").is_dir()),
        Path("shared/samples"),
    )
)
RD_VALCHA = ("unixml_kros_RD_Valcha_SO1_SO2_priced.xml", "kros_xlsx_RD_Valcha_SO1_SO2_priced.xlsx")


@pytest.mark.skipif(not all((SAMPLES / name).is_file() for name in RD_VALCHA), reason="../shared/samples absent")
def test_rd_valcha_unixml_and_kros_excel_give_identical_positions() -> None:
    xml, excel = (parse_document((SAMPLES / name).read_bytes(), name) for name in RD_VALCHA)

    assert len(xml.positions) == len(excel.positions) == 298
    assert [_money_fields(p) for p in excel.positions] == [_money_fields(p) for p in xml.positions]
    assert sum(p.total_price or Decimal(0) for p in excel.positions) == Decimal("8205797.76")
    assert {s.kind for s in excel.skipped_sheets} == {"recapitulation", "figure_list"}


@pytest.mark.parametrize(
    ("build", "skipped", "sheets"),
    [
        (xc4_bytes, {"section": 3}, []),
        (esticon_xlsx_bytes, {"section": 3, "heading": 1}, []),
        (
            rts_xlsx_bytes,
            {"sheet_rows:cover": 2, "sheet_rows:no_budget_header": 1, "section": 3, "summary": 4, "empty_detail": 1},
            [("Stavba", "cover"), ("VzorPolozky", "no_budget_header")],
        ),
    ],
    ids=["xc4", "esticon", "rts"],
)
def test_every_format_accounts_for_what_is_not_a_position(
    build: Callable[[], bytes], skipped: dict[str, int], sheets: list[tuple[str, str]]
) -> None:
    document = parse_document(build())

    assert document.skipped == skipped
    assert [(sheet.sheet, sheet.kind) for sheet in document.skipped_sheets] == sheets
    assert document.attached["measurement"] > 0
    assert all(row.line and row.reason and row.text for row in document.skipped_rows)
