"""What an uploaded file is, decided from its bytes on disk (the client's name and MIME type are not trusted).

A light check run at upload time on a file that may be 50 MB: it reads the first bytes, and for
ZIP/OLE2 containers the directory only. The parse job later reads the whole file with the parsers'
own detection (documents/parsers/detection.py); the rules agree: xml (<unixml> or <XC4> roots),
xlsx, xls, csv, pdf, txt.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from app.domain.budgets.records import DocumentParseError
from app.domain.documents.parsers.workbook_bounds import TAIL_BYTES, check_zip_directory

HEAD_BYTES = 64 * 1024
_PDF = b"%PDF-"
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_XML_ROOTS = {"unixml": "unixml", "xc4": "xc4"}
_ROOT = re.compile(rb"<(?![?!])([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")
_EXCEL_STREAMS = ("Workbook".encode("utf-16-le"), "Book".encode("utf-16-le"))

MIME_TYPES = {
    "xml": "application/xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xls": "application/vnd.ms-excel",
    "csv": "text/csv",
    "pdf": "application/pdf",
    "txt": "text/plain",
}
EXTENSIONS = {"xml": ".xml", "xlsx": ".xlsx", "xls": ".xls", "csv": ".csv", "pdf": ".pdf", "txt": ".txt"}


class UnknownFileType(Exception):
    """The content is none of the formats we read; the message says what it looked like."""


@dataclass(frozen=True)
class FileType:
    file_type: str
    details: dict[str, str] = field(default_factory=dict)

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.file_type]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.file_type]


def sniff_file(path: Path, filename: str | None = None) -> FileType:
    """Detect the type of a non-empty file; raise `UnknownFileType` when it is none we read."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if _PDF in head[:1024]:
        return FileType("pdf")
    if head.startswith(_ZIP):
        return _zip_type(path)
    if head.startswith(_OLE2):
        return _ole2_type(path)
    body = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if body.startswith(b"<"):
        return _xml_type(body)
    if not _looks_like_text(head):
        raise UnknownFileType("not UNIXML, XC4, Excel (xlsx/xls), CSV, PDF or text")
    if (filename or "").lower().endswith(".csv") or _looks_like_csv(head):
        return FileType("csv")
    return FileType("txt")


def _zip_type(path: Path) -> FileType:
    with path.open("rb") as handle:  # the directory's size first: zipfile would read every entry
        handle.seek(max(0, path.stat().st_size - TAIL_BYTES))
        tail = handle.read()
    try:
        check_zip_directory(tail)
    except DocumentParseError as exc:
        raise UnknownFileType(str(exc)) from exc
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise UnknownFileType("a damaged or truncated ZIP archive") from exc
    if "xl/workbook.xml" in names:
        return FileType("xlsx")
    raise UnknownFileType("a ZIP archive that is not an Excel workbook (no xl/workbook.xml inside)")


def _ole2_type(path: Path) -> FileType:
    """An OLE2 container is an Excel 97-2003 file when it holds a Workbook (or Book) stream."""
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            window = tail + chunk
            if any(name in window for name in _EXCEL_STREAMS):
                return FileType("xls")
            tail = window[-16:]
    raise UnknownFileType("an OLE2 document that is not an Excel workbook (Word? Outlook?)")


def _xml_type(body: bytes) -> FileType:
    match = _ROOT.search(body)
    if match is None:
        raise UnknownFileType("XML without a root element")
    root = match.group(2).decode("ascii", "replace")
    variant = _XML_ROOTS.get(root.lower())
    if variant is None:
        raise UnknownFileType(f"XML with root <{root}>, not a known budget format (expected <unixml> or <XC4>)")
    return FileType("xml", {"xml_format": variant})


def _decoded(head: bytes) -> str | None:
    for encoding in ("utf-8-sig", "cp1250"):
        for cut in range(4):  # the head may end inside a multi-byte character
            try:
                return head[: len(head) - cut].decode(encoding)
            except UnicodeDecodeError:
                continue
    return None


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    text = _decoded(head)
    if text is None:
        return False
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return controls <= len(text) // 100


def _looks_like_csv(head: bytes) -> bool:
    """At least two lines split into the same number (> 1) of fields by one delimiter."""
    text = _decoded(head) or ""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    for delimiter in (";", "\t", ","):
        counts = {line.count(delimiter) for line in lines[:-1] or lines}
        if len(counts) == 1 and counts.pop() >= 1:
            return True
    return False
