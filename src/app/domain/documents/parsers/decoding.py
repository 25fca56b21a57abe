"""Bytes to text for CSV and plain-text files: UTF-8 (with or without BOM), UTF-16 with BOM, cp1250.

Czech spreadsheets save CSV in cp1250; anything with NUL bytes or many control characters is
binary, not text.
"""

from __future__ import annotations

import codecs

_SAMPLE = 64 * 1024
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v\x1a")


def decode_text(data: bytes) -> tuple[str, str] | None:
    """``(text, encoding)``, or ``None`` when the bytes are not text."""
    if data.startswith(codecs.BOM_UTF8):
        return _checked(data, "utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _checked(data, "utf-16")
    if b"\x00" in data[:_SAMPLE]:
        return None
    for encoding in ("utf-8", "cp1250"):
        decoded = _checked(data, encoding)
        if decoded is not None:
            return decoded
    return None


def _checked(data: bytes, encoding: str) -> tuple[str, str] | None:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    sample = text[:_SAMPLE]
    controls = sum(1 for ch in sample if ch < " " and ch not in _ALLOWED_CONTROLS)
    if "\x00" in sample or controls > max(2, len(sample) // 200):
        return None
    return text, encoding
