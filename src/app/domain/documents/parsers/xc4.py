"""XC4, the AspeEsticon XML of the road authority: ``<XC4>`` → stavba → objekty/objekt (nested) →
stavDily/stavDil (nested) → polozky/polozka with znacka, nazev, popis, id_mj, mnozstvi, joc,
cenova_soustava and optional ``<vv>`` rows.

The same wrapper can carry only the OTSKP catalogue (``CenoveSoustavy``); that is not a budget.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from app.domain.budgets.records import DocumentParseError, ParsedDocument

from .assembly import DocumentBuilder, PositionDraft
from .xml_reader import child_text, local_name, parse_xml, strip_namespaces

FORMAT = "xc4"
_VV_TEXT_TAGS = ("vyraz", "popis", "text", "vzorec", "formule")
_TOTAL_TAGS = ("cena_celkem", "celkova_cena")
_NUMBER_TAGS = ("poradi", "por_cislo", "cislo_polozky", "cislo", "poradove_cislo")


def parse_xc4(data: bytes) -> ParsedDocument:
    """Parse an XC4 soupis prací; a catalogue-only or empty file is an error."""
    root = parse_xml(data)
    strip_namespaces(root)
    if local_name(root).upper() != "XC4":
        raise DocumentParseError(f"XML root <{local_name(root)}> is not XC4 (expected <XC4>)")
    builder = DocumentBuilder(FORMAT)
    source = child_text(root, "zdroj")
    if source:
        builder.metadata["source"] = source
    reader = _Reader(builder)
    for stavba in root.iter("stavba"):
        for key, tags in (
            ("stavba_code", ("znacka", "id_stavba", "kod")),
            ("stavba_name", ("nazev",)),
            ("date", ("datum",)),
        ):
            value = _first_text(stavba, tags)
            if value:
                builder.metadata.setdefault(key, value)
        for objekt in _children(stavba, "objekty", "objekt"):
            reader.read_object(objekt, None, "")
    if not builder.positions and root.find(".//CenoveSoustavy") is not None:
        raise DocumentParseError("XC4 file holds a price catalogue (CenoveSoustavy), not a budget")
    return builder.build(empty_error="XC4 file contains no positions (no <polozka> under stavba/objekty)")


def _children(element: etree._Element, container: str, name: str) -> list[etree._Element]:
    holder = element.find(container)
    return [] if holder is None else holder.findall(name)


def _first_text(element: etree._Element, tags: tuple[str, ...]) -> str:
    for tag in tags:
        value = child_text(element, tag)
        if value:
            return value
    return ""


def _items_of(element: etree._Element) -> list[etree._Element]:
    """Items listed directly (``polozka``) or in a ``polozky`` container."""
    return [*element.findall("polozka"), *element.findall("polozky/polozka")]


class _Reader:
    def __init__(self, builder: DocumentBuilder) -> None:
        self.builder = builder

    def read_object(self, objekt: etree._Element, parent: str | None, parent_path: str) -> None:
        code = _first_text(objekt, ("znacka", "id_objekt")).strip("~") or None
        name = child_text(objekt, "nazev") or None
        path = f"{parent_path}/{code or name or '?'}" if parent_path else code or name or "?"
        self.builder.add_object(code, name, parent)
        scope = (code, name, path)
        for polozka in _items_of(objekt):
            self.read_item(polozka, scope, [])
        for holder in objekt.findall("stavDily"):
            for polozka in _items_of(holder):
                self.read_item(polozka, scope, [])
            for dil in holder.findall("stavDil"):
                self.read_section(dil, scope, [])
        for child in _children(objekt, "objekty", "objekt"):
            self.read_object(child, code, path)

    def read_section(self, dil: etree._Element, scope: tuple[str | None, str | None, str], path: list[str]) -> None:
        code = (child_text(dil, "znacka") or dil.get("id_stavdil", "") or child_text(dil, "id_stavdil")).strip("~")
        name = child_text(dil, "nazev")
        section_path = [*path, f"{code} - {name}" if code and name else code or name]
        self.builder.skip(
            "section",
            "a section (stavDil); its name is the category of its items",
            line=dil.sourceline,
            text=section_path[-1],
        )
        for polozka in _items_of(dil):
            self.read_item(polozka, scope, section_path)
        for holder in dil.findall("stavDily"):
            for child in holder.findall("stavDil"):
                self.read_section(child, scope, section_path)

    def read_item(
        self, polozka: etree._Element, scope: tuple[str | None, str | None, str], section_path: list[str]
    ) -> None:
        line = polozka.sourceline
        code = child_text(polozka, "znacka")
        name = child_text(polozka, "nazev")
        popis = child_text(polozka, "popis")
        number = _first_text(polozka, _NUMBER_TAGS)
        if not code and not (name or popis):
            self.builder.warn("polozka has neither a znacka (code) nor a nazev/popis", line=line)
            self.builder.skip("unreadable", "a polozka with neither a znacka (code) nor a nazev/popis", line=line)
            return
        where = f"position {number or code}"
        metadata: dict[str, Any] = {"object_path": scope[2]}
        if section_path:
            metadata["section_path"] = section_path
        for key, tag in (
            ("item_id", "id_polozka"),
            ("variant", "varianta"),
            ("technical_spec", "technicka_specifikace"),
            ("technical_spec", "specifikace"),
        ):
            value = child_text(polozka, tag)
            if value and key not in metadata:
                metadata[key] = value
        total_text = _first_text(polozka, _TOTAL_TAGS)
        draft = PositionDraft(
            description=name or popis,
            code=code or None,
            position_number=number or None,
            category=section_path[-1] if section_path else None,
            object_code=scope[0],
            object_name=scope[1],
            unit=child_text(polozka, "id_mj") or child_text(polozka, "mj") or None,
            quantity=self.builder.number(child_text(polozka, "mnozstvi"), what=f"{where}: quantity", line=line),
            unit_price=self.builder.number(child_text(polozka, "joc"), what=f"{where}: unit price", line=line),
            total_price=self.builder.number(total_text, what=f"{where}: total price", line=line),
            catalog=child_text(polozka, "cenova_soustava") or None,
            source_line=line,
            metadata=metadata,
        )
        if name and popis and popis != name:
            draft.full_description.append(popis)
            self.builder.attach("full_description")
        for vv in polozka.iter("vv"):
            lines = _vv_lines(vv)
            draft.measurements.extend(lines)
            for _line in lines:
                self.builder.attach("measurement")
        self.builder.add(draft)


def _vv_lines(vv: etree._Element) -> list[str]:
    """A ``<vv>`` is either text or rows whose text sits in vyraz / popis / … children."""
    children = [child for child in vv if isinstance(child.tag, str)]
    if not children:
        return [vv.text.strip()] if vv.text and vv.text.strip() else []
    if not any(len(child) for child in children):  # a single row: <vv><vyraz>…</vyraz></vv>
        text = _first_text(vv, _VV_TEXT_TAGS) or " ".join((c.text or "").strip() for c in children).strip()
        return [text] if text else []
    lines: list[str] = []
    for row in children:
        text = _first_text(row, _VV_TEXT_TAGS) or " ".join(t.strip() for t in row.itertext() if t.strip())
        if text:
            lines.append(text)
    return lines
