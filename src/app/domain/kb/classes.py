"""TSKP code classes: which construction class a ÚRS or OTSKP code lies in, and what that class measures.

TSKP (*Třídník stavebních konstrukcí a prací*, ÚRS) is the tree that ÚRS and OTSKP work codes begin
with: ``411321414`` lies in ``4`` → ``41`` → ``411`` → ``4113`` → ``41132``. The shipped table
``data/tskp_classes.csv`` (code, name; edition in its first line) is derived from the published XML by
``python -m app.domain.kb.classes tskp_tridnik.xml`` and holds facts only (codes and names).

Class digits ending in ``0`` are the "general" class of their parent (``330…`` columns in general,
``70…`` cables in OTSKP), which the tree does not list; a code is therefore said to have no class
only when it is a ÚRS work item (type K) whose two-digit group neither exists nor is such a general
class (OTSKP numbers a few groups its own way; a code of unknown type may be a material). What a five-digit class
measures is read from its name: monolithic concrete (a volume), its reinforcement (a mass) or its
formwork (an area); other classes say nothing about units.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path

import msgspec
from lxml import etree

from app.domain.kb.codes import CodeShape, code_shape, normalize_code

CLASSES_FILE = "tskp_classes.csv"
_DATA_PACKAGE = "app.domain.kb"
_CLASS_DIGITS = re.compile(r"\d{1,5}")
_EDITION_PREFIX = "# edition: "


class ClassKind(StrEnum):
    """What the positions of a class are measured by (read from the class name)."""

    CONCRETE = "concrete"  # monolithic concrete: a volume, never a mass
    REINFORCEMENT = "reinforcement"  # a mass, never a volume
    FORMWORK = "formwork"  # an area, never a volume or a mass


class CodeClass(msgspec.Struct, frozen=True, gc=False):
    code: str
    name: str


class ClassPlacement(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Where a code lies in the tree: the classes from the one-digit group down to the deepest that exists.

    ``exists`` is False when even the two-digit group is unknown (and is not a general ``x0`` group):
    a probable typo. ``kind`` is what the deepest class measures, if its name says so.
    """

    code: str
    path: tuple[CodeClass, ...]
    exists: bool
    kind: ClassKind | None = None

    @property
    def deepest(self) -> CodeClass | None:
        return self.path[-1] if self.path else None

    def describe(self) -> str:
        """ "41132 Stropy … ze železobetonu (4 → 41 → 411 → 4113 → 41132)"."""
        deepest = self.deepest
        if deepest is None:
            return f"no TSKP class for {self.code}"
        chain = " → ".join(item.code for item in self.path)
        return f"TSKP {deepest.code} {deepest.name} ({chain})"


class ClassTable:
    """The TSKP tree as a look-up from class code to name."""

    def __init__(self, names: Mapping[str, str], edition: str = "") -> None:
        self.names = dict(names)
        self.edition = edition
        self._paths: dict[str, tuple[CodeClass, ...]] = {}

    def __len__(self) -> int:
        return len(self.names)

    def place(
        self, code: str | None, *, item_type: str | None = None, catalog: str | None = None
    ) -> ClassPlacement | None:
        """The placement of a work code, or None for codes TSKP does not classify.

        Classified are ÚRS work codes (9 digits, manufacturer variants by their base), OTSKP codes and
        the estimator's own R-items built on a catalogue number (``71313134R``); materials (type M,
        8-digit ÚRS material codes) and private codes (``Pol31``) are not.
        """
        if (item_type or "").strip().upper() == "M":
            return None
        shape = code_shape(code, catalog)
        key = normalize_code(code)
        if shape in (CodeShape.URS_MATERIAL, CodeShape.MISSING, CodeShape.OTHER):
            return None
        if shape in (CodeShape.PRIVATE, CodeShape.RTS):
            digits = re.match(r"\d{3,}", key)
            if digits is None:
                return None
            key = digits.group(0)
        path = self._path(key)
        # Only ÚRS work items (type K) are held to the tree's groups: OTSKP numbers some groups its own
        # way (84 pipes), and a 9-digit code of unknown type may be a material (55…, 35…).
        held = shape in (CodeShape.URS, CodeShape.URS_VARIANT) and (item_type or "").strip().upper() == "K"
        exists = bool(path) and (len(path) >= 2 or key[1:2] == "0" or not held)
        return ClassPlacement(code=key, path=path, exists=exists, kind=class_kind(path[-1].name) if path else None)

    def _path(self, key: str) -> tuple[CodeClass, ...]:
        prefix = key[:5]
        found = self._paths.get(prefix)
        if found is None:
            path: list[CodeClass] = []
            for length in range(1, len(prefix) + 1):
                name = self.names.get(prefix[:length])
                if name is None:
                    break
                path.append(CodeClass(prefix[:length], name))
            found = self._paths[prefix] = tuple(path)
        return found


_MONOLITHIC = re.compile(r"monolit", re.IGNORECASE)
_CONCRETE_CLASS = re.compile(r"beton|železobeton", re.IGNORECASE)


def class_kind(name: str) -> ClassKind | None:
    """Monolithic concrete, its reinforcement or its formwork, as the class name says; else None."""
    lowered = name.lower()
    if not (_MONOLITHIC.search(lowered) and _CONCRETE_CLASS.search(lowered)):
        return None
    if "výztuž" in lowered:
        return ClassKind.REINFORCEMENT
    if "bednění" in lowered and "včetně bednění" not in lowered:
        return ClassKind.FORMWORK
    return ClassKind.CONCRETE


def read_class_table(data: bytes) -> ClassTable:
    """Read ``tskp_classes.csv`` (``code,name`` with the edition in a leading comment line)."""
    text = data.decode("utf-8")
    edition = ""
    lines = text.splitlines()
    if lines and lines[0].startswith(_EDITION_PREFIX):
        edition = lines[0][len(_EDITION_PREFIX) :].strip()
        lines = lines[1:]
    rows = csv.reader(lines)
    header = next(rows, None)
    if header != ["code", "name"]:
        raise ValueError(f"a class table starts with the columns code,name, not {header}")
    return ClassTable({code: name for code, name in rows}, edition)


@lru_cache(maxsize=1)
def load_class_table() -> ClassTable:
    """The shipped TSKP table, read once per process."""
    return read_class_table(resources.files(_DATA_PACKAGE).joinpath("data", CLASSES_FILE).read_bytes())


# ------------------------------------------------------------------------------ generating the table


def classes_from_tskp_xml(data: bytes) -> tuple[str, list[tuple[str, str]]]:
    """(edition, [(code, name)]) from the published TSKP XML (``Items/Item{ID, Name, Children}``)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(data, parser=parser)
    edition = " ".join(
        part for part in (root.findtext(".//System/Name"), root.findtext(".//System/EditionVersion")) if part
    )
    rows: dict[str, str] = {}
    for item in root.iter("Item"):
        code = (item.findtext("ID") or "").strip()
        name = " ".join((item.findtext("Name") or "").split())
        if _CLASS_DIGITS.fullmatch(code) and name:
            rows[code] = name
    return edition, sorted(rows.items())


def write_class_table(edition: str, rows: Iterable[tuple[str, str]]) -> bytes:
    out = io.StringIO()
    out.write(f"{_EDITION_PREFIX}{edition}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "name"])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def main(argv: list[str]) -> int:
    """``python -m app.domain.kb.classes TSKP.xml [OUT.csv]``: regenerate the shipped table."""
    if not argv:
        print("usage: python -m app.domain.kb.classes tskp_tridnik.xml [out.csv]", file=sys.stderr)
        return 2
    source = Path(argv[0])
    target = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("data") / CLASSES_FILE
    edition, rows = classes_from_tskp_xml(source.read_bytes())
    target.write_bytes(write_class_table(edition, rows))
    print(f"{len(rows)} classes of {edition or 'unknown edition'} written to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
