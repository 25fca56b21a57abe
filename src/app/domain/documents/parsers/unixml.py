"""UNIXML, the KROS XML export: stavba → objekty/objekt (nested) → dily/dil (nested) → polozka.

A ``polozka`` carries only its code, number, quantity and price; its description, unit and price
catalogue are looked up by (typ_vety, kod_polozky) in the object's ``zdroje`` and section names in
``zdroje_dily``. Nested objects inherit the lookups of their parents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from app.domain.budgets.records import DocumentParseError, ParsedDocument

from .assembly import DocumentBuilder, PositionDraft
from .xml_reader import child_text, local_name, parse_xml, strip_namespaces

FORMAT = "unixml"
_SOURCE_TAGS = {"zdroj_konstrukce": "K", "zdroj_material": "M"}


@dataclass(slots=True)
class _Sources:
    """An object's ``zdroje``: item descriptions by (typ_vety, code) and section names by code."""

    items: dict[tuple[str, str], etree._Element] = field(default_factory=dict)
    by_code: dict[str, etree._Element] = field(default_factory=dict)
    sections: dict[str, str] = field(default_factory=dict)
    parent: _Sources | None = None

    @classmethod
    def read(cls, zdroje: etree._Element | None, parent: _Sources | None) -> _Sources:
        sources = cls(parent=parent)
        if zdroje is None:
            return sources
        for element in zdroje.iter("zdroj_konstrukce", "zdroj_material", "zdroj_dil"):
            tag = element.tag
            if tag == "zdroj_dil":
                sources.sections[child_text(element, "kod_dilu")] = child_text(element, "nazev_dilu")
                continue
            code = child_text(element, "kod_polozky")
            sources.items.setdefault((_SOURCE_TAGS[str(tag)], code), element)
            sources.by_code.setdefault(code, element)
        return sources

    def item(self, kind: str, code: str) -> etree._Element | None:
        scope: _Sources | None = self
        while scope is not None:
            found = scope.items.get((kind, code))
            if found is not None:
                return found
            scope = scope.parent
        scope = self
        while scope is not None:  # typ_vety missing or unusual: fall back to the code alone
            found = scope.by_code.get(code)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def section_name(self, code: str) -> str:
        scope: _Sources | None = self
        while scope is not None:
            name = scope.sections.get(code)
            if name:
                return name
            scope = scope.parent
        return ""


@dataclass(frozen=True, slots=True)
class _ObjectScope:
    code: str | None
    name: str | None
    path: str
    sources: _Sources


def parse_unixml(data: bytes) -> ParsedDocument:
    """Parse a UNIXML export into positions; an export without any ``polozka`` is an error."""
    root = parse_xml(data)
    strip_namespaces(root)
    if local_name(root) != "unixml":
        raise DocumentParseError(f"XML root <{local_name(root)}> is not UNIXML (expected <unixml>)")
    stavba = root.find("stavba")
    if stavba is None:
        raise DocumentParseError("UNIXML has no <stavba> element")
    builder = DocumentBuilder(FORMAT)
    builder.metadata.update(
        {
            key: value
            for key, value in {
                "stavba_code": child_text(stavba, "kod_stavby"),
                "stavba_name": child_text(stavba, "nazev_stavby"),
                "date": child_text(stavba, "datum"),
                "place": child_text(stavba, "misto"),
                "source": child_text(root, "zdroj"),
                "file_type": child_text(root, "typ_souboru"),
                "unixml_version": root.get("verze", ""),
            }.items()
            if value
        }
    )
    reader = _Reader(builder)
    stavba_sources = _Sources.read(stavba.find("zdroje"), None)
    for objekt in _children(stavba, "objekty", "objekt"):
        reader.read_object(objekt, parent=None, sources=stavba_sources)
    return builder.build(empty_error="UNIXML contains no positions (no <polozka> in any object)")


def _children(element: etree._Element, container: str, name: str) -> list[etree._Element]:
    holder = element.find(container)
    return [] if holder is None else holder.findall(name)


class _Reader:
    def __init__(self, builder: DocumentBuilder) -> None:
        self.builder = builder

    def read_object(self, objekt: etree._Element, parent: _ObjectScope | None, sources: _Sources) -> None:
        code = child_text(objekt, "kod_objektu") or None
        name = child_text(objekt, "nazev_objektu") or None
        label = code or name or "?"
        scope = _ObjectScope(
            code=code,
            name=name,
            path=f"{parent.path}/{label}" if parent else label,
            sources=_Sources.read(objekt.find("zdroje"), sources),
        )
        self.builder.add_object(code, name, parent.code if parent else None)
        for figura in _children(objekt, "figury", "figura"):
            figure = " ".join(
                part for part in (child_text(figura, "kod_figury"), child_text(figura, "popis_figury")) if part
            )
            self.builder.skip(
                "figure", "a figure (a named measurement), not a position", line=figura.sourceline, text=figure
            )
        for polozka in _children(objekt, "polozky", "polozka"):
            self.read_item(polozka, scope, [])
        for dil in _children(objekt, "dily", "dil"):
            self.read_section(dil, scope, [])
        for child in _children(objekt, "objekty", "objekt"):
            self.read_object(child, scope, scope.sources)

    def read_section(self, dil: etree._Element, scope: _ObjectScope, path: list[str]) -> None:
        code = child_text(dil, "kod_dilu")
        name = scope.sources.section_name(code) or child_text(dil, "nazev_dilu")
        section_path = [*path, f"{code} - {name}" if name else code]
        self.builder.skip(
            "section",
            "a section (díl); its name is the category of its items",
            line=dil.sourceline,
            text=section_path[-1],
        )
        for polozka in _children(dil, "polozky", "polozka"):
            self.read_item(polozka, scope, section_path)
        for child in _children(dil, "dily", "dil"):
            self.read_section(child, scope, section_path)

    def read_item(self, polozka: etree._Element, scope: _ObjectScope, section_path: list[str]) -> None:
        line = polozka.sourceline
        kind = child_text(polozka, "typ_vety")
        code = child_text(polozka, "kod_polozky")
        number = child_text(polozka, "cislo_polozky")
        source = scope.sources.item(kind, code)
        if source is None:
            self.builder.warn(
                f"position {number or '?'} ({kind} {code}): no description or unit in the object's zdroje",
                line=line,
            )
        where = f"position {number or '?'} ({code})"
        metadata: dict[str, Any] = {"object_path": scope.path}
        if section_path:
            metadata["section_path"] = section_path
        for key, tag in (
            ("typ_polozky", "typ_polozky"),
            ("typ_mnozstvi", "typ_mnozstvi"),
            ("vat_rate_type", "typ_sazby_dph"),
            ("user_category", "uzivatelske_zarazeni"),
        ):
            value = child_text(polozka, tag)
            if value:
                metadata[key] = value
        supply = self.builder.number(
            child_text(polozka, "jednotkova_cena_dodavky"), what=f"{where}: supply price", line=line
        )
        if supply:
            metadata["unit_price_supply"] = str(supply)
        draft = PositionDraft(
            description=_source_text(source, "zkraceny_popis_polozky"),
            code=code or None,
            position_number=number or None,
            category=section_path[-1] if section_path else None,
            object_code=scope.code,
            object_name=scope.name,
            unit=_source_text(source, "merna_jednotka") or None,
            quantity=self.builder.number(child_text(polozka, "mnozstvi"), what=f"{where}: quantity", line=line),
            unit_price=self.builder.number(
                child_text(polozka, "jednotkova_cena"), what=f"{where}: unit price", line=line
            ),
            catalog=_source_text(source, "cenova_soustava") or None,
            item_type=kind or None,
            source_line=line,
            metadata=metadata,
        )
        full = _source_text(source, "plny_popis_polozky")
        if full:
            draft.full_description.append(full)
            self.builder.attach("full_description")
        price_note = _source_text(source, "poznamka_k_souboru_cen")
        if price_note:
            draft.metadata["price_set_note"] = price_note
            self.builder.attach("price_note")
        mass = _source_text(source, "jednotkova_hmotnost")
        if mass and self.builder.number(mass, what=f"{where}: unit mass", line=line):
            draft.metadata["unit_mass_t"] = mass.replace(",", ".")
        note = child_text(polozka, "poznamka_polozky")
        if note:
            draft.add_note(note)
            self.builder.attach("note")
        vykaz = polozka.find("vykaz_vymer")
        if vykaz is not None:
            for row in vykaz.iter("radek_vykazu_vymer"):
                text = child_text(row, "vyraz")
                figure = child_text(row, "kod_figury")
                if figure:
                    draft.add_figure(figure, None, text or None)
                    self.builder.attach("figure_reference")
                if text:
                    draft.measurements.append(text)
                    self.builder.attach("measurement")
        self.builder.add(draft)


def _source_text(source: etree._Element | None, tag: str) -> str:
    if source is None:
        return ""
    return child_text(source, tag).replace("\r\n", "\n")
