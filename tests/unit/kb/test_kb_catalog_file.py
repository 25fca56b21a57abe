from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from app.domain.kb.reference import CatalogFileError, read_catalog_file
from tests.fixtures.catalog_files import xc4_price_list


def test_xc4_price_list_with_elements_and_attributes() -> None:
    items = read_catalog_file(xc4_price_list("OTSKP"))
    assert [i.code for i in items] == ["272325", "272365", "02910"]
    first, second, third = items
    assert first.catalog == "OTSKP"
    assert first.unit == "M3"
    assert first.reference_price == Decimal("9870.50")
    assert first.technical_spec == "Položka zahrnuje dodání čerstvého betonu."
    assert second.description == "VÝZTUŽ ZÁKLADU Z OCELI 10505, B500B"
    assert second.reference_price == Decimal("41200.00")
    assert third.reference_price is None  # 0 means "not priced"


def test_xc4_with_namespace_deeper_nesting_and_given_catalogue_name() -> None:
    data = (
        '<?xml version="1.0" encoding="windows-1250"?>'
        '<XC4 xmlns="urn:example:xc4"><Data><CenoveSoustavy><Polozky><Skupina>'
        "<Polozka><znacka>11130</znacka><nazev>SEJMUTÍ DRNU</nazev><MJ>M2</MJ><jedn_cena>35.2</jedn_cena></Polozka>"
        "</Skupina></Polozky></CenoveSoustavy></Data></XC4>"
    ).encode("cp1250")
    [item] = read_catalog_file(data, catalog="OTSKP 2025", valid_from=datetime.date(2025, 1, 1))
    assert (item.catalog, item.code, item.description, item.unit) == ("OTSKP 2025", "11130", "SEJMUTÍ DRNU", "M2")
    assert item.valid_from == datetime.date(2025, 1, 1)


def test_xml_entities_are_not_resolved() -> None:
    data = b"""<?xml version="1.0"?>
<!DOCTYPE XC4 [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<XC4><CenoveSoustavy><Polozky><Polozka><znacka>11130</znacka><nazev>&secret;</nazev><MJ>M2</MJ></Polozka>
</Polozky></CenoveSoustavy></XC4>"""
    [item] = read_catalog_file(data)
    assert "root" not in item.description


def test_csv_in_utf8_with_commas() -> None:
    data = (
        "catalog,code,description,unit,reference_price,valid_from\n"
        'CS ÚRS 2025 02,274313611,"Základové pasy z betonu tř. C 16/20",m3,4150.00,2025-07-01\n'
        "OTSKP 2025,272325,ZÁKLADY ZE ŽELEZOBETONU DO C30/37,M3,,2025-01-01\n"
        ",,,,,\n"
    ).encode()
    items = read_catalog_file(data)
    assert [i.code for i in items] == ["274313611", "272325"]
    assert items[0].reference_price == Decimal("4150.00")
    assert items[0].valid_from == datetime.date(2025, 7, 1)
    assert items[1].reference_price is None


def test_csv_as_czech_excel_saves_it() -> None:
    data = (
        "Kód;Popis;MJ;J.cena [CZK];Platnost\r\n"
        "417321414;Ztužující pásy a věnce ze ŽB tř. C 20/25;m3;4 790,00;1. 7. 2025\r\n"
    ).encode("cp1250")
    [item] = read_catalog_file(data, catalog="CS ÚRS 2025 02")
    assert item.catalog == "CS ÚRS 2025 02"
    assert item.description == "Ztužující pásy a věnce ze ŽB tř. C 20/25"
    assert item.reference_price == Decimal("4790.00")
    assert item.valid_from == datetime.date(2025, 7, 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"<XC4><CenoveSoustavy>", "broken"),
        (b"<XC4><stavba/></XC4>", "no catalogue items"),
        ("Název;Množství\nBeton;3\n".encode("cp1250"), "no code column"),
    ],
)
def test_unreadable_files_say_why(data: bytes, message: str) -> None:
    with pytest.raises(CatalogFileError, match=message):
        read_catalog_file(data)
