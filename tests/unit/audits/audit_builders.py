"""Small builders for audit tests: real-looking positions and catalogue items, one default each."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from app.domain.audits.experts import AuditContext, AuditPosition, AuditSettings, Verdict
from app.domain.kb.matching import MatchCandidate
from app.domain.kb.reference import CatalogItem, ExposureTable, load_exposure_table, load_price_bands

_ids = itertools.count(1)

FOUNDATION_CONCRETE = CatalogItem(
    catalog="CS ÚRS 2025 02",
    code="274313611",
    description="Základové pasy z betonu tř. C 16/20",
    unit="m3",
    reference_price=Decimal("4150.00"),
)
FOUNDATION_REBAR = CatalogItem(
    catalog="CS ÚRS 2025 02",
    code="274361821",
    description="Výztuž základových pasů betonářskou ocelí 10 505 (R)",
    unit="t",
    reference_price=Decimal("56700.00"),
)
FOUNDATION_FORMWORK = CatalogItem(
    catalog="CS ÚRS 2025 02",
    code="274351121",
    description="Zřízení bednění základových pasů rovného",
    unit="m2",
    reference_price=Decimal("421.00"),
)
OTSKP_FOUNDATION = CatalogItem(
    catalog="OTSKP 2025", code="272325", description="ZÁKLADY ZE ŽELEZOBETONU DO C30/37", unit="M3"
)
EXCAVATION = CatalogItem(
    catalog="CS ÚRS 2025 02",
    code="132151253",
    description=(
        "Hloubení rýh nezapažených š do 2000 mm v hornině třídy těžitelnosti I skupiny 1 a 2 objem do 100 m3 strojně"
    ),
    unit="m3",
    reference_price=Decimal("332.00"),
)
CATALOG: tuple[CatalogItem, ...] = (
    FOUNDATION_CONCRETE,
    FOUNDATION_REBAR,
    FOUNDATION_FORMWORK,
    OTSKP_FOUNDATION,
    EXCAVATION,
)


def position(
    *,
    code: str | None = "132151253",
    description: str | None = "Hloubení rýh nezapažených š do 2000 mm strojně",
    unit: str | None = "m3",
    quantity: str | Decimal | None = "68.16",
    unit_price: str | Decimal | None = "332.00",
    total_price: str | Decimal | bool | None = True,
    object_code: str | None = "SO 01",
    **extra: Any,
) -> AuditPosition:
    """A position; ``total_price=True`` (default) means "quantity × unit price, rounded as KROS does"."""
    q = _dec(quantity)
    p = _dec(unit_price)
    if total_price is True:
        total = (q * p).quantize(Decimal("0.01")) if q is not None and p is not None else None
    else:
        total = _dec(total_price) if total_price is not False else None
    return AuditPosition(
        id=extra.pop("id", f"p{next(_ids)}"),
        code=code,
        description=description,
        unit=unit,
        quantity=q,
        unit_price=p,
        total_price=total,
        object_code=object_code,
        **extra,
    )


def concrete(description: str, *, code: str | None = "274313611", **overrides: Any) -> AuditPosition:
    """An in-place concrete position (m3) with the given text."""
    values: dict[str, Any] = {"unit": "m3", "quantity": "22.72", "unit_price": "4150.00"}
    values.update(overrides)
    return position(code=code, description=description, **values)


def rebar(tonnes: str, **overrides: Any) -> AuditPosition:
    values: dict[str, Any] = {
        "code": "274361821",
        "description": "Výztuž základových pasů betonářskou ocelí 10 505 (R)",
        "unit": "t",
        "quantity": tonnes,
        "unit_price": "56700.00",
    }
    values.update(overrides)
    return position(**values)


def formwork(m2: str, **overrides: Any) -> AuditPosition:
    values: dict[str, Any] = {
        "code": "274351121",
        "description": "Zřízení bednění základových pasů rovného",
        "unit": "m2",
        "quantity": m2,
        "unit_price": "421.00",
    }
    values.update(overrides)
    return position(**values)


def context(
    positions: Sequence[AuditPosition],
    *,
    catalog: Sequence[CatalogItem] = CATALOG,
    table: ExposureTable | None = None,
    candidates: dict[str, Sequence[MatchCandidate]] | None = None,
    settings: AuditSettings | None = None,
) -> AuditContext:
    """A context over the small test catalogue and the shipped exposure table and price bands."""
    return AuditContext.for_budget(
        positions,
        catalog=catalog,
        exposure_table=table or load_exposure_table(),
        price_bands=load_price_bands().bands,
        candidates=candidates,
        settings=settings,
    )


def issue_types(verdict: Verdict) -> list[str]:
    return [issue.type for issue in verdict.issues]


def _dec(value: str | Decimal | bool | None) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return value if isinstance(value, Decimal) else Decimal(value)
