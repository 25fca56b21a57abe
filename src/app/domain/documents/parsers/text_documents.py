"""PDF and plain-text documents: their text for full-text search and Workflow B.

When the text holds a budget table (lines with a 9-digit ÚRS code, or an 8-digit material code, a
unit and a quantity) those lines also become positions, best effort: such a document carries a
warning to check them, and a line with a 9-digit code that cannot be read is warned about.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal

from pypdf import PdfReader
from pypdf.errors import LimitReachedError, PdfReadError

from app.domain.budgets.records import DocumentParseError, ParsedDocument

from .assembly import DocumentBuilder, PositionDraft
from .decoding import decode_text
from .limits import MAX_PDF_PAGES, MAX_PDF_TEXT
from .numbers import InvalidNumber, line_total, parse_decimal

PDF_FORMAT = "pdf"
TXT_FORMAT = "txt"

_UNITS = r"m3|m2|m³|m²|bm|km|m|t|kg|kus|ks|kpl|soubor|sb|hod|h|litr|l|ha|měsíc|měs|mes|den|%"
_ITEM_LINE = re.compile(
    r"^\s*(?:(?P<number>\d{1,4})[.)]?\s+)?(?:(?P<kind>[KM])\s+)?(?P<code>\d{8,9})\s+"
    rf"(?P<description>.+?)\s+(?P<unit>{_UNITS})\s+(?P<numbers>-?\d[\d\s\u00a0.,-]*?)"
    r"(?:\s+(?P<catalog>[^\d\s-]\S.*?))?\s*$",
    re.IGNORECASE,
)
_URS_CODE = re.compile(r"(?<![\d.,])\d{9}(?![\d.,])")
_CANDIDATE = re.compile(r"(?<![\d.,])\d{8,9}(?![\d.,])")
_THOUSANDS_HEAD = re.compile(r"-?\d{1,3}(?: \d{3})*")
_THOUSANDS_TAIL = re.compile(r"\d{3}(?:[.,]\d+)?")


def parse_pdf(data: bytes) -> ParsedDocument:
    """Text of every page (pypdf); a file pypdf cannot open is an error, a scan without text a warning."""
    builder = DocumentBuilder(PDF_FORMAT)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentParseError("PDF is password-protected; upload it without a password")
        pages = _page_texts(reader, builder)
    except DocumentParseError:
        raise
    except LimitReachedError as exc:  # pypdf's own bounds: a stream that unpacks past 75 MB, and such
        raise DocumentParseError(f"PDF is too large to read: {exc}") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentParseError(f"PDF cannot be read (damaged or truncated): {exc}") from exc
    if not pages:
        raise DocumentParseError("PDF has no pages (damaged or truncated)")
    builder.metadata["pages"] = len(pages)
    title = reader.metadata.title if reader.metadata else None
    if title:
        builder.metadata["title"] = str(title)
    text = "\n".join(pages).rstrip()  # not stripped at the start: source_line counts from line 1
    if not text.strip():
        builder.warn("PDF has no extractable text (a scanned drawing or image?)")
    page_of_line: list[int] = []
    for number, page in enumerate(pages, start=1):
        page_of_line.extend([number] * (page.count("\n") + 1))
    _positions_from_text(text, builder, page_of_line)
    return builder.build(text=text if text.strip() else "")


def _page_texts(reader: PdfReader, builder: DocumentBuilder) -> list[str]:
    """The text of each page, up to ``MAX_PDF_PAGES`` pages and ``MAX_PDF_TEXT`` characters (warned)."""
    pages: list[str] = []
    size = 0
    for index, page in enumerate(reader.pages):
        if index >= MAX_PDF_PAGES:
            builder.warn(f"only the first {MAX_PDF_PAGES:,} pages were read")
            break
        text = page.extract_text() or ""
        if size + len(text) > MAX_PDF_TEXT:
            pages.append(text[: MAX_PDF_TEXT - size])
            builder.warn(f"text was read up to page {index + 1:,} only (more than {MAX_PDF_TEXT:,} characters)")
            break
        size += len(text)
        pages.append(text)
    return pages


def parse_txt(data: bytes) -> ParsedDocument:
    """Plain text in UTF-8 / UTF-16 / cp1250."""
    decoded = decode_text(data)
    if decoded is None:
        raise DocumentParseError("File is not text (binary content) and not a known budget format")
    text, encoding = decoded
    builder = DocumentBuilder(TXT_FORMAT)
    builder.metadata["encoding"] = encoding
    _positions_from_text(text, builder, None)
    return builder.build(text=text.rstrip())


def _positions_from_text(text: str, builder: DocumentBuilder, pages: list[int] | None) -> None:
    unreadable: list[tuple[int, str]] = []
    for index, raw in enumerate(text.split("\n")):
        if not _CANDIDATE.search(raw):
            continue
        line = index + 1
        match = _ITEM_LINE.match(raw.replace("\u00a0", " "))
        numbers = _numbers(match.group("numbers")) if match else None
        if match is None or not numbers:
            if _URS_CODE.search(raw):
                unreadable.append((line, raw.strip()))
            continue
        quantity = numbers[0]
        unit_price = numbers[1] if len(numbers) > 1 else None
        total = numbers[2] if len(numbers) > 2 else None
        metadata: dict[str, object] = {"recognised_from_text": True}
        if pages is not None and index < len(pages):
            metadata["page"] = pages[index]
        if total is not None and line_total(quantity, unit_price) != total.quantize(Decimal("0.01")):
            builder.warn("quantity × unit price does not give the total; check the numbers", line=line)
        builder.add(
            PositionDraft(
                description=match.group("description").strip(),
                code=match.group("code"),
                position_number=match.group("number"),
                unit=match.group("unit"),
                quantity=quantity,
                unit_price=unit_price,
                total_price=total,
                catalog=(match.group("catalog") or "").strip() or None,
                item_type=(match.group("kind") or "").upper() or None,
                source_line=line,
                metadata=metadata,
            )
        )
    if not builder.positions:
        return
    builder.warn(
        f"{len(builder.positions)} positions were recognised in free text (best effort); "
        "check codes, units and quantities against the original"
    )
    for line, raw in unreadable:
        builder.warn(f"line with a 9-digit code could not be read as a position: {raw[:120]}", line=line)


def _numbers(text: str) -> list[Decimal] | None:
    """Numbers of a table row; "3 579,30" (space as thousands separator) is one number."""
    groups: list[str] = []
    for token in text.split():
        if groups and _THOUSANDS_TAIL.fullmatch(token) and _THOUSANDS_HEAD.fullmatch(groups[-1]):
            groups[-1] = f"{groups[-1]} {token}"
        else:
            groups.append(token)
    try:
        values = [parse_decimal(group) for group in groups]
    except InvalidNumber:
        return None
    return [value for value in values if value is not None] or None
