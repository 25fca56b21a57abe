"""Workflow B, step 1: element quantities read out of document text (pure: text in, elements out).

Technical reports, drawing notes and schedules (tables arrive as "cell | cell" lines, see
app.domain.documents.tables) name building elements and their quantities:

    Základová deska tl. 300 mm, beton C30/37 XC2 ... 45,6 m3
    Stěny 1.PP | C30/37 | XC4 XF1 | Objem 38,2 m3 | Bednění 254 m2 | Výztuž 3 450 kg

A line that names an element kind (základová deska, pasy, patky, stěny, sloupy, stropní deska,
věnce, průvlaky, schodiště, podkladní beton …) starts an element; the lines after it, up to an
empty line or the next element, belong to it. From them come the concrete volume (m3), the strength
class and exposure classes, a formwork area (m2 next to "bednění"), another area (m2), the
reinforcement mass (t or kg next to "výztuž"/"ocel"/"B500") or ratio (kg/m3), and dimensions
("12,0 x 8,0 m", "tl. 300 mm", "v. 3,0 m", "8 ks"). A volume missing in the text but given by its
dimensions is computed from them (and says so); an element whose volume cannot be found is
reported as not found — a quantity is never made up.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from decimal import Decimal

import msgspec

from app.domain.audits.concrete_text import read_concrete_spec
from app.domain.documents.parsers.numbers import InvalidNumber, parse_decimal

_ACCENTS = str.maketrans(
    "áäčďéěëíľĺňóôöŕřšťúůüýžÁÄČĎÉĚËÍĽĹŇÓÔÖŔŘŠŤÚŮÜÝŽ", "aacdeeeillnooorrstuuuyzAACDEEEILLNOOORRSTUUUYZ"
)


def fold(text: str) -> str:
    """Czech letters without diacritics, one character for one (so match positions stay valid)."""
    return text.translate(_ACCENTS)


class Words:
    """A pattern that ignores case and diacritics: text extracted from PDFs often loses them."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(fold(pattern), re.IGNORECASE)

    def search(self, text: str) -> re.Match[str] | None:
        return self.pattern.search(fold(text))

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(fold(text))


class ElementKind(msgspec.Struct, frozen=True, kw_only=True):
    """A kind of concrete element: how texts name it, and the budget section its positions go to."""

    name: str
    label: str
    pattern: str
    category: str
    slab_like: bool = False


ELEMENT_KINDS: tuple[ElementKind, ...] = (
    ElementKind(
        name="foundation_slab",
        label="Základová deska",
        pattern=r"základov\w*\s+desk|desk\w*\s+základ",
        category="2 - Zakládání",
        slab_like=True,
    ),
    ElementKind(
        name="foundation_strip",
        label="Základové pasy",
        pattern=r"základov\w*\s+p[aá]s|p[aá]s\w*\s+základ",
        category="2 - Zakládání",
    ),
    ElementKind(name="footing", label="Základové patky", pattern=r"patk|patek", category="2 - Zakládání"),
    ElementKind(name="pile", label="Piloty", pattern=r"pilot", category="2 - Zakládání"),
    ElementKind(
        name="subbase",
        label="Podkladní beton",
        pattern=r"podkladn\w*\s+beton|podbeton|mazanin",
        category="6 - Úpravy povrchů, podlahy",
        slab_like=True,
    ),
    ElementKind(
        name="ceiling_slab",
        label="Stropní deska",
        pattern=r"stropn\w*\s+desk|desk\w*\s+strop|\bstrop(?:y|ů|u)?\b",
        category="4 - Vodorovné konstrukce",
        slab_like=True,
    ),
    ElementKind(name="ring_beam", label="Věnce", pattern=r"věn[eč]c|věnc", category="4 - Vodorovné konstrukce"),
    ElementKind(name="beam", label="Průvlaky", pattern=r"průvlak|trám|nosník", category="4 - Vodorovné konstrukce"),
    ElementKind(name="column", label="Sloupy", pattern=r"sloup|pilíř", category="3 - Svislé konstrukce"),
    ElementKind(
        name="wall",
        label="Stěny",
        pattern=r"stěn|stěna|\bzeď|\bzed\b|\bzdi\b|\bzdí\b|opěrn\w*\s+z",
        category="3 - Svislé konstrukce",
    ),
    ElementKind(name="stairs", label="Schodiště", pattern=r"schodi[šs]", category="4 - Vodorovné konstrukce"),
)
KINDS_BY_NAME = {kind.name: kind for kind in ELEMENT_KINDS}
_KIND_PATTERNS = [(kind, Words(kind.pattern)) for kind in ELEMENT_KINDS]

_NUMBER = r"(\d{1,3}(?:[ \u00a0]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)"
_QUANTITY = Words(rf"(?<![\w.,/]){_NUMBER}\s*(m3|m³|m2|m²|kg|t|tun[ay]?)(?![\w/²³])(?!\s*/\s*m)")
_RATIO = Words(rf"(?<![\w.,/]){_NUMBER}\s*kg\s*/\s*m(?:3|³)")
_DIMENSIONS = Words(rf"(?<![\w.,/]){_NUMBER}\s*[x×]\s*{_NUMBER}(?:\s*[x×]\s*{_NUMBER})?\s*(mm|cm|m)\b")
_THICKNESS = Words(rf"\b(?:tl\.?|tloušťk\w*|tloušťce)\s*{_NUMBER}\s*(mm|cm|m)\b")
_HEIGHT = Words(rf"\b(?:výšk\w*|výšce|v\.)\s*{_NUMBER}\s*(mm|cm|m)\b")
_LENGTH = Words(rf"\b(?:délk\w*|délce|dl\.)\s*{_NUMBER}\s*(mm|cm|m)\b")
_COUNT = Words(r"(?<![\w.,/])(\d{1,4})\s*(?:ks|kusů|kusy|kus)\b")
_OBJECT = re.compile(r"(?<![\w])(SO[ -]?\d{1,3}(?:\.\d{1,2})?)(?![\w])")
_SEGMENT_SPLIT = re.compile(r"\s*\|\s*|\s*;\s*|:\s+|\s+[–—-]\s+|,\s+(?=\D)")
_MATERIAL_WORDS = Words(r"bedn|výztuž|ocel|b500|armatur|kari\b|betonářsk|10\s?505")
_FORMWORK_WORDS = Words(r"bedn")
_REINFORCEMENT_WORDS = Words(r"výztuž|ocel|b500|armatur|kari\b|betonářsk|10\s?505")
_NOT_CONCRETE_VOLUME = Words(r"výkop|zemin|zásyp|násyp|odkop|štěrk|písk|kameniv|hutn|sutí|suť|ornic|izolac")
_PLAIN_CONCRETE = Words(r"prost\w*\s+beton|nevyztuž")
_TOTAL_WORDS = Words(r"\bcelkem\b|\bsouhrn")
_UNIT_TO_METRES = {"mm": Decimal("0.001"), "cm": Decimal("0.01"), "m": Decimal("1")}
MAX_NAME = 160


class SourceLine(msgspec.Struct, frozen=True, kw_only=True):
    """Where a fact was read: the document (file name and id) and the 1-based line."""

    document: str
    line: int
    text: str
    document_id: str | None = None


class Geometry(msgspec.Struct, kw_only=True):
    """Dimensions stated for an element, in metres (a section "a x b", or "a x b x c")."""

    dimensions: list[Decimal] = msgspec.field(default_factory=list)
    thickness: Decimal | None = None
    height: Decimal | None = None
    length: Decimal | None = None
    count: int | None = None

    @property
    def stated(self) -> bool:
        return bool(self.dimensions or self.thickness or self.height or self.length)


class Element(msgspec.Struct, kw_only=True):
    """A building element and what the documents say about it; None means "not stated"."""

    kind: str
    name: str
    object_code: str | None = None
    strength_class: str | None = None
    exposure_classes: list[str] = msgspec.field(default_factory=list)
    plain_concrete: bool = False
    volume_m3: Decimal | None = None
    volume_basis: str | None = None  # "stated" or "geometry: …"
    area_m2: Decimal | None = None
    formwork_m2: Decimal | None = None
    formwork_basis: str | None = None
    reinforcement_t: Decimal | None = None
    reinforcement_kg_per_m3: Decimal | None = None
    geometry: Geometry = msgspec.field(default_factory=Geometry)
    sources: list[SourceLine] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)

    @property
    def kind_info(self) -> ElementKind:
        return KINDS_BY_NAME[self.kind]


class NotFound(msgspec.Struct, frozen=True, kw_only=True):
    """A quantity an element needs that no document states (nothing is generated for it)."""

    element: str
    kind: str
    missing: str
    document: str
    line: int


class Extraction(msgspec.Struct, kw_only=True):
    elements: list[Element] = msgspec.field(default_factory=list)
    not_found: list[NotFound] = msgspec.field(default_factory=list)
    conflicts: list[str] = msgspec.field(default_factory=list)


def number(text: str) -> Decimal | None:
    try:
        return parse_decimal(text)
    except InvalidNumber:
        return None


def _metres(value: str, unit: str) -> Decimal | None:
    parsed = number(value)
    return parsed * _UNIT_TO_METRES[unit.lower()] if parsed is not None else None


def segments(line: str) -> list[str]:
    """A line cut into clauses: table cells, "label: value", dashes and commas between words."""
    return [part.strip() for part in _SEGMENT_SPLIT.split(line) if part and part.strip()]


def element_name(label: str) -> str:
    """The clause that names an element, without the quantity it states ("Stěny 1.PP, 38,2 m3" → "Stěny 1.PP")."""
    match = _QUANTITY.search(label)
    name = label[: match.start()] if match and match.start() > 0 else label
    return name.strip(" ,;:–-")[:MAX_NAME] or label[:MAX_NAME]


def element_kind(text: str) -> ElementKind | None:
    """The first element kind a text names (the table's order breaks ties: "stropní deska" is no wall)."""
    found: tuple[int, ElementKind] | None = None
    for kind, pattern in _KIND_PATTERNS:
        match = pattern.search(text)
        if match and (found is None or match.start() < found[0]):
            found = (match.start(), kind)
    return found[1] if found else None


def _is_object_heading(line: str, match: re.Match[str]) -> bool:
    """ "SO 201 Opěrná zeď" names a construction object, not an element: a line that starts with the
    object code and states no quantity and no concrete class."""
    return match.start() == 0 and not _QUANTITY.search(line) and not read_concrete_spec(line).strength_classes


def _label_segment(parts: Sequence[str]) -> tuple[str, ElementKind] | None:
    """The clause that names an element (not one about its formwork or reinforcement)."""
    for part in parts:
        if _MATERIAL_WORDS.search(part):
            continue
        kind = element_kind(part)
        if kind is not None:
            return part, kind
    return None


class _Reader:
    """Reads one document's lines, keeping the element the current lines belong to."""

    def __init__(self, document: str, document_id: str | None) -> None:
        self.document = document
        self.document_id = document_id
        self.elements: list[Element] = []
        self.current: Element | None = None
        self.object_code: str | None = None

    def source(self, number_: int, text: str) -> SourceLine:
        return SourceLine(document=self.document, document_id=self.document_id, line=number_, text=text[:300])

    def read(self, text: str) -> None:
        for index, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line:
                self.current = None  # an empty line ends an element's block
                continue
            object_match = _OBJECT.search(line)
            parts = segments(line)
            label = _label_segment(parts)
            if object_match and (label is None or _is_object_heading(line, object_match)):
                self.object_code = object_match.group(1).replace("-", " ")
                self.current = None
                continue
            if label is not None:
                self.current = self._new_element(label[1], label[0], index, line, object_match)
            touched: set[int] = set()
            if self.current is not None and _read_line_facts(self.current, line):
                touched.add(id(self.current))
            for position, part in enumerate(parts):
                owner = self._owner(part, index, line)
                context = f"{parts[position - 1]} {part}" if position and part[:1].isdigit() else part
                if owner is not None and _read_quantities(owner, part, context, line, index):
                    touched.add(id(owner))
            for element in self.elements:
                if id(element) in touched and (not element.sources or element.sources[-1].line != index):
                    element.sources.append(self.source(index, line))

    def _new_element(
        self, kind: ElementKind, name: str, index: int, line: str, object_match: re.Match[str] | None
    ) -> Element:
        element = Element(
            kind=kind.name,
            name=element_name(name),
            object_code=object_match.group(1).replace("-", " ") if object_match else self.object_code,
            sources=[self.source(index, line)],
        )
        self.elements.append(element)
        return element

    def _owner(self, part: str, index: int, line: str) -> Element | None:
        """The element a clause is about: a clause about a material that names another kind
        ("výztuž základové desky") goes to the latest element of that kind (a new one if none)."""
        kind = element_kind(part) if _MATERIAL_WORDS.search(part) else None
        if kind is None or (self.current is not None and kind.name == self.current.kind):
            return self.current
        for element in reversed(self.elements):
            if element.kind == kind.name and element.object_code == self.object_code:
                return element
        return self._new_element(kind, kind.label, index, line, None)


def _read_line_facts(element: Element, line: str) -> bool:
    """Strength class, exposure classes, plain concrete and dimensions stated on the line."""
    found = False
    spec = read_concrete_spec(line)
    if spec.strength_classes and element.strength_class is None:
        weakest = spec.weakest_class
        element.strength_class = weakest.label if weakest else None
        found = True
    for exposure in spec.exposure_classes:
        if exposure not in element.exposure_classes:
            element.exposure_classes.append(exposure)
            found = True
    if _PLAIN_CONCRETE.search(line):
        element.plain_concrete = True
    return _read_geometry(element.geometry, line) or found


def _read_quantities(element: Element, part: str, context: str, line: str, index: int) -> bool:
    """Quantities in one clause; `context` (the clause, or its label and value) tells what they measure."""
    found = False
    for match in _RATIO.finditer(part):
        value = number(match.group(1))
        if value is not None and element.reinforcement_kg_per_m3 is None:
            element.reinforcement_kg_per_m3 = value
            found = True
    for match in _QUANTITY.finditer(part):
        value = number(match.group(1))
        unit = match.group(2).lower()
        if value is None:
            continue
        if unit in ("m3", "m³"):
            found = _volume(element, value, context, index) or found
        elif unit in ("m2", "m²"):
            if _FORMWORK_WORDS.search(context):
                if element.formwork_m2 is None:
                    element.formwork_m2, element.formwork_basis = value, "stated"
                    found = True
            elif element.area_m2 is None:
                element.area_m2 = value
                found = True
        elif _REINFORCEMENT_WORDS.search(context) or _REINFORCEMENT_WORDS.search(line):
            tonnes = value / 1000 if unit == "kg" else value
            if element.reinforcement_t is None:
                element.reinforcement_t = tonnes
                found = True
    return found


def _volume(element: Element, value: Decimal, context: str, index: int) -> bool:
    if _NOT_CONCRETE_VOLUME.search(context):
        return False
    if element.volume_m3 is None or (_TOTAL_WORDS.search(context) and element.volume_basis == "stated"):
        element.volume_m3, element.volume_basis = value, "stated"
        return True
    if value != element.volume_m3:
        element.notes.append(
            f"another volume {value} m3 on line {index} is not used (first stated: {element.volume_m3} m3)"
        )
    return False


def _read_geometry(geometry: Geometry, line: str) -> bool:
    found = False
    if not geometry.dimensions:
        match = _DIMENSIONS.search(line)
        if match:
            unit = match.group(4)
            values = [_metres(value, unit) for value in match.groups()[:3] if value]
            if all(value is not None and value > 0 for value in values):
                geometry.dimensions = [value for value in values if value is not None]
                found = True
    for pattern, name in ((_THICKNESS, "thickness"), (_HEIGHT, "height"), (_LENGTH, "length")):
        match = pattern.search(line)
        if match and getattr(geometry, name) is None:
            value = _metres(match.group(1), match.group(2))
            if value is not None and value > 0:
                setattr(geometry, name, value)
                found = True
    count = _COUNT.search(line)
    if count and geometry.count is None:
        geometry.count = int(count.group(1))
        found = True
    return found


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f").replace(".", ",")


def geometry_volume(element: Element) -> tuple[Decimal, str] | None:
    """The volume the stated dimensions give (× count), with how it was computed; None when they do not."""
    geo = element.geometry
    count = geo.count or 1
    dims = geo.dimensions
    factors: list[Decimal] | None = None
    if len(dims) == 3:
        factors = list(dims)
    elif len(dims) == 2:
        third = geo.thickness or geo.height or geo.length
        factors = [*dims, third] if third is not None else None
    elif element.area_m2 is not None and geo.thickness is not None:
        factors = [element.area_m2, geo.thickness]
    elif geo.length is not None and geo.height is not None and geo.thickness is not None:
        factors = [geo.length, geo.height, geo.thickness]
    if not factors:
        return None
    volume = Decimal(count)
    for factor in factors:
        volume *= factor
    formula = " × ".join(_text(factor) for factor in factors)
    return volume, f"geometry: {f'{count} × ' if count > 1 else ''}{formula}"


def geometry_formwork(element: Element) -> tuple[Decimal, str] | None:
    """Formwork area from stated dimensions: slab edges (+ soffit of a ceiling), both wall faces,
    column sides; None when the dimensions do not say."""
    geo = element.geometry
    count = Decimal(geo.count or 1)
    dims = sorted(geo.dimensions, reverse=True)
    kind = element.kind_info
    if kind.slab_like and len(dims) >= 2:
        a, b = dims[0], dims[1]
        thickness = dims[2] if len(dims) == 3 else geo.thickness
        if thickness is None:
            return None
        area = 2 * (a + b) * thickness
        basis = f"edges 2 × ({_text(a)} + {_text(b)}) × {_text(thickness)}"
        if element.kind == "ceiling_slab":
            area += a * b
            basis += f" + soffit {_text(a)} × {_text(b)}"
        return area * count, f"geometry: {basis}"
    if element.kind == "wall":
        if len(dims) == 3:
            length, height = dims[0], dims[1]
        elif geo.length is not None and geo.height is not None:
            length, height = geo.length, geo.height
        else:
            return None
        return 2 * length * height * count, f"geometry: both faces 2 × {_text(length)} × {_text(height)}"
    if element.kind == "column":
        if len(dims) == 3:
            height, a, b = dims[0], dims[1], dims[2]
        elif len(dims) == 2 and geo.height is not None:
            a, b, height = dims[0], dims[1], geo.height
        else:
            return None
        return 2 * (a + b) * height * count, f"geometry: sides 2 × ({_text(a)} + {_text(b)}) × {_text(height)}"
    return None


def _finish(element: Element) -> NotFound | None:
    """Fill quantities the dimensions give; say what is still missing."""
    if element.volume_m3 is None:
        derived = geometry_volume(element)
        if derived is not None:
            element.volume_m3, element.volume_basis = derived
    if element.formwork_m2 is None:
        formwork = geometry_formwork(element)
        if formwork is not None:
            element.formwork_m2, element.formwork_basis = formwork
    if element.volume_m3 is not None:
        return None
    first = element.sources[0]
    return NotFound(
        element=element.name,
        kind=element.kind,
        missing="concrete volume (m3)",
        document=first.document,
        line=first.line,
    )


def extract_elements(text: str, *, document: str, document_id: str | None = None) -> Extraction:
    """Elements named in one document's text, with what it says about them, and what it does not."""
    reader = _Reader(document, document_id)
    reader.read(text)
    extraction = Extraction(elements=reader.elements)
    for element in reader.elements:
        missing = _finish(element)
        if missing is not None:
            extraction.not_found.append(missing)
    return extraction


_NAME_NOISE = re.compile(
    fold(
        r"\b(?:do\s+)?c\s?\d{1,3}\s?/\s?\d{2,3}\b|\bx(?:0|[cdsfam]\s?[1-4])\b|\btl\.?|\btloušťk\w*"
        r"|\d[\d\s,.]*\s*(?:mm|cm|m3|m³|m2|m²|m|kg|t)\b|\bz\s+betonu\b|\bbeton\w*|[,;:()–-]"
    ),
    re.IGNORECASE,
)


def name_key(name: str) -> str:
    """An element's name without classes, dimensions and filler: "Základová deska tl. 300 mm, C30/37"
    and "Zakladova deska" are the same element."""
    return " ".join(_NAME_NOISE.sub(" ", fold(name.casefold())).split())


def _key(element: Element) -> tuple[str, str, str | None]:
    return element.kind, name_key(element.name), element.object_code


def merge_extractions(extractions: Sequence[Extraction]) -> Extraction:
    """Elements of several documents; the same element (kind, name, object) stated twice is kept once
    when the volumes agree (its sources joined), and reported as a conflict when they do not."""
    merged = Extraction()
    by_key: dict[tuple[str, str, str | None], Element] = {}
    found_keys: set[tuple[str, str]] = set()
    for extraction in extractions:
        for element in extraction.elements:
            key = _key(element)
            known = by_key.get(key)
            if known is None:
                by_key[key] = element
                merged.elements.append(element)
                continue
            if known.volume_m3 is None or element.volume_m3 is None or known.volume_m3 == element.volume_m3:
                _absorb(known, element)
                continue
            merged.conflicts.append(
                f"{element.name}: {known.volume_m3} m3 ({_where(known)}) and {element.volume_m3} m3 "
                f"({_where(element)}); both are kept, check which is right"
            )
            merged.elements.append(element)
        merged.conflicts.extend(extraction.conflicts)
    for element in merged.elements:
        if element.volume_m3 is not None:
            found_keys.add((element.kind, _key(element)[1]))
    seen: set[tuple[str, str, str]] = set()
    for extraction in extractions:
        for missing in extraction.not_found:
            name = name_key(missing.element)
            if (missing.kind, name) in found_keys or (missing.kind, name, missing.missing) in seen:
                continue
            seen.add((missing.kind, name, missing.missing))
            merged.not_found.append(missing)
    return merged


def _absorb(known: Element, other: Element) -> None:
    """Take from `other` what `known` does not state yet."""
    for name in (
        "strength_class",
        "volume_m3",
        "volume_basis",
        "area_m2",
        "formwork_m2",
        "formwork_basis",
        "reinforcement_t",
        "reinforcement_kg_per_m3",
    ):
        if getattr(known, name) is None and getattr(other, name) is not None:
            setattr(known, name, getattr(other, name))
    for exposure in other.exposure_classes:
        if exposure not in known.exposure_classes:
            known.exposure_classes.append(exposure)
    known.plain_concrete = known.plain_concrete or other.plain_concrete
    known.sources.extend(other.sources)
    known.notes.extend(other.notes)


def _where(element: Element) -> str:
    source = element.sources[0] if element.sources else None
    return f"{source.document}, line {source.line}" if source else "?"
