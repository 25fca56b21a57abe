"""Bytes to text for CSV and plain-text files: UTF-8 (with or without BOM), UTF-16 with BOM, or one of
the Czech 8-bit encodings (cp1250, ISO 8859-2, CP852), chosen by which reads most like Czech.

Czech spreadsheets save CSV in cp1250, older tools in ISO 8859-2 or CP852 (DOS). Any byte decodes in
each of them, so each is scored on the characters it gives: Czech letters count, characters that a
Czech text never holds (C1 controls, box drawing, ¹ » ¾ …) count against. Anything with NUL bytes or
many control characters is binary, not text.
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
    decoded = _checked(data, "utf-8")
    if decoded is not None:
        return decoded
    # Scored on a sample (single-byte encodings slice safely), then only the best is decoded whole.
    sample = data[:_SAMPLE]
    scores = {encoding: _sample_score(sample, encoding) for encoding in _EIGHT_BIT}
    for encoding in sorted(_EIGHT_BIT, key=lambda name: -scores[name]):  # stable: ties keep cp1250 first
        decoded = _checked(data, encoding)
        if decoded is not None:
            return decoded
    return None


def _sample_score(sample: bytes, encoding: str) -> int:
    try:
        return _czech_score(sample.decode(encoding))
    except UnicodeDecodeError:
        return -(2**31)


_EIGHT_BIT = ("cp1250", "iso8859_2", "cp852")
_CZECH = frozenset("áčďéěíňóřšťúůýžÁČĎÉĚÍŇÓŘŠŤÚŮÝŽäöüôĺľŕÄÖÜÔĹĽŔ")
_NEVER_CZECH = frozenset("¹»¾¼½¤¦¨©ª«¬®¯´¶¸º¿ÐØÞßðø÷þ")


def _czech_score(text: str) -> int:
    score = 0
    for ch in text:
        if ch < "\x80":
            continue
        if ch in _CZECH:
            score += 1
        elif ch in _NEVER_CZECH or "\x80" <= ch <= "\x9f" or "\u2500" <= ch <= "\u259f":
            score -= 2
    return score


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
