"""Reading the loose values of old JSON files: numbers written the Czech way, dates in any shape,
status and workflow words. Each function returns the typed value, ``None`` for "no value", or raises
``ValueError`` for a value it cannot read (the caller keeps the raw value and notes a warning).
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, get_args

from app.domain.filestore.legacy import ProjectStatus, Verdict, Workflow

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009\t'")
_CURRENCY_SUFFIX = re.compile(r"(?:kč|czk|,-|\.-)$", re.IGNORECASE)
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EMPTY_NUMBER = frozenset({"", "-", "–", "—", "n/a", "na", "null", "none"})
_CZECH_DATE_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y")


@lru_cache(maxsize=8192)
def normalise_key(key: str) -> str:
    """A JSON key folded for alias look-up: "Množství [m3]" → "mnozstvi_m3", "J.cena" → "j_cena"."""
    folded = unicodedata.normalize("NFKD", key)
    ascii_only = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "_", ascii_only).strip("_")


def parse_decimal(value: Any) -> Decimal | None:
    """A JSON number or a written number ("1 234,56", "1.234,56 Kč", "12.5") as an exact Decimal."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return Decimal(repr(value))  # the shortest text that reads back as this float: "0.1", not 0.1000…
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{type(value).__name__} is not a number")
    text = value.translate(_SPACES).replace("\u2212", "-")
    if text.lower() in _EMPTY_NUMBER:
        return None
    text = _CURRENCY_SUFFIX.sub("", text)
    if "," in text and "." in text:  # the later one is the decimal separator: "1.234,5" / "1,234.5"
        decimal_comma = text.rfind(",") > text.rfind(".")
        text = text.replace(".", "").replace(",", ".") if decimal_comma else text.replace(",", "")
    elif "," in text:
        text = text.replace(",", "") if text.count(",") > 1 else text.replace(",", ".")
    elif text.count(".") > 1:
        text = text.replace(".", "")
    if not _PLAIN_NUMBER.fullmatch(text):
        raise ValueError(f"{value!r} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid literals
        raise ValueError(f"{value!r} is not a number") from exc


def parse_int(value: Any) -> int | None:
    """A whole number from an int, an integral float/Decimal or a numeric string."""
    number = parse_decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def parse_datetime(value: Any, naive_tz: tzinfo = UTC) -> datetime | None:
    """A timestamp as an aware UTC datetime.

    Accepts ISO 8601 (with or without offset / "Z"), "2024-01-05 10:00:00", Czech "5.1.2024 10:00",
    plain dates and Unix epochs in seconds or milliseconds. Times without an offset are taken in
    ``naive_tz`` (UTC by default).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a timestamp")
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float | Decimal):
        return _from_epoch(float(value), value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        parsed = _parse_datetime_text(text, value)
        if parsed is None:
            return _from_epoch(float(text), value)
        moment = parsed
    else:
        raise ValueError(f"{type(value).__name__} is not a timestamp")
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=naive_tz)
    return moment.astimezone(UTC)


def _parse_datetime_text(text: str, original: Any) -> datetime | None:
    """A datetime from text, or None when the text is a bare number (an epoch)."""
    if re.fullmatch(r"\d{9,13}(?:\.\d+)?", text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    squeezed = re.sub(r"\.\s+", ".", text)
    for fmt in _CZECH_DATE_FORMATS:
        try:
            return datetime.strptime(squeezed, fmt)
        except ValueError:
            continue
    raise ValueError(f"{original!r} is not a timestamp")


def _from_epoch(seconds: float, original: Any) -> datetime:
    if not math.isfinite(seconds):
        raise ValueError(f"{original!r} is not a timestamp")
    if abs(seconds) > 1e11:  # milliseconds (1e11 s would be the year 5138)
        seconds /= 1000
    try:
        return _EPOCH + timedelta(microseconds=round(seconds * 1_000_000))
    except OverflowError as exc:
        raise ValueError(f"{original!r} is not a timestamp") from exc


_WORKFLOWS: dict[str, Workflow] = {
    "a": "workflow_a",
    "workflow_a": "workflow_a",
    "workflowa": "workflow_a",
    "b": "workflow_b",
    "workflow_b": "workflow_b",
    "workflowb": "workflow_b",
}

_STATUSES: dict[str, ProjectStatus] = {
    **{word: "draft" for word in ("draft", "new", "created", "uploaded", "pending", "idle", "init")},
    **{word: "parsing" for word in ("parsing", "parse", "processing")},
    **{word: "enriching" for word in ("enriching", "enrich", "enrichment")},
    **{word: "auditing" for word in ("auditing", "audit", "in_audit", "analyzing", "analysing")},
    **{word: "completed" for word in ("completed", "complete", "done", "finished", "success", "audited")},
    **{word: "failed" for word in ("failed", "fail", "failure", "error", "errored")},
}

_VERDICTS: dict[str, Verdict] = {
    **{word: "GREEN" for word in ("green", "ok", "pass", "passed", "valid", "zelena")},
    **{word: "AMBER" for word in ("amber", "yellow", "orange", "warning", "warn", "zluta", "oranzova")},
    **{word: "RED" for word in ("red", "fail", "failed", "error", "invalid", "cervena")},
}

PROJECT_STATUSES: tuple[ProjectStatus, ...] = get_args(ProjectStatus)


def map_workflow(value: Any) -> Workflow | None:
    """ "A" / "workflow_a" → workflow_a, "B" → workflow_b; anything else → None."""
    return _WORKFLOWS.get(normalise_key(value)) if isinstance(value, str) else None


def map_status(value: Any) -> ProjectStatus | None:
    """An old project status word → one of the new statuses, or None when unknown."""
    return _STATUSES.get(normalise_key(value)) if isinstance(value, str) else None


def map_verdict(value: Any) -> Verdict | None:
    """GREEN / AMBER / RED in any case or a synonym (ok, warning, error ...); None when unknown."""
    return _VERDICTS.get(normalise_key(value)) if isinstance(value, str) else None


def parse_confidence(value: Any) -> float | None:
    """A confidence as a float: 0.85, "0,85" or "85 %" (→ 0.85)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        number = parse_decimal(value.strip()[:-1])
        return None if number is None else float(number) / 100
    number = parse_decimal(value)
    return None if number is None else float(number)
