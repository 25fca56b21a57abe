from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.audits.concrete_text import (
    StrengthClass,
    parse_air_entrainment,
    parse_exposure_classes,
    parse_strength_classes,
    read_concrete_spec,
)


def labels(text: str) -> list[str]:
    return [c.label for c in parse_strength_classes(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Základové pasy z betonu tř. C 16/20", ["C16/20"]),
        ("ZÁKLADY ZE ŽELEZOBETONU DO C30/37", ["C30/37"]),
        ("Beton C30/37-XC4, XF1", ["C30/37"]),
        ("beton c25/30 XC2", ["C25/30"]),
        ("Beton C8/10 podkladní", ["C8/10"]),
        ("Vysokopevnostní beton C100/115", ["C100/115"]),
        ("Lehký beton LC25/28", []),  # lightweight classes are ignored
        ("Kari síť 150/150 mm, C 3/4", []),  # not a strength class
        ("Beton C16/20 a C25/30", ["C16/20", "C25/30"]),
        ("ABC25/30", []),  # inside a word
    ],
)
def test_strength_classes(text: str, expected: list[str]) -> None:
    assert labels(text) == expected


def test_upper_bound_is_noted() -> None:
    assert read_concrete_spec("ZÁKLADY ZE ŽELEZOBETONU DO C30/37").upper_bound
    assert not read_concrete_spec("Beton C30/37").upper_bound


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Beton C30/37 XC4, XF1", ("XC4", "XF1")),
        ("C30/37-XC4", ("XC4",)),
        ("beton XC2+XA1", ("XC2", "XA1")),
        ("prostředí X0", ("X0",)),
        ("XD3 XS2 XM1 xf4", ("XD3", "XS2", "XM1", "XF4")),
        ("XC 4", ("XC4",)),
        ("XC5 XD4 XA4 XC41", ()),  # grades that do not exist, or a longer token
        ("MAXC4 TEXC2", ()),  # inside words
        ("XC4, XC4", ("XC4",)),
    ],
)
def test_exposure_classes(text: str, expected: tuple[str, ...]) -> None:
    assert parse_exposure_classes(text) == expected


@pytest.mark.parametrize(
    ("text", "entrained", "percent"),
    [
        ("Beton C30/37 XF4 provzdušněný", True, None),
        ("provzdušnění min. 4,5 %", True, Decimal("4.5")),
        ("C35/45 XF4 LP 5 %", True, Decimal("5")),
        ("obsah vzduchu 3 %", True, Decimal("3")),
        ("Beton C30/37 XF4", False, None),
        ("LP izolace", False, None),  # a bare LP without a percentage is not trusted
    ],
)
def test_air_entrainment(text: str, entrained: bool, percent: Decimal | None) -> None:
    assert parse_air_entrainment(text) == (entrained, percent)


def test_spec_knows_whether_text_is_about_concrete() -> None:
    assert read_concrete_spec("Sloupy nebo pilíře ze ŽB tř. C 20/25").applies
    assert read_concrete_spec("Mazanina z betonu prostého").applies
    assert not read_concrete_spec("Výztuž základových pasů betonářskou ocelí 10 505").mentions_concrete
    assert not read_concrete_spec("Sejmutí ornice plochy do 500 m2").applies


def test_strength_class_order_and_parse() -> None:
    assert StrengthClass.parse("C 30/37") == StrengthClass(30, 37)
    assert StrengthClass(25, 30) < StrengthClass(30, 37) < StrengthClass(35, 45)
    with pytest.raises(ValueError):
        StrengthClass.parse("B500B")


def test_reinforcement_words() -> None:
    from app.domain.audits.concrete_text import ReinforcementSpec, concerns_removal, read_reinforcement

    assert read_reinforcement("Mazanina z betonu prostého tř. C 12/15").plain
    assert read_reinforcement("PATKY Z PROSTÉHO BETONU C25/30").plain
    assert read_reinforcement("Ztužující pásy a věnce ze ŽB tř. C 20/25").reinforced
    assert not read_reinforcement("Deska nevyztužená z betonu C16/20").reinforced
    assert read_reinforcement("VYROVNÁVACÍ A SPÁD ŽELEZOBETON DO C30/37 VČET VÝZTUŽE").includes_rebar
    excluded = read_reinforcement("Sloupy nebo pilíře ze ŽB tř. C 20/25 bez výztuže")
    assert excluded.excludes_rebar and excluded.reinforced
    assert read_reinforcement("Sloupy ze ŽB včetně výztuže").contradiction(excluded) is not None
    assert read_reinforcement("Sloupy ze ŽB tř. C 20/25").contradiction(excluded) is None
    assert ReinforcementSpec(plain=True).contradiction(ReinforcementSpec(reinforced=True)) is not None
    assert concerns_removal("Bourání zdiva ze železobetonu") and not concerns_removal("Základové pasy z betonu")
