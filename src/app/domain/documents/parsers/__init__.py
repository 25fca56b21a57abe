"""Document parsers: pure functions from a file's bytes to a ``ParsedDocument``.

Formats are detected from content: UNIXML and XC4 (XML), KROS / RTS / AspeEsticon Excel, CSV,
PDF and plain text. Anything else, or a broken file, raises ``DocumentParseError`` with a message
for the person who uploaded it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.domain.budgets.records import DocumentParseError, ParsedDocument

from .csv_budget import parse_csv
from .detection import detect
from .esticon_excel import parse_esticon_excel
from .kros_excel import parse_kros_excel
from .rts_excel import parse_rts_excel
from .text_documents import parse_pdf, parse_txt
from .unixml import parse_unixml
from .workbook import Workbook
from .xc4 import parse_xc4

__all__ = ["FORMATS", "DocumentParseError", "detect_format", "parse_document"]

_FROM_BYTES: dict[str, Callable[[bytes], ParsedDocument]] = {
    "unixml": parse_unixml,
    "xc4": parse_xc4,
    "csv": parse_csv,
    "pdf": parse_pdf,
    "txt": parse_txt,
}
_FROM_WORKBOOK: dict[str, Callable[[Workbook], ParsedDocument]] = {
    "kros_xlsx": parse_kros_excel,
    "rts_xlsx": parse_rts_excel,
    "esticon_xlsx": parse_esticon_excel,
}
FORMATS = frozenset(_FROM_BYTES) | frozenset(_FROM_WORKBOOK)


def detect_format(data: bytes) -> str | None:
    """The format name (unixml, kros_xlsx, rts_xlsx, esticon_xlsx, xc4, csv, pdf, txt) or ``None``."""
    try:
        with _readable_errors("file"):
            return detect(data).format
    except DocumentParseError:
        return None


def parse_document(data: bytes, filename: str | None = None) -> ParsedDocument:
    """Parse ``data``; ``filename`` only tells a CSV without a header from plain text.

    Raises ``DocumentParseError`` for unknown, empty, truncated or broken files, and for budget
    formats that hold no positions.
    """
    with _readable_errors("file"):
        detected = detect(data, filename)
    with _readable_errors(f"{detected.format} file"):
        if detected.workbook is None:
            return _FROM_BYTES[detected.format](data)
        try:
            return _FROM_WORKBOOK[detected.format](detected.workbook)
        finally:  # a failed parse's traceback must not keep every sheet alive (Workflow B reads it again)
            detected.workbook.close()


@contextmanager
def _readable_errors(what: str) -> Iterator[None]:
    """A malformed file must end as a ``DocumentParseError`` a person can read, never as a crash."""
    try:
        yield
    except (DocumentParseError, MemoryError):
        raise
    except Exception as exc:
        raise DocumentParseError(f"The {what} could not be read: {type(exc).__name__}: {exc}") from exc
