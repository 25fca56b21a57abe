"""Small builders for knowledge-base tests: catalogue items and positions to match."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from app.domain.kb.reference import CatalogIndex, CatalogItem


def item(
    code: str, description: str, unit: str | None = "m3", price: str | None = None, catalog: str = "CS ÚRS 2025 02"
) -> CatalogItem:
    return CatalogItem(
        catalog=catalog,
        code=code,
        description=description,
        unit=unit,
        reference_price=Decimal(price) if price is not None else None,
    )


class Pos(msgspec.Struct, kw_only=True):
    """The fields matching reads (any object with them will do)."""

    description: str | None
    code: str | None = None
    unit: str | None = None
    full_description: str | None = None


CONCRETE_ITEMS = (
    item("273313711", "Základové desky z betonu tř. C 20/25", price="4340.00"),
    item("274321411", "Železobeton základových pasů tř. C 25/30", price="5200.00"),
    item("58933310", "beton C 30/37 XC4 XF1 kamenivo frakce 0/16", price="3150.00"),
    item("58933320", "beton C 30/37 XC4 XF1 XD1 kamenivo frakce 0/22", price="3180.00"),
    item("417321515", "Ztužující pásy a věnce ze ŽB tř. C 30/37", price="6100.00"),
    item("273362021", "Výztuž základových desek svařovanými sítěmi Kari", unit="t", price="38800.00"),
    item("132151253", "Hloubení rýh nezapažených š do 2000 mm v hornině třídy těžitelnosti I skupiny 1 a 2 strojně"),
    item(
        "132151254",
        "Hloubení rýh nezapažených š do 2000 mm v hornině třídy těžitelnosti I skupiny 1 a 2 objem přes 500 m3",
    ),
    item("11130", "SEJMUTÍ DRNU", unit="M2", catalog="OTSKP 2025"),
)


def index() -> CatalogIndex:
    return CatalogIndex(CONCRETE_ITEMS)
