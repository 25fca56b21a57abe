"""Resource bounds of one parse, checked before a file is unpacked or loaded.

An upload is at most 50 MB, but an xlsx is a zip archive and a spreadsheet reader allocates every
cell of a sheet's used range (from A1 to its last cell), so a small file can ask for gigabytes. Each
bound below is checked on the file's own structure before the expensive step; a file that exceeds
one ends as a failed parse saying which bound and by how much. Together they keep a parse's peak
memory under ``PEAK_MEMORY_MB`` (measured by ``loadtests/bench_parsers.py``, hostile files included).
"""

from __future__ import annotations

from app.domain.budgets.records import DocumentParseError

PEAK_MEMORY_MB = 600  # the stated bound on a parse's peak RSS (worker process, any file ≤ 50 MB)

# Archives (xlsx, ods): every member, before it is read.
MAX_ARCHIVE_MEMBERS = 2_000
MAX_DIRECTORY_BYTES = 2**20  # the central directory (2,000 entries need about 200 KB)
MAX_MEMBER_BYTES = 128 * 2**20  # uncompressed size of one member
MAX_ARCHIVE_BYTES = 256 * 2**20  # uncompressed size of all members together
MAX_COMPRESSION_RATIO = 100  # uncompressed / compressed, for members above RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = 2**20

# Spreadsheets: the used range (rows × columns from A1) that the reader would allocate.
MAX_SHEET_CELLS = 4_000_000
MAX_WORKBOOK_CELLS = 8_000_000
# … and the text its cells hold: a shared string is copied into every cell that refers to it.
MAX_CELL_TEXT = 64 * 2**20  # characters (bytes of markup counted too: an upper bound)
MAX_SHARED_STRINGS = 1_000_000

# XML: libxml2 without huge trees refuses nesting deeper than this and text nodes over 10 MB.
MAX_XML_DEPTH = 256
MAX_XML_TAGS = 2_500_000  # "<" characters, an upper bound of the element count (≈ 1.2 M elements)

# PDF: pypdf itself refuses a stream that unpacks past 75 MB; the text read is bounded here.
MAX_PDF_PAGES = 5_000
MAX_PDF_TEXT = 16_000_000  # characters

# Tables and documents.
MAX_TABLE_ROWS = 1_000_000  # rows of a CSV file
MAX_SEARCH_TEXT = 4_000_000  # characters of a budget's searchable text (documents.indexed_content)
MAX_POSITIONS = 100_000  # positions of one document (about 2.5 KB each while parsing)


def too_large(what: str, found: float, limit: float, unit: str = "") -> DocumentParseError:
    """The error for an exceeded bound, naming both numbers so a person knows what to change."""
    return DocumentParseError(f"{what} is too large: {_amount(found, unit)} (the limit is {_amount(limit, unit)})")


def _amount(value: float, unit: str) -> str:
    if unit == "MB":
        return f"{value / 2**20:,.1f} MB"
    return f"{value:,.0f}{(' ' + unit) if unit else ''}"
