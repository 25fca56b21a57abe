"""Upload-time file typing from content (the parsers re-detect when they read the whole file)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.domain.documents.file_types import UnknownFileType, sniff_file
from tests.support.api import (
    csv_bytes,
    doc_bytes,
    docx_bytes,
    pdf_bytes,
    png_bytes,
    text_bytes,
    unixml_bytes,
    xc4_bytes,
    xls_bytes,
    xlsx_bytes,
)


@pytest.mark.parametrize(
    ("content", "filename", "file_type"),
    [
        (csv_bytes, "a.csv", "csv"),
        (csv_bytes, "a.txt", "csv"),
        (lambda: "kód;popis\n1;Výkop\n".encode("cp1250"), None, "csv"),
        (unixml_bytes, None, "xml"),
        (lambda: b"\xef\xbb\xbf  \n" + unixml_bytes(), None, "xml"),
        (xc4_bytes, None, "xml"),
        (xlsx_bytes, "a.bin", "xlsx"),
        (xls_bytes, None, "xls"),
        (pdf_bytes, "a.csv", "pdf"),
        (text_bytes, None, "txt"),
        (lambda: text_bytes() + b"\n", "a.csv", "csv"),  # a .csv name settles text
    ],
)
def test_known_types(tmp_path: Path, content: Callable[[], bytes], filename: str | None, file_type: str) -> None:
    path = tmp_path / "upload"
    path.write_bytes(content())
    assert sniff_file(path, filename).file_type == file_type


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (png_bytes(), "not UNIXML"),
        (docx_bytes(), "not an Excel workbook"),
        (doc_bytes(), "not an Excel workbook"),
        (b"PK\x03\x04 broken", "damaged"),
        (b"<html><body/></html>", "root <html>"),
        (b"\x00\x01\x02\x03" * 100, "not UNIXML"),
    ],
)
def test_unknown_types_say_what_they_looked_like(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "upload"
    path.write_bytes(content)
    with pytest.raises(UnknownFileType, match=reason):
        sniff_file(path, "x.csv")
