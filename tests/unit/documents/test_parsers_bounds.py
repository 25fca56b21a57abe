"""Resource bounds: hostile workbooks, archives and XML fail with a reason before they are unpacked or loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.domain.budgets.records import DocumentParseError
from app.domain.documents.file_types import UnknownFileType, sniff_file
from app.domain.documents.parsers import (
    assembly,
    csv_budget,
    parse_document,
    text_documents,
    workbook_bounds,
    xml_reader,
)
from app.domain.documents.parsers.kros_excel import parse_kros_excel
from app.domain.documents.parsers.workbook import Workbook
from app.domain.documents.parsers.workbook_bounds import check_archive
from tests.fixtures.budget_files import csv_bytes, kros_xlsx_bytes, pdf_bytes, unixml_bytes, zip_bytes
from tests.fixtures.hostile_files import (
    ODS_CELL,
    dense_range_bomb,
    inline_cell,
    lying_zip_bomb,
    ods_bytes,
    ods_repeat_bomb,
    shared_string_bomb,
    sheet_xml,
    xlsx_bytes,
    zip_bomb,
)


def test_a_tiny_file_whose_used_range_is_billions_of_cells_is_refused_before_loading() -> None:
    data = dense_range_bomb()
    assert len(data) < 2000

    with pytest.raises(DocumentParseError, match=r"spans 1,048,576 rows × 16,384 columns.*too large"):
        parse_document(data, "rozpocet.xlsx")


def test_a_member_that_unpacks_too_far_or_too_steeply_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DocumentParseError, match=r"compression ratio of 'xl/worksheets/sheet1.xml' is too large"):
        parse_document(zip_bomb(4), "bomb.xlsx")

    monkeypatch.setattr(workbook_bounds, "MAX_COMPRESSION_RATIO", 10**6)
    monkeypatch.setattr(workbook_bounds, "MAX_MEMBER_BYTES", 2**20)
    with pytest.raises(
        DocumentParseError, match=r"'xl/worksheets/sheet1.xml' unpacked is too large: [\d.]+ MB \(the limit is 1.0 MB\)"
    ):
        parse_document(zip_bomb(4), "bomb.xlsx")


def test_a_member_that_lies_about_its_size_is_refused_when_its_stream_runs_past_it() -> None:
    with pytest.raises(DocumentParseError, match=r"damaged: member 'xl/worksheets/sheet1.xml' cannot be unpacked"):
        parse_document(lying_zip_bomb(4), "bomb.xlsx")


def _extent(sheet: bytes) -> tuple[int, int]:
    scanner = workbook_bounds._ExtentScanner()
    for start in range(0, len(sheet), 7):  # tiny chunks: rows and tags cut anywhere
        scanner.feed(sheet[start : start + 7])
    extent = scanner.finish()
    return extent.rows, extent.columns


def test_the_used_range_is_measured_from_references_and_cells_without_them() -> None:
    referenced = sheet_xml([b'<row r="3">' + inline_cell("B3", "a") + inline_cell("AB3", "b") + b"</row>"])
    unreferenced = sheet_xml([b"<row>" + inline_cell(None, "a") * 40 + b"</row>"] * 5)
    r_not_first = sheet_xml([b'<row r="2"><c t="inlineStr" r="ZZ2"><is><t>x</t></is></c></row>'])
    formatting_only = sheet_xml(
        [b'<row r="1">' + inline_cell("A1", "a") + b'</row><row r="900"><c r="Z900" s="3"/></row>']
    )
    prefixed = (
        b'<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>'
        b'<x:row r="7"><x:c r="C7" t="inlineStr"><x:is><x:t>a</x:t></x:is></x:c></x:row></x:sheetData></x:worksheet>'
    )

    assert _extent(referenced) == (3, 28)
    assert _extent(unreferenced) == (5, 40)
    assert _extent(r_not_first) == (2, 702)
    assert _extent(formatting_only) == (1, 1)
    assert _extent(prefixed) == (7, 3)


def test_cells_without_references_cannot_hide_a_wide_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook_bounds, "MAX_SHEET_CELLS", 1000)
    rows = [b"<row>" + inline_cell(None, "x") * 200 + b"</row>"] * 10

    with pytest.raises(DocumentParseError, match="spans 10 rows × 200 columns"):
        check_archive(xlsx_bytes(sheet_xml(rows)))


def test_a_shared_string_copied_into_many_cells_is_refused() -> None:
    data = shared_string_bomb(length=30_000, cells=3_000)  # 90 M characters once expanded
    assert len(data) < 10_000

    with pytest.raises(DocumentParseError, match=r"text of the workbook's cells .* is too large: 85.\d MB"):
        parse_document(data, "rozpocet.xlsx")


def test_an_xls_shared_string_copied_into_many_cells_is_refused() -> None:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Rozpočet")
    for row in range(3_000):
        sheet.write(row, 0, "x" * 30_000)
    buffer = __import__("io").BytesIO()
    book.save(buffer)

    with pytest.raises(DocumentParseError, match=r"text of the workbook's cells .* is too large"):
        parse_document(buffer.getvalue(), "kalkulace.xls")


def test_an_xls_reaching_its_last_cell_is_refused() -> None:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Rozpočet")
    sheet.write(0, 0, "Kód")
    sheet.write(65535, 255, "x")
    path = __import__("io").BytesIO()
    book.save(path)

    with pytest.raises(DocumentParseError, match=r"sheet 1' spans 65,536 rows × 256 columns"):
        parse_document(path.getvalue(), "kalkulace.xls")


def test_ods_repeats_count_as_the_reader_expands_them() -> None:
    with pytest.raises(DocumentParseError, match=r"spans 3,000 rows × 3,000 columns"):
        parse_document(ods_repeat_bomb(), "rozpocet.ods")
    empty_rest = (
        f"<table:table-row>{ODS_CELL}<table:table-cell table:number-columns-repeated='16383'/></table:table-row>"
        "<table:table-row table:number-rows-repeated='1048575'><table:table-cell/></table:table-row>"
    )
    check_archive(ods_bytes(empty_rest))  # an empty rest of the sheet expands to nothing
    long_text = ODS_CELL.replace(">x<", f">{'x' * 30_000}<").replace(
        "<table:table-cell ", '<table:table-cell table:number-columns-repeated="100" '
    )
    with pytest.raises(DocumentParseError, match=r"text of the workbook's cells .* is too large"):
        check_archive(ods_bytes(f'<table:table-row table:number-rows-repeated="100">{long_text}</table:table-row>'))


def test_xml_with_too_many_tags_or_too_deep_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    deep = b"<unixml>" + b"<a>" * 300 + b"</a>" * 300 + b"</unixml>"
    with pytest.raises(DocumentParseError, match="nested deeper than 256 levels"):
        parse_document(deep, "rozpocet.xml")

    monkeypatch.setattr(xml_reader, "MAX_XML_TAGS", 100)
    with pytest.raises(DocumentParseError, match=r"number of tags is too large: [\d,]+ \(the limit is 100\)"):
        parse_document(unixml_bytes(), "rozpocet.xml")


def test_csv_rows_and_positions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [("Kód", "Popis", "MJ", "Množství")] + [(f"27332131{i}", "Beton", "m3", "1") for i in range(10)]
    monkeypatch.setattr(assembly, "MAX_POSITIONS", 5)
    with pytest.raises(DocumentParseError, match=r"number of positions is too large: 6 \(the limit is 5\)"):
        parse_document(csv_bytes(rows), "rozpocet.csv")
    monkeypatch.setattr(csv_budget, "MAX_TABLE_ROWS", 8)
    with pytest.raises(DocumentParseError, match=r"number of rows is too large: 9 \(the limit is 8\)"):
        parse_document(csv_bytes(rows), "rozpocet.csv")


class _CountingBook:
    """Stands in for the calamine workbook and counts how often each sheet is loaded."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.loads: dict[str, int] = {}

    def get_sheet_by_name(self, name: str) -> Any:
        self.loads[name] = self.loads.get(name, 0) + 1
        return self.book.get_sheet_by_name(name)


def test_each_sheet_is_loaded_once_and_released_after_the_parse() -> None:
    workbook = Workbook(kros_xlsx_bytes(figure_list=True))
    counting = _CountingBook(workbook._book)
    workbook._book = counting  # type: ignore[assignment]

    parse_kros_excel(workbook)
    workbook.close()

    assert set(counting.loads) == set(workbook.sheet_names)
    assert set(counting.loads.values()) == {1}
    assert workbook._rows == {}


def test_pdf_text_is_read_up_to_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_documents, "MAX_PDF_TEXT", 20)
    data = pdf_bytes(["Technicka zprava - zakladove konstrukce", "Beton C 30/37 XC2"])

    document = parse_document(data, "zprava.pdf")

    assert len(document.text) <= 20
    assert [w.message for w in document.warnings] == ["text was read up to page 1 only (more than 20 characters)"]


def test_an_archive_of_too_many_members_is_refused_before_its_directory_is_read(tmp_path: Path) -> None:
    members = {"xl/workbook.xml": b"<workbook/>", **{f"x/{index}": b"" for index in range(2_500)}}
    data = zip_bytes(members)

    with pytest.raises(DocumentParseError, match=r"number of files is too large: 2,501 \(the limit is 2,000\)"):
        parse_document(data, "rozpocet.xlsx")
    upload = tmp_path / "upload"
    upload.write_bytes(data)
    with pytest.raises(UnknownFileType, match="number of files is too large"):
        sniff_file(upload, "rozpocet.xlsx")
