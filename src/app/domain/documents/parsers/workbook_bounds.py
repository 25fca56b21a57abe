"""How much a workbook would unpack to and how many cells its sheets span, found before loading it.

xlsx / ods (zip): every member's declared size and compression ratio are checked first; then every
XML member is unpacked as a stream (1 MiB at a time, never held whole) through ``zipfile``, which
stops at the declared size and verifies the CRC, so a member that lies about its size fails too.
While a worksheet streams past, its used range is measured from the cell references (``r="XFD9"``).

xls (BIFF8 in an OLE2 container): the cell records of each sheet's stream give its used range.

Both answer the cells a spreadsheet reader would allocate: rows × columns from A1 to the last cell.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from array import array
from dataclasses import dataclass
from typing import Protocol

import olefile
from lxml import etree

from app.domain.budgets.records import DocumentParseError

from .limits import (
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_MEMBERS,
    MAX_CELL_TEXT,
    MAX_COMPRESSION_RATIO,
    MAX_DIRECTORY_BYTES,
    MAX_MEMBER_BYTES,
    MAX_SHARED_STRINGS,
    MAX_SHEET_CELLS,
    MAX_WORKBOOK_CELLS,
    RATIO_FLOOR_BYTES,
    too_large,
)

_CHUNK = 2**20
_XML_MEMBER = (".xml", ".rels")
_WORKSHEET = re.compile(r"xl/worksheets/[^/]+\.xml")
_ODS_CONTENT = "content.xml"
_SHARED_STRINGS = re.compile(r"xl/[^/]*sharedstrings[^/]*\.xml", re.IGNORECASE)
_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?worksheet\b")
_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_ODS_CELLS = (f"{{{_TABLE_NS}}}table-cell", f"{{{_TABLE_NS}}}covered-table-cell")
_ODS_ROW = f"{{{_TABLE_NS}}}table-row"
_ODS_TABLE = f"{{{_TABLE_NS}}}table"
_ROWS_REPEATED = f"{{{_TABLE_NS}}}number-rows-repeated"
_COLUMNS_REPEATED = f"{{{_TABLE_NS}}}number-columns-repeated"
_VALUE_TYPE = f"{{{_OFFICE_NS}}}value-type"


@dataclass(slots=True)
class SheetExtent:
    """The used range of one sheet (last row and column, 1-based, holding a cell) and the characters of
    text its cells hold once shared strings are expanded (a reader copies a shared string per cell)."""

    rows: int = 0
    columns: int = 0
    text: int = 0

    @property
    def cells(self) -> int:
        return self.rows * self.columns


_END_OF_DIRECTORY = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
TAIL_BYTES = 22 + 65_535  # the end-of-directory record and the longest comment


def check_zip_directory(tail: bytes) -> None:
    """Refuse, from the last ``TAIL_BYTES`` of a zip, a central directory too large to be read.

    ``zipfile`` turns every directory entry into an object before anything else can be checked: a
    50 MB archive of half a million empty members costs hundreds of MB and many seconds to open.
    The end-of-directory record says how many entries and how many bytes the directory has (ZIP64,
    which can say more, is refused: a workbook within the upload limit never needs it).
    """
    end = tail.rfind(_END_OF_DIRECTORY)
    if end < 0 or end + 22 > len(tail):
        raise DocumentParseError("Excel file is damaged or truncated (no end of the ZIP directory)")
    if tail.rfind(_ZIP64_LOCATOR, max(0, end - 20), end) >= 0:
        raise DocumentParseError("ZIP64 archives are not accepted (a workbook within the upload limit never needs one)")
    entries, directory_bytes = struct.unpack_from("<HI", tail, end + 10)
    if entries > MAX_ARCHIVE_MEMBERS:
        raise too_large("The archive's number of files", entries, MAX_ARCHIVE_MEMBERS)
    if directory_bytes > MAX_DIRECTORY_BYTES:
        raise too_large("The archive's directory", directory_bytes, MAX_DIRECTORY_BYTES, "MB")


def check_archive(data: bytes) -> None:
    """Refuse a zip workbook whose members unpack too far, lie about their size, or span too many cells."""
    check_zip_directory(data[-TAIL_BYTES:])
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise DocumentParseError("Excel file is damaged or truncated (not a readable ZIP archive)") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise too_large("The archive's number of files", len(members), MAX_ARCHIVE_MEMBERS)
        total = 0
        for member in members:
            _check_declared(member)
            total += member.file_size
            if total > MAX_ARCHIVE_BYTES:
                raise too_large("The unpacked workbook", total, MAX_ARCHIVE_BYTES, "MB")
        shared = next((member for member in members if _SHARED_STRINGS.fullmatch(member.filename)), None)
        lengths = _shared_string_lengths(archive, shared) if shared is not None else array("I")
        extents: list[tuple[str, SheetExtent]] = []
        for member in members:
            if member.filename == _ODS_CONTENT:
                extents.extend(_ods_extents(archive, member))
            elif member is not shared and member.filename.endswith(_XML_MEMBER):
                scanner = _ExtentScanner(lengths) if _WORKSHEET.fullmatch(member.filename) else None
                _stream_member(archive, member, scanner)
                if scanner is not None:
                    extents.append((member.filename, scanner.finish()))
        _check_extents(extents)


def _check_extents(extents: list[tuple[str, SheetExtent]]) -> None:
    cells = text = 0
    for name, extent in extents:
        text += extent.text
        if text > MAX_CELL_TEXT:
            raise too_large("The text of the workbook's cells (shared strings expanded)", text, MAX_CELL_TEXT, "MB")
        if extent.cells > MAX_SHEET_CELLS:
            raise too_large(
                f"The sheet {name!r} spans {extent.rows:,} rows × {extent.columns:,} columns; its used range",
                extent.cells,
                MAX_SHEET_CELLS,
                "cells",
            )
        cells += extent.cells
        if cells > MAX_WORKBOOK_CELLS:
            raise too_large("The workbook's sheets together", cells, MAX_WORKBOOK_CELLS, "cells")


def _check_declared(member: zipfile.ZipInfo) -> None:
    if member.file_size > MAX_MEMBER_BYTES:
        raise too_large(f"The archive member {member.filename!r} unpacked", member.file_size, MAX_MEMBER_BYTES, "MB")
    if member.file_size > RATIO_FLOOR_BYTES:
        ratio = member.file_size / max(1, member.compress_size)
        if ratio > MAX_COMPRESSION_RATIO:
            raise too_large(f"The compression ratio of {member.filename!r}", ratio, MAX_COMPRESSION_RATIO, ": 1")


def _stream_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, sink: _Sink | None) -> None:
    """Unpack the member as a stream (bounded by its checked declared size, CRC verified) into ``sink``."""
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                if sink is not None:
                    sink.feed(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        # a wrong CRC or a stream longer or shorter than declared: the archive lies or is damaged
        message = f"Excel file is damaged: member {member.filename!r} cannot be unpacked ({exc})"
        raise DocumentParseError(message) from exc
    except DocumentParseError:
        raise
    except Exception as exc:  # zlib.error and friends
        raise DocumentParseError(f"Excel file is damaged: member {member.filename!r}: {exc}") from exc


class _Sink(Protocol):
    def feed(self, chunk: bytes) -> None: ...


_SI_MARKUP = len(b"<si><t></t>")


class _SharedStrings:
    """The length of each shared string: the bytes between ``<si>`` and ``</si>`` less the least markup
    (``<t>…</t>``), an upper bound of its characters."""

    def __init__(self) -> None:
        self.carry = b""
        self.lengths = array("I")

    def feed(self, chunk: bytes) -> None:
        buffer = self.carry + chunk
        position = 0
        while (start := buffer.find(b"<si", position)) >= 0:
            end = buffer.find(b"</si>", start)
            if end < 0:
                break
            self.lengths.append(max(0, end - start - _SI_MARKUP))
            position = end + len(b"</si>")
            if len(self.lengths) > MAX_SHARED_STRINGS:
                raise too_large("The workbook's number of shared strings", len(self.lengths), MAX_SHARED_STRINGS)
        self.carry = buffer[position:]


def _shared_string_lengths(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> array[int]:
    sink = _SharedStrings()
    _stream_member(archive, member, sink)
    return sink.lengths


def _ods_extents(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> list[tuple[str, SheetExtent]]:
    """The used range and text of each ODS table, counting repeated rows and cells that hold a value
    as a reader expands them (empty repeats, such as the rest of the sheet, expand to nothing)."""
    extents: list[tuple[str, SheetExtent]] = []
    extent, row_index, row_columns, column = SheetExtent(), 0, 0, 0
    try:
        with archive.open(member) as stream:
            events = etree.iterparse(
                stream,
                events=("end",),
                tag=(*_ODS_CELLS, _ODS_ROW, _ODS_TABLE),
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
                huge_tree=False,
            )
            row_text = 0
            for _event, element in events:
                if element.tag in _ODS_CELLS:
                    repeated = _repeat(element, _COLUMNS_REPEATED)
                    column += repeated
                    if element.get(_VALUE_TYPE) is not None or len(element) or (element.text or "").strip():
                        row_columns = column
                        row_text += repeated * sum(len(text) for text in element.itertext())
                elif element.tag == _ODS_ROW:
                    repeated = _repeat(element, _ROWS_REPEATED)
                    row_index += repeated
                    if row_columns:
                        extent.rows = row_index
                        extent.columns = max(extent.columns, row_columns)
                        extent.text += row_text * repeated
                    row_columns, column, row_text = 0, 0, 0
                else:
                    extents.append((f"content.xml#{len(extents) + 1}", extent))
                    extent, row_index = SheetExtent(), 0
                element.clear(keep_tail=False)
    except (etree.XMLSyntaxError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise DocumentParseError(f"Spreadsheet is damaged: {member.filename!r} cannot be read ({exc})") from exc
    return extents


def _repeat(element: etree._Element, attribute: str) -> int:
    value = element.get(attribute)
    return int(value) if value and value.isdigit() else 1


class _ExtentScanner:
    """The used range of a worksheet's XML, fed in chunks and cut after a complete ``</row>``.

    Rows ascend, and so do the cells of a row, so a row's last ``<c r="…">`` holding a value names
    its widest column (self-closed cells are formatting only, and readers skip them); a cell
    without a reference (or with ``r`` not first) is counted at the right of it, or its reference
    is read by a regular expression. Only byte searches run per row otherwise.
    """

    def __init__(self, shared: array[int] | None = None) -> None:
        self.carry = b""
        self.extent = SheetExtent()
        self.last_row = 0
        self.shared = shared if shared is not None else array("I")
        self.prefix: bytes | None = None  # "x:" when the writer prefixes SpreadsheetML tags

    def tags(self, prefix: bytes) -> None:
        self.prefix = prefix
        self.row_open, self.row_close = b"<" + prefix + b"row", b"</" + prefix + b"row>"
        self.cell_open, self.cell_ref = b"<" + prefix + b"c", b"<" + prefix + b'c r="'
        self.cell_close = b"</" + prefix + b"c>"
        self.row_ref = re.compile(rb"<" + re.escape(prefix) + rb'row\b[^>]*?\sr="(\d{1,10})"')
        self.cell_col = re.compile(rb"<" + re.escape(prefix) + rb'c\b[^>]*?\sr="([A-Za-z]{1,5})\d')
        name = re.escape(prefix)
        self.shared_ref = re.compile(rb't="s"[^>]*>\s*<' + name + rb"v>\s*(\d{1,10})\s*<")
        self.inline = re.compile(rb"<" + name + rb"is>(.*?)</" + name + rb"is>", re.DOTALL)

    def feed(self, chunk: bytes) -> None:
        if self.prefix is None:
            root = _ROOT.search(self.carry + chunk)
            if root is None:
                self.carry += chunk
                return
            self.tags(root.group(1) or b"")
        buffer = self.carry + chunk
        cut = buffer.rfind(self.row_close)
        if cut < 0:
            self.carry = buffer
            return
        cut += len(self.row_close)
        self.carry = buffer[cut:]
        self.scan(buffer[:cut])

    def finish(self) -> SheetExtent:
        if self.prefix is None:
            self.tags(b"")
        self.scan(self.carry)
        return self.extent

    def scan(self, text: bytes) -> None:
        self.measure_text(text)
        widest, deepest = self.extent.columns, self.extent.rows
        position = 0
        while (end := text.find(self.row_close, position)) >= 0:
            begin = text.rfind(self.row_open, position, end)  # after any empty <row …/> before it
            begin = position if begin < 0 else begin
            found = self.row_ref.match(text, begin)
            skipped_rows = text.count(self.row_open, position, begin)  # empty self-closed rows
            self.last_row = int(found.group(1)) if found else self.last_row + skipped_rows + 1
            valued = text.rfind(self.cell_close, begin, end)  # a self-closed <c …/> holds no value
            if valued >= 0:
                cells = text.count(self.cell_open, begin, end)
                referenced = text.count(self.cell_ref, begin, end)
                last = text.rfind(self.cell_ref, begin, valued)
                column = _column_at(text, last + len(self.cell_ref)) if last >= 0 else 0
                if referenced != cells:  # some cell has r elsewhere or none: read every reference
                    named = self.cell_col.findall(text, begin, end)
                    column = max([column, *(_column_number(letters) for letters in named)])
                    column += cells - len(named)
                widest = max(widest, column)
                deepest = max(deepest, self.last_row)
            position = end + len(self.row_close)
        self.extent.columns, self.extent.rows = widest, deepest
        if self.extent.cells > MAX_SHEET_CELLS:  # stop unpacking as soon as the bound is passed
            _check_extents([("worksheet", self.extent)])

    def measure_text(self, text: bytes) -> None:
        """Characters the reader will hold: each shared-string reference is a copy of that string."""
        count = len(self.shared)
        for index in map(int, self.shared_ref.findall(text)):
            if index < count:
                self.extent.text += self.shared[index]
        self.extent.text += sum(map(len, self.inline.findall(text)))


def _column_at(text: bytes, start: int) -> int:
    number = 0
    index = start
    while index < len(text) and 65 <= text[index] <= 90 and index - start < 4:
        number = number * 26 + text[index] - 64
        index += 1
    return number


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


# --------------------------------------------------------------------------------------------
# xls: BIFF8 records in the OLE2 "Workbook" stream
# --------------------------------------------------------------------------------------------

_BOF = 0x0809
_EOF = 0x000A
_WORKSHEET_BOF = 0x0010
# Records that place one value at (row, column): NUMBER, RK, LABELSST, LABEL, BOOLERR, FORMULA, RSTRING.
_CELL_RECORDS = frozenset({0x0203, 0x027E, 0x00FD, 0x0204, 0x0205, 0x0006, 0x00D6})
_MULRK = 0x00BD  # several RK values in one row: first column at 2, last column in the last 2 bytes


def check_biff(data: bytes) -> None:
    """Refuse an xls whose sheets span more cells than a parse may allocate."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            stream = next((name for name in ("Workbook", "Book") if ole.exists(name)), None)
            if stream is None:
                raise DocumentParseError("Excel file (xls) has no workbook stream; is it an Excel 97–2003 file?")
            if ole.get_size(stream) > MAX_MEMBER_BYTES:
                raise too_large("The xls workbook stream", ole.get_size(stream), MAX_MEMBER_BYTES, "MB")
            book = ole.openstream(stream).read()
    except DocumentParseError:
        raise
    except Exception as exc:  # olefile raises OSError and plain errors for damaged containers
        raise DocumentParseError(f"Excel file cannot be read (damaged or not a workbook): {exc}") from exc
    _check_extents([(f"sheet {index}", extent) for index, extent in enumerate(_biff_extents(book), start=1)])


_SST = 0x00FC
_CONTINUE = 0x003C
_LABELSST = 0x00FD
_LABEL = 0x0204


def _biff_extents(book: bytes) -> list[SheetExtent]:
    """Each worksheet's used range and cell text (a LABELSST cell copies its shared string)."""
    extents: list[SheetExtent] = []
    current: SheetExtent | None = None
    shared = array("I")
    header = struct.Struct("<HH")
    records = list(_records(book))
    for index, (record, body, length) in enumerate(records):
        if record == _BOF and length >= 4:
            if header.unpack_from(book, body)[1] == _WORKSHEET_BOF:
                current = SheetExtent()
                extents.append(current)
        elif record == _EOF:
            current = None
        elif record == _SST:
            segments = [memoryview(book)[body : body + length]]
            for follow, follow_body, follow_length in records[index + 1 :]:
                if follow != _CONTINUE:
                    break
                segments.append(memoryview(book)[follow_body : follow_body + follow_length])
            shared = _sst_lengths(segments)
        elif current is not None and length >= 4 and (record in _CELL_RECORDS or record == _MULRK):
            row, column = header.unpack_from(book, body)
            if record == _MULRK and length >= 6:
                column = struct.unpack_from("<H", book, body + length - 2)[0]
            current.rows = max(current.rows, row + 1)
            current.columns = max(current.columns, column + 1)
            if record == _LABELSST and length >= 10:
                string = struct.unpack_from("<I", book, body + 6)[0]
                current.text += shared[string] if string < len(shared) else 0
            elif record == _LABEL and length >= 8:
                current.text += struct.unpack_from("<H", book, body + 6)[0]
    return extents


def _records(book: bytes) -> list[tuple[int, int, int]]:
    """(record type, body offset, body length) of every BIFF record."""
    found: list[tuple[int, int, int]] = []
    header = struct.Struct("<HH")
    offset, end = 0, len(book)
    while offset + 4 <= end:
        record, length = header.unpack_from(book, offset)
        found.append((record, offset + 4, length))
        offset += 4 + length
    return found


def _sst_lengths(segments: list[memoryview]) -> array[int]:
    """The character count of each string of the shared string table (SST and its CONTINUE records)."""
    cursor = _Segments(segments)
    lengths = array("I")
    try:
        cursor.skip(4)
        unique = cursor.unsigned(4)
        if unique > MAX_SHARED_STRINGS:
            raise too_large("The workbook's number of shared strings", unique, MAX_SHARED_STRINGS)
        for _ in range(unique):
            characters = cursor.unsigned(2)
            flags = cursor.unsigned(1)
            runs = cursor.unsigned(2) if flags & 0x08 else 0
            extension = cursor.unsigned(4) if flags & 0x04 else 0
            cursor.characters(characters, wide=bool(flags & 0x01))
            cursor.skip(4 * runs + extension)
            lengths.append(characters)
    except (IndexError, struct.error):
        pass  # a truncated table: what was read is enough to bound the text
    return lengths


class _Segments:
    """Reads across a BIFF record and its CONTINUE records; characters resume after a flags byte."""

    def __init__(self, segments: list[memoryview]) -> None:
        self.segments = segments
        self.index = 0
        self.offset = 0

    def _remaining(self) -> int:
        return len(self.segments[self.index]) - self.offset

    def _next(self) -> None:
        self.index += 1
        self.offset = 0
        if self.index >= len(self.segments):
            raise IndexError("end of the shared string table")

    def unsigned(self, size: int) -> int:
        if self._remaining() < size:
            self._next()
        value = int.from_bytes(self.segments[self.index][self.offset : self.offset + size], "little")
        self.offset += size
        return value

    def skip(self, count: int) -> None:
        while count > 0:
            if self._remaining() == 0:
                self._next()
            step = min(count, self._remaining())
            self.offset += step
            count -= step

    def characters(self, count: int, *, wide: bool) -> None:
        while count > 0:
            if self._remaining() == 0:
                self._next()
                wide = bool(self.unsigned(1) & 0x01)  # a continued string restates its width
            width = 2 if wide else 1
            step = min(count, self._remaining() // width)
            if step == 0:
                raise IndexError("a character split across records")
            self.offset += step * width
            count -= step
