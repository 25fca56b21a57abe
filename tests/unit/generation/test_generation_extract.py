"""Element quantities read from report text and schedule rows; what is not stated is reported, never made up."""

from __future__ import annotations

from decimal import Decimal

from app.domain.generation.extract import Element, extract_elements, merge_extractions

REPORT = """Technická zpráva – SO 01 Bytový dům

Základová deska tl. 300 mm, beton C30/37 XC2, objem 45,6 m3
Bednění okrajů: 12,4 m2

Stěny 1.PP z betonu C30/37 XC4 XF1, 38,2 m3, výztuž 3 450 kg
Sloupy 0,3 x 0,3 m, v. 3,0 m, 8 ks, beton C25/30 XC1
Stropní deska 12,0 x 8,0 m, tl. 250 mm, C25/30 XC1
Věnce C25/30 XC1 – objem bude upřesněn
Výkop jámy 120 m3
Výztuž stropní desky 110 kg/m3
"""


def by_kind(elements: list[Element]) -> dict[str, Element]:
    return {element.kind: element for element in elements}


def test_report_sentences_give_volumes_classes_formwork_and_reinforcement() -> None:
    extraction = extract_elements(REPORT, document="zprava.txt", document_id="doc-1")

    elements = by_kind(extraction.elements)
    assert list(elements) == ["foundation_slab", "wall", "column", "ceiling_slab", "ring_beam"]
    slab = elements["foundation_slab"]
    assert (slab.name, slab.object_code) == ("Základová deska tl. 300 mm", "SO 01")
    assert (slab.strength_class, slab.exposure_classes) == ("C30/37", ["XC2"])
    assert (slab.volume_m3, slab.volume_basis) == (Decimal("45.6"), "stated")
    assert (slab.formwork_m2, slab.formwork_basis) == (Decimal("12.4"), "stated")
    assert [(s.document, s.document_id, s.line) for s in slab.sources] == [
        ("zprava.txt", "doc-1", 3),
        ("zprava.txt", "doc-1", 4),
    ]

    wall = elements["wall"]
    assert wall.name == "Stěny 1.PP z betonu C30/37 XC4 XF1"
    assert (wall.strength_class, wall.exposure_classes) == ("C30/37", ["XC4", "XF1"])
    assert (wall.volume_m3, wall.reinforcement_t) == (Decimal("38.2"), Decimal("3.45"))


def test_dimensions_give_volume_and_formwork_and_say_so() -> None:
    elements = by_kind(extract_elements(REPORT, document="zprava.txt").elements)

    columns = elements["column"]
    assert columns.volume_m3 == Decimal("2.16")
    assert columns.volume_basis == "geometry: 8 × 0,3 × 0,3 × 3"
    assert columns.formwork_m2 == Decimal("28.8")
    assert columns.formwork_basis == "geometry: sides 2 × (0,3 + 0,3) × 3"

    ceiling = elements["ceiling_slab"]
    assert ceiling.volume_m3 == Decimal("24")
    assert ceiling.formwork_m2 == Decimal("106")  # edges 2 × 20 × 0,25 + soffit 96
    assert ceiling.reinforcement_kg_per_m3 == Decimal("110")  # "Výztuž stropní desky" names its element


def test_an_element_without_a_volume_is_not_found_and_other_volumes_are_ignored() -> None:
    extraction = extract_elements(REPORT, document="zprava.txt")

    [missing] = extraction.not_found
    assert (missing.element, missing.kind, missing.missing, missing.document, missing.line) == (
        "Věnce C25/30 XC1",
        "ring_beam",
        "concrete volume (m3)",
        "zprava.txt",
        9,
    )
    ring = by_kind(extraction.elements)["ring_beam"]
    assert ring.volume_m3 is None  # "Výkop jámy 120 m3" is earth, not concrete


def test_schedule_rows_with_header_labels() -> None:
    rows = "\n".join(
        [
            "Prvek | Beton | Stupeň | Objem [m3] | Bednění [m2] | Výztuž [kg]",
            "Základové pasy | C25/30 | XC2 | Objem 1 245,5 m3 | Bednění 310 m2 | Výztuž 99 640 kg",
            "Stěny 1.NP | C30/37 | XC4 XF1",
            "Podkladní beton, prostý beton C12/15 | X0 | Objem 18 m3",
        ]
    )

    extraction = extract_elements(rows, document="vykaz.xlsx")

    strips, walls, subbase = extraction.elements
    assert (strips.kind, strips.volume_m3, strips.formwork_m2, strips.reinforcement_t) == (
        "foundation_strip",
        Decimal("1245.5"),
        Decimal("310"),
        Decimal("99.64"),
    )
    assert (walls.kind, walls.volume_m3, walls.exposure_classes) == ("wall", None, ["XC4", "XF1"])
    assert (subbase.kind, subbase.plain_concrete, subbase.volume_m3) == ("subbase", True, Decimal("18"))
    assert [m.element for m in extraction.not_found] == ["Stěny 1.NP"]


def test_object_headings_and_a_material_line_for_an_element_not_described() -> None:
    text = "SO 201 Opěrná zeď\nStěny C30/37 XF4 – 64 m3\nVýztuž stropu 3,2 t\n"

    extraction = extract_elements(text, document="zed.txt")

    walls, ceiling = extraction.elements
    assert (walls.kind, walls.object_code, walls.volume_m3, walls.reinforcement_t) == (
        "wall",
        "SO 201",
        Decimal("64"),
        None,
    )
    assert (ceiling.kind, ceiling.object_code, ceiling.reinforcement_t, ceiling.volume_m3) == (
        "ceiling_slab",
        "SO 201",
        Decimal("3.2"),
        None,
    )
    assert [(m.element, m.line) for m in extraction.not_found] == [("Stropní deska", 3)]


def test_the_same_element_in_two_documents_is_kept_once_and_disagreement_is_reported() -> None:
    report = extract_elements("Základová deska C30/37 XC2 45,6 m3\n", document="zprava.txt")
    schedule = extract_elements("Základová deska | Bednění 12 m2 | Objem 45,6 m3\n", document="vykaz.csv")
    other = extract_elements("Základová deska C30/37 XC2 47 m3\n", document="stara_zprava.txt")

    merged = merge_extractions([report, schedule])
    [slab] = merged.elements
    assert (slab.volume_m3, slab.formwork_m2, len(slab.sources)) == (Decimal("45.6"), Decimal("12"), 2)
    assert merged.conflicts == []

    disagreeing = merge_extractions([report, other])
    assert len(disagreeing.elements) == 2
    assert disagreeing.conflicts == [
        "Základová deska C30/37 XC2: 45.6 m3 (zprava.txt, line 1) and 47 m3 (stara_zprava.txt, line 1); "
        "both are kept, check which is right"
    ]


def test_text_without_elements_gives_nothing() -> None:
    extraction = extract_elements("Investor: Město Lipová\nTermín: 2025\n", document="a.txt")
    assert extraction.elements == [] and extraction.not_found == []


def test_text_that_lost_its_diacritics_reads_the_same() -> None:
    """PDF text extraction often drops Czech diacritics; the words are still recognised."""
    ascii_text = "Zakladova deska tl. 300 mm, beton C30/37 XC2, objem 45,6 m3\nBedneni okraju: 12,4 m2\nVyztuz 4,1 t\n"

    [slab] = extract_elements(ascii_text, document="zprava.pdf").elements

    assert (slab.kind, slab.name, slab.volume_m3) == ("foundation_slab", "Zakladova deska tl. 300 mm", Decimal("45.6"))
    assert (slab.formwork_m2, slab.reinforcement_t) == (Decimal("12.4"), Decimal("4.1"))
