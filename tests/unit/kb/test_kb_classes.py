from __future__ import annotations

from app.domain.kb.classes import (
    ClassKind,
    class_kind,
    classes_from_tskp_xml,
    load_class_table,
    read_class_table,
    write_class_table,
)

_XML = """<?xml version='1.0' encoding='utf-8'?>
<BuildingInformation><Classification><System><Name>TSKP</Name><EditionVersion>test 1</EditionVersion>
<Items><Item><ID>4</ID><Name>Vodorovné konstrukce</Name><Children>
  <Item><ID>41</ID><Name>Stropy</Name><Children>
    <Item><ID>411</ID><Name>Stropy plošné</Name></Item></Children></Item></Children></Item></Items>
</System></Classification></BuildingInformation>""".encode()


def test_the_shipped_table_holds_the_whole_tree() -> None:
    table = load_class_table()
    assert len(table) == 11_991
    assert table.edition == "TSKP 2025-01 v1"
    placement = table.place("411321414")
    assert placement is not None and placement.exists
    assert [item.code for item in placement.path] == ["4", "41", "411", "4113", "41132"]
    assert placement.kind is ClassKind.CONCRETE


def test_what_tskp_does_not_classify() -> None:
    table = load_class_table()
    assert table.place("58933310") is None  # ÚRS material
    assert table.place("354420620", item_type="M") is None  # a material row
    assert table.place("Pol31") is None
    r_item = table.place("71313134R")  # an R-item is placed by the catalogue number it is built on
    assert r_item is not None and r_item.deepest is not None and r_item.deepest.code == "71313"


def test_a_missing_group_is_a_typo_unless_it_is_a_general_class() -> None:
    table = load_class_table()
    assert not table.place("471321414", item_type="K").exists  # type: ignore[union-attr]
    assert table.place("553431230").exists  # type: ignore[union-attr]  # unknown type: maybe a material
    assert table.place("330321510").exists  # type: ignore[union-attr]  # 330: columns in general
    assert table.place("84914", catalog="OTSKP").exists  # type: ignore[union-attr]  # OTSKP's own group


def test_kinds_from_class_names() -> None:
    assert class_kind("Základové desky betonové monolitické výztuž z betonářské oceli") is ClassKind.REINFORCEMENT
    assert class_kind("Základové desky betonové monolitické bednění") is ClassKind.FORMWORK
    assert class_kind("Základové desky betonové monolitické ze železobetonu") is ClassKind.CONCRETE
    assert class_kind("Konstrukce tesařské stěny a příčky bednění stěn") is None


def test_generator_round_trip() -> None:
    edition, rows = classes_from_tskp_xml(_XML)
    assert edition == "TSKP test 1"
    assert rows == [("4", "Vodorovné konstrukce"), ("41", "Stropy"), ("411", "Stropy plošné")]
    table = read_class_table(write_class_table(edition, rows))
    assert table.edition == edition and table.names["411"] == "Stropy plošné"
