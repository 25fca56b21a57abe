"""Format detection from content, and broken or unknown files ending as readable errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from app.domain.budgets.records import DocumentParseError
from app.domain.documents import parsers
from app.domain.documents.parsers import FORMATS, detect_format, parse_document
from tests.fixtures.budget_files import (
    CZECH_CSV_ROWS,
    csv_bytes,
    esticon_xlsx_bytes,
    kros_xlsx_bytes,
    pdf_bytes,
    plain_xlsx_bytes,
    random_bytes,
    rts_xlsx_bytes,
    unixml_bytes,
    xc4_bytes,
    zip_bytes,
)


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (unixml_bytes, "unixml"),
        (kros_xlsx_bytes, "kros_xlsx"),
        (lambda: kros_xlsx_bytes(legacy=True), "kros_xlsx"),
        (rts_xlsx_bytes, "rts_xlsx"),
        (esticon_xlsx_bytes, "esticon_xlsx"),
        (xc4_bytes, "xc4"),
        (lambda: csv_bytes(CZECH_CSV_ROWS), "csv"),
        (lambda: pdf_bytes(["Technicka zprava"]), "pdf"),
        (lambda: "Technická zpráva".encode("cp1250"), "txt"),
    ],
    ids=["unixml", "kros", "export_komplet", "rts", "esticon", "xc4", "csv", "pdf", "txt"],
)
def test_detect_format_from_content(build: Callable[[], bytes], expected: str) -> None:
    assert detect_format(build()) == expected
    assert expected in FORMATS


def test_file_name_does_not_override_content() -> None:
    assert parse_document(unixml_bytes(), "rozpocet.xlsx").format == "unixml"
    assert parse_document(kros_xlsx_bytes(), "rozpocet.xml").format == "kros_xlsx"


def _no_items_unixml() -> bytes:
    return re.sub(rb"<polozka>.*?</polozka>", b"", unixml_bytes(), flags=re.S)


def _xlsx_without_header() -> bytes:
    return plain_xlsx_bytes([("Název", "Hodnota"), ("Beton", "C30/37 XF4")])


BROKEN = {
    "empty": (lambda: b"", "File is empty"),
    "whitespace": (lambda: b" \r\n\t", "File is empty"),
    "random_bytes": (random_bytes, "File format not recognised"),
    "truncated_xml": (lambda: unixml_bytes()[:2000], r"XML is not well-formed at line \d+, column \d+"),
    "unknown_xml_root": (lambda: b"<html><body>ahoj</body></html>", r"XML root <html> is not a known budget"),
    "unixml_without_positions": (_no_items_unixml, "UNIXML contains no positions"),
    "truncated_xlsx": (lambda: kros_xlsx_bytes()[:4000], "damaged or truncated"),
    "zip_not_xlsx": (lambda: zip_bytes({"vykres.dwg": b"AC1032"}), "ZIP archive is not an Excel workbook"),
    "xlsx_without_header": (_xlsx_without_header, "Excel file has no sheet with a budget header"),
    "ole_garbage": (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + random_bytes(600), "Excel file cannot be read"),
    "truncated_pdf": (lambda: pdf_bytes(["Zprava"])[:200], "PDF cannot be read"),
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_files_raise_a_readable_error(case: str) -> None:
    build, message = BROKEN[case]

    with pytest.raises(DocumentParseError, match=message):
        parse_document(build(), f"{case}.bin")


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><unixml>&b;</unixml>',
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY e SYSTEM "file:///etc/passwd">]><unixml><stavba>&e;'
        b"</stavba></unixml>",
    ],
    ids=["entity_expansion", "external_entity"],
)
def test_xml_with_doctype_is_refused(data: bytes) -> None:
    with pytest.raises(DocumentParseError, match="DOCTYPE"):
        parse_document(data)


def test_detect_format_returns_none_for_unknown_files() -> None:
    assert detect_format(b"") is None
    assert detect_format(random_bytes()) is None
    assert detect_format(zip_bytes({"a.txt": b"x"})) is None
    assert detect_format(_xlsx_without_header()) is None


@pytest.mark.parametrize(
    "build",
    [unixml_bytes, kros_xlsx_bytes, rts_xlsx_bytes, esticon_xlsx_bytes, xc4_bytes, lambda: pdf_bytes(["Zprava"])],
    ids=["unixml", "kros", "rts", "esticon", "xc4", "pdf"],
)
def test_cut_files_parse_or_fail_readably(build: Callable[[], bytes]) -> None:
    data = build()
    for cut in range(1, 12):
        try:
            parse_document(data[: len(data) * cut // 12])
        except DocumentParseError as exc:
            assert str(exc)


def test_unexpected_failures_become_document_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(data: bytes) -> None:
        raise KeyError("stavba")

    monkeypatch.setitem(parsers._FROM_BYTES, "unixml", explode)

    with pytest.raises(DocumentParseError, match="The unixml file could not be read: KeyError"):
        parse_document(unixml_bytes())
