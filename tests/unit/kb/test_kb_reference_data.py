"""The shipped reference data loads, is consistent, and says what DOMAIN.md says."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.audits.concrete_text import EXPOSURE_CLASSES, StrengthClass
from app.domain.kb.codes import CodeShape, code_shape, element_group, normalize_code
from app.domain.kb.reference import (
    CatalogIndex,
    load_catalog_extract,
    load_exposure_table,
    load_exposure_tables,
    load_price_bands,
    read_exposure_tables,
    read_price_bands,
)
from app.domain.kb.units import is_known_unit, normalize_unit, same_unit


def test_catalogue_extract_is_a_few_hundred_real_items() -> None:
    items = load_catalog_extract()
    assert 300 <= len(items) <= 1000
    codes = [normalize_code(i.code) for i in items]
    assert len(codes) == len(set(codes))
    assert all(i.description and i.unit for i in items)
    catalogs = {i.catalog for i in items}
    assert {"CS ÚRS 2025 02", "OTSKP 2025"} <= catalogs
    priced = [i for i in items if i.reference_price is not None]
    assert priced and all(isinstance(i.reference_price, Decimal) and i.reference_price > 0 for i in priced)
    assert all(i.reference_price is None for i in items if i.catalog.startswith("OTSKP"))


def test_catalogue_extract_knows_real_codes() -> None:
    catalog = CatalogIndex(load_catalog_extract())
    assert catalog["274313611"].unit == "m3"
    assert catalog["274361821"].reference_price == Decimal("56700.00")
    assert catalog["272325"].description == "ZÁKLADY ZE ŽELEZOBETONU DO C30/37"
    assert catalog.families == frozenset({"urs", "otskp", "rts"})


def test_national_exposure_table_matches_the_domain() -> None:
    table = load_exposure_table()
    assert table.name == "CSN_P_73_2404"
    assert table.minimum_for("XD3") == "C30/37"
    assert table.minimum_for("xc4") == "C25/30"
    assert table.minimum_for("XS2") == "C35/45"
    assert table.minimum_for("XM1") is None
    assert table.air_entrainment.exposure_classes == ("XF2", "XF3", "XF4")
    assert table.air_entrainment.min_air_content_percent == Decimal("4.0")


def test_en206_table_is_an_alternative_at_least_as_strict() -> None:
    tables = load_exposure_tables()
    national, en206 = tables.table("CSN_P_73_2404"), tables.table("EN_206_F1")
    assert set(national.minimum_strength) == set(en206.minimum_strength)
    for exposure, label in national.minimum_strength.items():
        assert exposure in EXPOSURE_CLASSES
        assert StrengthClass.parse(en206.minimum_strength[exposure]) >= StrengthClass.parse(label)


def test_a_replacement_exposure_document_is_validated() -> None:
    with pytest.raises(ValueError, match="default_table"):
        read_exposure_tables(
            b'{"version":"x","default_table":"nope","tables":{},'
            b'"air_entrainment":{"exposure_classes":[],"min_air_content_percent":"4"}}'
        )


def test_price_bands_match_the_domain() -> None:
    bands = {band.kind: band for band in load_price_bands().bands}
    assert (bands["urs_in_place_concrete"].min_price, bands["urs_in_place_concrete"].max_price) == (2500, 7000)
    assert (bands["otskp_structural_concrete"].min_price, bands["otskp_structural_concrete"].max_price) == (
        6000,
        30000,
    )
    assert (bands["reinforcement"].min_price, bands["reinforcement"].max_price) == (28000, 65000)
    assert (bands["ready_mix_supply"].min_price, bands["ready_mix_supply"].max_price) == (2400, 3300)


@pytest.mark.parametrize(
    ("code", "text", "unit", "item_type", "kind"),
    [
        ("274313611", "Základové pasy z betonu tř. C 16/20", "m3", "K", "urs_in_place_concrete"),
        ("417321414", "Ztužující pásy a věnce ze ŽB tř. C 20/25", "m3", None, "urs_in_place_concrete"),
        ("272325", "ZÁKLADY ZE ŽELEZOBETONU DO C30/37", "M3", "K", "otskp_structural_concrete"),
        ("274361821", "Výztuž základových pasů betonářskou ocelí 10 505 (R)", "t", "K", "reinforcement"),
        ("272365", "VÝZTUŽ ZÁKLADU Z OCELI 10505, B500B", "T", None, "reinforcement"),
        ("58933310", "beton C 25/30 XC2 kamenivo frakce 0/22", "m3", "M", "ready_mix_supply"),
        ("45131A", "PODKLADNÍ A VÝPLŇOVÉ VRSTVY Z PROSTÉHO BETONU C20/25", "M3", None, None),
        ("966168", "BOURÁNÍ KONSTRUKCÍ ZE ŽELEZOBETONU S ODVOZEM DO 20KM", "M3", None, None),
        ("274313611", "Základové pasy z betonu tř. C 16/20", "m2", None, None),
        ("132151253", "Hloubení rýh", "m3", None, None),
    ],
)
def test_price_band_recognition(code: str, text: str, unit: str, item_type: str | None, kind: str | None) -> None:
    band = load_price_bands().band_for(code=code, text=text, unit=unit, item_type=item_type)
    assert (band.kind if band else None) == kind


def test_a_replacement_price_band_document_is_validated() -> None:
    with pytest.raises(ValueError, match="empty or negative"):
        read_price_bands(
            b'{"version":"x","currency":"CZK","bands":[{"kind":"k","label":"l","unit":"m3",'
            b'"min_price":"10","max_price":"5","recognise":{}}]}'
        )


@pytest.mark.parametrize(
    ("code", "catalog", "shape"),
    [
        ("273313611", None, CodeShape.URS),
        ("58933310", None, CodeShape.URS_MATERIAL),
        ("311272031.XLA", None, CodeShape.URS_VARIANT),
        ("272325", None, CodeShape.OTSKP),
        ("45131A", None, CodeShape.OTSKP),
        ("02910", "OTSKP 2025", CodeShape.OTSKP),
        ("005211020R", "RTS 24/II", CodeShape.RTS),
        ("00511 R", "RTS 24/II", CodeShape.RTS),
        ("1627011000Rpol", None, CodeShape.PRIVATE),
        ("Pol31", None, CodeShape.PRIVATE),
        ("71313134R", None, CodeShape.PRIVATE),
        ("", None, CodeShape.MISSING),
        (None, None, CodeShape.MISSING),
    ],
)
def test_code_shapes(code: str | None, catalog: str | None, shape: CodeShape) -> None:
    assert code_shape(code, catalog) is shape


def test_element_group_pairs_concrete_with_its_reinforcement() -> None:
    assert element_group("274313611") == element_group("274361821") == "27"
    assert element_group("Pol31") is None


@pytest.mark.parametrize(
    ("unit", "canonical"),
    [("M3", "m3"), ("m³", "m3"), ("ks", "kus"), ("KUS", "kus"), ("hod", "h"), ("KPL", "kpl"), ("soubor", "kpl")],
)
def test_units_normalise(unit: str, canonical: str) -> None:
    assert normalize_unit(unit) == canonical
    assert is_known_unit(unit)


def test_unit_comparison() -> None:
    assert same_unit("M3", "m3")
    assert not same_unit("m2", "m3")
    assert not same_unit(None, None)
    assert not is_known_unit("us")
