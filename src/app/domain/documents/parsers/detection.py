"""Which format a file is, decided from its content (the file name only tells CSV from plain text).

A file that is none of the known formats raises ``DocumentParseError`` saying what it looked like,
so the person who uploaded it knows what to fix.
"""

from __future__ import annotations

import codecs
import io
import zipfile
from dataclasses import dataclass

from app.domain.budgets.records import DocumentParseError

from . import csv_budget, esticon_excel, kros_excel, rts_excel
from .decoding import decode_text
from .workbook import Workbook
from .workbook_bounds import TAIL_BYTES, check_zip_directory
from .xml_reader import parse_xml, root_name

_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PDF = b"%PDF-"
_XML_ROOTS = {"unixml": "unixml", "xc4": "xc4"}


@dataclass(frozen=True, slots=True)
class Detected:
    """The detected format, with the workbook already opened for Excel formats."""

    format: str
    workbook: Workbook | None = None


def detect(data: bytes, filename: str | None = None) -> Detected:
    """Detect the format of ``data``; raise ``DocumentParseError`` when it is none we read."""
    if not data.strip():
        raise DocumentParseError("File is empty")
    if _PDF in data[:1024]:
        return Detected("pdf")
    if data.startswith((_ZIP, _OLE2)):
        return _detect_workbook(data)
    if _body(data).startswith(b"<"):
        return Detected(_detect_xml(data))
    if decode_text(data) is None:
        raise DocumentParseError("File format not recognised: not UNIXML, XC4, Excel (xlsx/xls), CSV, PDF or text")
    if csv_budget.read_table(data) is not None:
        return Detected("csv")
    if filename and filename.lower().endswith(".csv"):
        raise DocumentParseError(
            "CSV file has no header row naming its columns "
            "(e.g. Kód;Popis;MJ;Množství;J.cena [CZK];Cena celkem or code,description,unit,quantity)"
        )
    return Detected("txt")


def _body(data: bytes) -> bytes:
    """The start of the content without a byte-order mark or leading whitespace (ASCII-compatible only)."""
    head = data[:4096]
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    return head.lstrip()


def _detect_xml(data: bytes) -> str:
    name = root_name(data)
    if name is None:
        parse_xml(data)  # raises the well-formedness error with its line
        raise DocumentParseError("XML file has no root element")
    found = _XML_ROOTS.get(name.lower())
    if found is None:
        raise DocumentParseError(f"XML root <{name}> is not a known budget format (expected <unixml> or <XC4>)")
    return found


def _detect_workbook(data: bytes) -> Detected:
    if data.startswith(_ZIP):
        check_zip_directory(data[-TAIL_BYTES:])  # before zipfile reads every directory entry
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile as exc:
            raise DocumentParseError("Excel file is damaged or truncated (not a readable ZIP archive)") from exc
        if "xl/workbook.xml" not in names and "content.xml" not in names:
            raise DocumentParseError("ZIP archive is not an Excel workbook (no xl/workbook.xml inside)")
    workbook = Workbook(data)
    if rts_excel.has_marker(workbook):
        return Detected("rts_xlsx", workbook)
    if kros_excel.has_marker(workbook):
        return Detected("kros_xlsx", workbook)
    if rts_excel.looks_like_rts(workbook):
        return Detected("rts_xlsx", workbook)
    if esticon_excel.looks_like_esticon(workbook):
        return Detected("esticon_xlsx", workbook)
    if kros_excel.looks_like_kros(workbook):
        return Detected("kros_xlsx", workbook)
    raise DocumentParseError(
        "Excel file has no sheet with a budget header (PČ/Kód/Popis/MJ/Množství, "
        "RTS P.č./Číslo položky or AspeEsticon Typ/Poř. číslo/Kód položky)"
    )
