"""Reading the old file store: one project directory → a ``LegacyProject``.

Tolerant of the shapes the old app wrote (see DOMAIN.md, "The old file store") and lossless: every
key without a column stays verbatim in metadata. Strict about broken input: a project that cannot be
read as a whole raises ``LegacyProjectError`` with the reason, so the caller can skip it and go on.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import msgspec

from app.domain.budgets.records import PositionRecord
from app.domain.filestore.ids import stable_uuid
from app.domain.filestore.layout import (
    AUDIT_FILE,
    JSON_FILES,
    POSITIONS_FILE,
    POSITIONS_SCHEMA,
    PROJECT_FILE,
    PROJECT_KEYS,
    SCHEMA_KEY,
    SIDE_DIGEST_KEY,
    SIDE_FILE,
    SIDE_SCHEMA,
    area_of,
    is_store_internal,
    project_head,
)
from app.domain.filestore.legacy import (
    META_AUDIT_FILE,
    META_DIRECTORY,
    META_LEGACY_FIELDS,
    META_POSITIONS_FILE,
    META_WARNINGS,
    POSITION_LEGACY_KEY,
    LegacyAuditResult,
    LegacyFile,
    LegacyProject,
    LegacyProjectError,
    ProjectStatus,
    Verdict,
    Workflow,
)
from app.domain.filestore.normalize import (
    map_status,
    map_verdict,
    map_workflow,
    normalise_key,
    parse_confidence,
    parse_datetime,
    parse_decimal,
    parse_int,
)

_HASH_CHUNK = 1024 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BOM = b"\xef\xbb\xbf"
_decoder = msgspec.json.Decoder()
_MISSING: Any = object()


class _Broken(Exception):
    """Internal: the reason a project cannot be read; becomes a LegacyProjectError."""


@dataclass(frozen=True, slots=True)
class _Entry:
    relative_path: str
    path: Path
    size: int
    mtime_ns: int


# ---------------------------------------------------------------------------------------------
# Store and directory walking


def scan_store(data_dir: Path) -> Iterator[Path]:
    """The project directories of a store (the old ``data/projects``), sorted by name.

    Hidden entries (".lock", ".DS_Store" ...) and plain files are skipped.
    """
    with os.scandir(data_dir) as entries:
        names = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())
    for name in names:
        yield data_dir / name


def fingerprint(project_dir: Path) -> str:
    """A digest of the names, sizes and modification times of every file of the project.

    Cheap (stat only). Take it *before* ``read_project``: a file changed during the read then
    shows up as a changed fingerprint on the next run.
    """
    try:
        entries = _walk(project_dir)
    except _Broken as exc:
        raise LegacyProjectError(project_dir, str(exc)) from exc
    digest = hashlib.sha256(project_dir.name.encode("utf-8", "surrogateescape") + b"\n")
    for entry in entries:
        digest.update(f"{entry.relative_path}\0{entry.size}\0{entry.mtime_ns}\n".encode())
    return digest.hexdigest()


def _walk(project_dir: Path) -> list[_Entry]:
    """Every file under ``project_dir`` (recursively) except the store's lock and temp files."""
    found: list[_Entry] = []
    pending: list[tuple[Path, str]] = [(project_dir, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            with os.scandir(directory) as it:
                children = list(it)
        except OSError as exc:
            where = prefix.rstrip("/") or "the project directory"
            raise _Broken(f"cannot list {where}: {exc.strerror or exc}") from exc
        for child in children:
            relative = prefix + child.name
            _check_utf8(relative)
            try:
                if child.is_dir(follow_symlinks=False):
                    pending.append((Path(child.path), relative + "/"))
                    continue
                if is_store_internal(relative):
                    continue
                if not child.is_file():
                    what = "a link to a directory" if child.is_symlink() and child.is_dir() else "not a file"
                    raise _Broken(f"{relative}: {what} (broken link, socket or device?)")
                stat = child.stat()
            except OSError as exc:
                raise _Broken(f"cannot stat {relative}: {exc.strerror or exc}") from exc
            found.append(_Entry(relative, Path(child.path), stat.st_size, stat.st_mtime_ns))
    found.sort(key=lambda e: e.relative_path)
    return found


def _check_utf8(relative_path: str) -> None:
    try:
        relative_path.encode("utf-8")
    except UnicodeEncodeError as exc:
        shown = relative_path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise _Broken(f"file name is not valid UTF-8: {shown!r}") from exc


# ---------------------------------------------------------------------------------------------
# The project


@dataclass
class _Notes:
    """Warnings collected while reading one project."""

    warnings: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.warnings.append(message)


def read_project(project_dir: Path, *, naive_tz: tzinfo = UTC) -> LegacyProject:
    """Read one project directory of the old store.

    ``naive_tz`` is the zone assumed for timestamps written without an offset. Raises
    ``LegacyProjectError`` when the project cannot be read as a whole (missing or broken
    project.json, broken positions/audit JSON, unreadable file).
    """
    try:
        return _read_project(project_dir, naive_tz)
    except _Broken as exc:
        raise LegacyProjectError(project_dir, str(exc)) from exc


def _read_project(project_dir: Path, naive_tz: tzinfo) -> LegacyProject:
    if not project_dir.is_dir():
        raise _Broken("not a directory")
    entries = _walk(project_dir)
    present = {e.relative_path for e in entries}
    if PROJECT_FILE not in present:
        raise _Broken(f"{PROJECT_FILE} is missing")
    doc = _project_json(project_dir, own_copy=SIDE_FILE in present)
    if not isinstance(doc, dict):
        raise _Broken(f"{PROJECT_FILE}: expected an object, found {_kind(doc)}")

    notes = _Notes()
    project, consumed = _project_head(doc, project_dir.name, notes, naive_tz)
    metadata = _project_metadata(doc, consumed, project)

    positions_doc = _read_json(project_dir / POSITIONS_FILE, POSITIONS_FILE) if POSITIONS_FILE in present else None
    project.positions, positions_extra = _positions(positions_doc, notes)
    _merge_reserved(metadata, META_POSITIONS_FILE, positions_extra)

    audit_doc = _read_json(project_dir / AUDIT_FILE, AUDIT_FILE) if AUDIT_FILE in present else None
    project.audit_results, audit_extra = _audit_results(audit_doc, notes)
    _merge_reserved(metadata, META_AUDIT_FILE, audit_extra)

    project.files = _files([e for e in entries if e.relative_path not in JSON_FILES], doc)

    if project_dir.name != project.legacy_id:
        metadata[META_DIRECTORY] = project_dir.name
    else:
        metadata.pop(META_DIRECTORY, None)
    if notes.warnings:
        metadata[META_WARNINGS] = [*metadata.get(META_WARNINGS, []), *notes.warnings]
    project.metadata = metadata
    return project


def project_json(project_dir: Path) -> Any:
    """The project.json document the reader takes the project from (see ``_own_copy``)."""
    try:
        return _project_json(project_dir, own_copy=(project_dir / SIDE_FILE).is_file())
    except _Broken as exc:
        raise LegacyProjectError(project_dir, str(exc)) from exc


def _project_json(project_dir: Path, *, own_copy: bool) -> Any:
    doc = _read_json(project_dir / PROJECT_FILE, PROJECT_FILE)
    return (_own_copy(project_dir) or doc) if own_copy else doc


def _own_copy(project_dir: Path) -> dict[str, Any] | None:
    """Our own full copy of project.json (the side file the writer puts beside the old app's
    project.json), while that project.json is still the one written with it; None when the old
    application changed project.json since (then project.json is read as the old app left it)."""
    try:
        side = _read_json(project_dir / SIDE_FILE, SIDE_FILE)
    except _Broken:  # a cut-off copy of ours: project.json is what the old app reads anyway
        return None
    if not isinstance(side, dict) or side.get(SCHEMA_KEY) != SIDE_SCHEMA or not isinstance(side.get("project"), dict):
        return None
    try:
        digest = hashlib.sha256((project_dir / PROJECT_FILE).read_bytes()).hexdigest()
    except OSError as exc:
        raise _Broken(f"cannot read {PROJECT_FILE}: {exc.strerror or exc}") from exc
    return side["project"] if side.get(SIDE_DIGEST_KEY) == digest else None


def _read_json(path: Path, label: str) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _Broken(f"cannot read {label}: {exc.strerror or exc}") from exc
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if not data.strip():
        raise _Broken(f"{label} is empty ({len(data)} bytes)")
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise _Broken(f"{label} is not valid JSON: {exc}") from exc


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


# Project fields: (field, aliases in priority order). The first alias is the canonical key.
_ID_KEYS = ("legacy_id", "project_id", "projectId", "id")
_NAME_KEYS = ("name", "project_name", "projectName", "title", "nazev")
_DESCRIPTION_KEYS = ("description", "project_description", "popis")
_WORKFLOW_KEYS = ("workflow", "workflow_type", "workflowType")
_STATUS_KEYS = ("status", "state", "project_status")
_OWNER_ID_KEYS = ("owner_id", "user_id", "ownerId", "userId", "created_by_id")
_OWNER_EMAIL_KEYS = ("owner_email", "user_email", "ownerEmail", "email")
_OWNER_OBJECT_KEYS = ("owner", "user", "created_by", "author")
_CREATED_KEYS = ("created_at", "createdAt", "created", "date_created", "creation_date")
_UPDATED_KEYS = ("updated_at", "updatedAt", "updated", "modified_at", "last_modified", "date_modified")
# The keys each project field is read from (the writer of the old shape uses the same ones).
PROJECT_FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "legacy_id": _ID_KEYS,
    "name": _NAME_KEYS,
    "description": _DESCRIPTION_KEYS,
    "workflow": _WORKFLOW_KEYS,
    "status": _STATUS_KEYS,
    "owner_id": _OWNER_ID_KEYS,
    "owner_email": _OWNER_EMAIL_KEYS,
    "owner": _OWNER_OBJECT_KEYS,
    "created_at": _CREATED_KEYS,
    "updated_at": _UPDATED_KEYS,
}


def _project_head(
    doc: dict[str, Any], directory: str, notes: _Notes, naive_tz: tzinfo
) -> tuple[LegacyProject, dict[str, Any]]:
    """The typed project fields and the keys of ``doc`` they were taken from."""
    consumed: dict[str, Any] = {}

    def take(keys: Sequence[str], read: Callable[[Any], Any], what: str) -> Any:
        """The first readable value among ``keys``; unreadable non-null values are warned about."""
        for key in keys:
            if key not in doc:
                continue
            raw = doc[key]
            try:
                value = read(raw)
            except ValueError as exc:
                notes.add(f"{PROJECT_FILE}: {what} {key}={raw!r} not understood ({exc}); kept in metadata")
                continue
            if value is not None:
                consumed[key] = raw
                return value
        return None

    legacy_id: str = take(_ID_KEYS, _identifier, "id") or directory
    name: str = take(_NAME_KEYS, _identifier, "name") or legacy_id
    description: str | None = take(_DESCRIPTION_KEYS, _description, "description")
    workflow: Workflow | None = take(_WORKFLOW_KEYS, _known(map_workflow), "workflow")
    status: ProjectStatus | None = take(_STATUS_KEYS, _known(map_status), "status")
    owner_id: str | None = take(_OWNER_ID_KEYS, _identifier, "owner id")
    owner_email: str | None = take(_OWNER_EMAIL_KEYS, _identifier, "owner e-mail")
    for key in _OWNER_OBJECT_KEYS:
        if key in doc and (owner_id is None or owner_email is None):
            found_id, found_email = _owner_from(doc[key])
            if (owner_id is None and found_id) or (owner_email is None and found_email):
                owner_id = owner_id or found_id
                owner_email = owner_email or found_email
                consumed[key] = doc[key]
    created_at: datetime | None = take(_CREATED_KEYS, lambda v: parse_datetime(v, naive_tz), "timestamp")
    updated_at: datetime | None = take(_UPDATED_KEYS, lambda v: parse_datetime(v, naive_tz), "timestamp")

    # A canonical key the writer will emit must never be left in metadata (it would collide).
    for key in PROJECT_KEYS:
        if key in doc and key not in consumed:
            consumed[key] = doc[key]

    project = LegacyProject(
        id=stable_uuid("project", legacy_id),
        legacy_id=legacy_id,
        name=name,
        description=description,
        workflow=workflow,
        status=status or "draft",
        owner_id=owner_id,
        owner_email=owner_email,
        created_at=created_at,
        updated_at=updated_at,
    )
    return project, consumed


def _identifier(value: Any) -> str | None:
    """A non-blank string, or an integer as text; None otherwise."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _description(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _known(mapper: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``mapper`` raising ValueError for a non-null value it does not know."""

    def read(value: Any) -> Any:
        mapped = mapper(value)
        if mapped is None and value is not None:
            raise ValueError("unknown value")
        return mapped

    return read


def _owner_from(value: Any) -> tuple[str | None, str | None]:
    """(owner id, owner e-mail) from an "owner"-like value: an id, an e-mail or an object."""
    if isinstance(value, dict):
        found_id = next((_identifier(value[k]) for k in ("id", "user_id", "uuid") if k in value), None)
        email = value.get("email")
        return found_id, email if isinstance(email, str) and "@" in email else None
    text = _identifier(value)
    if text is None:
        return None, None
    return (None, text) if "@" in text else (text, None)


def _project_metadata(doc: dict[str, Any], consumed: dict[str, Any], project: LegacyProject) -> dict[str, Any]:
    """Every key of project.json not taken into a field, plus the original form of taken ones the
    writer would not reproduce (e.g. ``project_id``, ``workflow: "A"``) under ``legacy_fields``."""
    metadata = {key: value for key, value in doc.items() if key not in consumed}
    head = project_head(project)
    changed = {key: raw for key, raw in consumed.items() if not _same(head.get(key, _MISSING), raw)}
    _merge_reserved(metadata, META_LEGACY_FIELDS, changed)
    warnings = metadata.get(META_WARNINGS)
    if warnings is not None and not isinstance(warnings, list):
        raise _Broken(f"{PROJECT_FILE}: key {META_WARNINGS!r} is reserved and must be a list")
    return metadata


def _merge_reserved(metadata: dict[str, Any], key: str, new: dict[str, Any]) -> None:
    """Merge ``new`` into the reserved metadata dict ``key`` (present when the file was written by
    the new code; a round trip then adds nothing)."""
    existing = metadata.get(key)
    if existing is not None and not isinstance(existing, dict):
        raise _Broken(f"{PROJECT_FILE}: key {key!r} is reserved and must be an object")
    if new:
        metadata[key] = {**(existing or {}), **new}


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON type (so 1 is not True and "5" is not 5)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# ---------------------------------------------------------------------------------------------
# Positions

_TEXT, _DECIMAL, _LINES, _INT = "text", "decimal", "lines", "int"

_POSITION_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "code": (_TEXT, ("code", "kod", "kod_polozky", "item_code", "catalog_code", "catalogue_code", "znacka")),
    "position_number": (
        _TEXT,
        ("position_number", "pc", "p_c", "poradove_cislo", "por_cislo", "cislo", "number", "item_number"),
    ),
    "description": (
        _TEXT,
        ("description", "popis", "nazev", "name", "nazev_polozky", "popis_polozky", "text", "short_description"),
    ),
    "full_description": (
        _TEXT,
        ("full_description", "plny_popis", "popis_plny", "long_description", "detailed_description"),
    ),
    "category": (_TEXT, ("category", "dil", "section", "kategorie", "oddil")),
    "object_code": (_TEXT, ("object_code", "kod_objektu", "objekt", "object", "so", "stavebni_objekt")),
    "object_name": (_TEXT, ("object_name", "nazev_objektu")),
    "unit": (_TEXT, ("unit", "mj", "jednotka", "merna_jednotka", "uom", "measure_unit")),
    "quantity": (_DECIMAL, ("quantity", "qty", "mnozstvi", "pocet", "vymera")),
    "unit_price": (
        _DECIMAL,
        (
            "unit_price",
            "jednotkova_cena",
            "j_cena",
            "jcena",
            "j_cena_czk",
            "jednotkova_cena_czk",
            "cena_jednotkova",
            "cena_za_jednotku",
            "cena_mj",
            "unit_cost",
            "price",
        ),
    ),
    "total_price": (
        _DECIMAL,
        ("total_price", "cena_celkem", "cena_celkem_czk", "celkova_cena", "celkem", "total", "total_cost"),
    ),
    "catalog": (_TEXT, ("catalog", "catalogue", "cenova_soustava", "katalog", "price_list", "soustava")),
    "item_type": (_TEXT, ("item_type", "typ", "type", "typ_vety", "typ_polozky")),
    "measurements": (_LINES, ("measurements", "vykaz_vymer", "vv", "vymery")),
    "source_line": (_INT, ("source_line", "line", "row", "radek", "row_number", "line_number")),
}
# normalised key → (field, kind, rank); a lower rank wins when a dict has several aliases of a field.
_POSITION_ALIASES: dict[str, tuple[str, str, int]] = {
    alias: (name, kind, rank)
    for name, (kind, aliases) in _POSITION_FIELDS.items()
    for rank, alias in enumerate(aliases)
}


def _positions(doc: Any, notes: _Notes) -> tuple[list[PositionRecord], dict[str, Any]]:
    """The positions of positions.json and the extra top-level keys of an object-shaped file."""
    if doc is None:
        return [], {}
    extra: dict[str, Any] = {}
    if isinstance(doc, dict):
        if doc.get(SCHEMA_KEY) == POSITIONS_SCHEMA:
            try:
                return msgspec.convert(doc.get("positions", []), list[PositionRecord]), {}
            except msgspec.ValidationError as exc:
                raise _Broken(f"{POSITIONS_FILE}: {exc}") from exc
        list_key = next((k for k in ("positions", "items", "polozky", "data") if isinstance(doc.get(k), list)), None)
        if list_key is None:
            raise _Broken(f"{POSITIONS_FILE}: an object without a 'positions' list")
        items: list[Any] = doc[list_key]
        extra = {k: v for k, v in doc.items() if k != list_key}
    elif isinstance(doc, list):
        items = doc
    else:
        raise _Broken(f"{POSITIONS_FILE}: expected a list of positions, found {_kind(doc)}")
    positions = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _Broken(f"{POSITIONS_FILE}: position {index} is {_kind(item)}, not an object")
        positions.append(_position(item, index, notes))
    return positions, extra


def _position(raw: dict[str, Any], index: int, notes: _Notes) -> PositionRecord:
    """One old position dict → PositionRecord; the dict itself is kept in metadata["legacy"]."""
    chosen: dict[str, tuple[int, str, str]] = {}  # field → (rank, kind, key)
    for key in raw:
        hit = _POSITION_ALIASES.get(normalise_key(key))
        if hit is not None:
            name, kind, rank = hit
            if name not in chosen or rank < chosen[name][0]:
                chosen[name] = (rank, kind, key)
    values: dict[str, Any] = {}
    for name, (_, kind, key) in chosen.items():
        value = raw[key]
        try:
            if kind == _TEXT:
                values[name] = _text(value)
            elif kind == _DECIMAL:
                values[name] = parse_decimal(value)
            elif kind == _INT:
                values[name] = parse_int(value)
            else:
                values[name] = _lines(value)
        except ValueError as exc:
            notes.add(f"{POSITIONS_FILE}: position {index} {key}: {exc}; kept in metadata")
    description = values.pop("description", None) or values.get("full_description") or ""
    return PositionRecord(description=description, **values, metadata={POSITION_LEGACY_KEY: raw})


def _text(value: Any) -> str | None:
    """A text field: strings stripped; numbers as written (code 273313611 → "273313611")."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    raise ValueError(f"{_kind(value)} is not text")


def _lines(value: Any) -> list[str]:
    """Výkaz výměr lines from a list (non-text items as JSON) or a multi-line string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list):
        return [item if isinstance(item, str) else msgspec.json.encode(item).decode() for item in value]
    raise ValueError(f"{_kind(value)} is not a list of lines")


def position_refs(positions: Sequence[PositionRecord]) -> dict[str, int]:
    """How old audit results may name a position → its index in ``positions``.

    By the old position id first, then the position number, then the code when it is unique.
    """
    refs: dict[str, int] = {}
    for index, position in enumerate(positions):
        raw = position.metadata.get(POSITION_LEGACY_KEY)
        if isinstance(raw, dict):
            for key in ("id", "position_id", "pos_id", "uuid", "item_id"):
                ref = _identifier(raw.get(key))
                if ref is not None:
                    refs.setdefault(ref, index)
    for index, position in enumerate(positions):
        if position.position_number:
            refs.setdefault(position.position_number, index)
    codes = Counter(p.code for p in positions if p.code)
    for index, position in enumerate(positions):
        if position.code and codes[position.code] == 1:
            refs.setdefault(position.code, index)
    return refs


# ---------------------------------------------------------------------------------------------
# Audit results

_AUDIT_LIST_KEYS = ("results", "audit_results", "items", "audits")
_NESTED_EXPERT_KEYS = ("experts", "expert_results", "verdicts", "by_expert")
_REF_KEYS = (
    "position_id",
    "position_ref",
    "position",
    "pos_id",
    "position_code",
    "position_number",
    "item_id",
    "code",
)
_EXPERT_KEYS = ("expert", "role", "expert_role", "agent", "auditor")
_VERDICT_KEYS = ("status", "verdict", "result", "classification", "color")
_CONFIDENCE_KEYS = ("confidence", "score", "certainty")
_REASON_KEYS = ("reasoning", "reason", "explanation", "comment", "message", "zduvodneni", "oduvodneni")
_EVIDENCE_KEYS = ("evidence", "sources", "dukazy")
_ISSUE_KEYS = ("issues", "problems", "findings")


def _audit_results(doc: Any, notes: _Notes) -> tuple[list[LegacyAuditResult], dict[str, Any]]:
    """Audit results from a list, an object with a results list, or an object keyed by position."""
    if doc is None:
        return [], {}
    extra: dict[str, Any] = {}
    entries: list[tuple[str | None, Any]]
    if isinstance(doc, dict):
        list_key = next((k for k in _AUDIT_LIST_KEYS if isinstance(doc.get(k), list)), None)
        if list_key is not None:
            entries = [(None, item) for item in doc[list_key]]
            extra = {k: v for k, v in doc.items() if k != list_key}
        else:
            entries = list(doc.items())
    elif isinstance(doc, list):
        exported = _exported_audit_results(doc)
        if exported is not None:
            return exported, {}
        entries = [(None, item) for item in doc]
    else:
        raise _Broken(f"{AUDIT_FILE}: expected a list or an object, found {_kind(doc)}")
    results: list[LegacyAuditResult] = []
    for ref, entry in entries:
        for item in entry if isinstance(entry, list) else [entry]:
            results.extend(_audit_entry(ref, item, None, notes))
    return results, extra


_EXPORTED_AUDIT_KEYS = frozenset(LegacyAuditResult.__struct_fields__)


def _exported_audit_results(doc: list[Any]) -> list[LegacyAuditResult] | None:
    """The results as the writer wrote them (every entry has exactly the LegacyAuditResult keys),
    or None for the old app's entries."""
    if not doc or not all(isinstance(item, dict) and item.keys() == _EXPORTED_AUDIT_KEYS for item in doc):
        return None
    try:
        return msgspec.convert(doc, list[LegacyAuditResult])
    except msgspec.ValidationError:
        return None


def _audit_entry(ref: str | None, item: Any, expert: str | None, notes: _Notes) -> list[LegacyAuditResult]:
    """One audit entry; a dict with per-expert sub-verdicts gives one result per expert plus its own."""
    if isinstance(item, str):
        item = {"status": item}  # {"pos_1": "RED"}
    if not isinstance(item, dict):
        where = f"entry for {ref!r}" if ref is not None else "an entry"
        raise _Broken(f"{AUDIT_FILE}: {where} is {_kind(item)}, not an object")
    nested_key = next((k for k in _NESTED_EXPERT_KEYS if isinstance(item.get(k), dict | list)), None)
    if nested_key is None:
        return [_audit_result(ref, item, expert, notes)]
    own = {k: v for k, v in item.items() if k != nested_key}
    own_ref = ref if ref is not None else _identifier(_first(own, _REF_KEYS))
    children: list[LegacyAuditResult] = []
    nested = item[nested_key]
    pairs = list(nested.items()) if isinstance(nested, dict) else [(None, child) for child in nested]
    for role, child in pairs:
        children.extend(_audit_entry(own_ref, child, role, notes))
    has_verdict = any(k in own for k in _VERDICT_KEYS)
    if own.keys() - set(_REF_KEYS) or has_verdict:
        children.insert(0, _audit_result(own_ref, own, expert or ("orchestrator" if has_verdict else None), notes))
    return children


def _audit_result(ref: str | None, raw: dict[str, Any], expert: str | None, notes: _Notes) -> LegacyAuditResult:
    position_ref = ref if ref is not None else _identifier(_first(raw, _REF_KEYS))
    own_expert = _first(raw, _EXPERT_KEYS)
    expert_name = own_expert if isinstance(own_expert, str) and own_expert.strip() else expert
    status_raw = _first(raw, _VERDICT_KEYS)
    status: Verdict | None = map_verdict(status_raw)
    if status is None and status_raw is not None:
        notes.add(f"{AUDIT_FILE}: verdict {status_raw!r} for {position_ref!r} not understood; kept in raw")
    confidence: float | None = None
    confidence_raw = _first(raw, _CONFIDENCE_KEYS)
    try:
        confidence = parse_confidence(confidence_raw)
    except ValueError as exc:
        notes.add(f"{AUDIT_FILE}: confidence for {position_ref!r}: {exc}; kept in raw")
    reasoning = _first(raw, _REASON_KEYS)
    if reasoning is not None and not isinstance(reasoning, str):
        reasoning = msgspec.json.encode(reasoning).decode()
    return LegacyAuditResult(
        position_ref=position_ref,
        expert=expert_name.strip().lower() if expert_name else None,
        status=status,
        confidence=confidence,
        reasoning=reasoning,
        evidence=_first(raw, _EVIDENCE_KEYS),
        issues=_issues(_first(raw, _ISSUE_KEYS)),
        raw=raw,
    )


def _first(raw: dict[str, Any], keys: Sequence[str]) -> Any:
    return next((raw[k] for k in keys if raw.get(k) is not None), None)


def _issues(value: Any) -> list[dict[str, Any]]:
    """Issues as ``{type, severity, description, suggestion}``-like dicts; text becomes a description."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [item if isinstance(item, dict) else {"description": _as_text(item)} for item in items]


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


# ---------------------------------------------------------------------------------------------
# Files

_FILE_LIST_KEYS = ("files", "documents", "uploaded_files", "attachments")
_FILE_PATH_KEYS = ("path", "file_path", "relative_path", "stored_path", "storage_path", "filepath")
_FILE_NAME_KEYS = ("filename", "file_name", "name", "original_filename", "original_name")
_FILE_TYPE_KEYS = ("file_type", "type", "category", "kind")
_FILE_ID_KEYS = ("file_id", "id", "uuid")


@dataclass(frozen=True, slots=True)
class _FileEntry:
    path: str | None  # NFC, "/"-separated
    name: str | None  # NFC base name
    file_type: str | None
    file_id: str | None


def _files(entries: list[_Entry], doc: dict[str, Any]) -> list[LegacyFile]:
    """LegacyFile for each file, hashed; file_type from the raw/ sub-folder or project.json files[]."""
    listed = _listed_files(doc)
    files = []
    for entry in entries:
        relative = entry.relative_path
        parts = relative.split("/")
        match = _match_listed(relative, listed)
        file_type = parts[1] if parts[0] == "raw" and len(parts) >= 3 else None
        if file_type is None and match is not None:
            file_type = match.file_type
        size, digest, mtime_ns = _hash_file(entry)
        files.append(
            LegacyFile(
                relative_path=relative,
                area=area_of(relative),
                file_type=file_type,
                size=size,
                sha256=digest,
                mtime=_EPOCH + timedelta(microseconds=mtime_ns // 1000),
                legacy_file_id=match.file_id if match is not None else None,
            )
        )
    return files


def _listed_files(doc: dict[str, Any]) -> list[_FileEntry]:
    """The entries of project.json files[] (or documents[] ...) that name a file."""
    listed: list[_FileEntry] = []
    for key in _FILE_LIST_KEYS:
        items = doc.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            path = _nfc_path(_first(item, _FILE_PATH_KEYS))
            name = _nfc_path(_first(item, _FILE_NAME_KEYS))
            if path is None and name is None:
                continue
            file_type = _first(item, _FILE_TYPE_KEYS)
            listed.append(
                _FileEntry(
                    path=path,
                    name=name.rsplit("/", 1)[-1] if name else None,
                    file_type=file_type if isinstance(file_type, str) else None,
                    file_id=_identifier(_first(item, _FILE_ID_KEYS)),
                )
            )
    return listed


def _nfc_path(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return unicodedata.normalize("NFC", value.replace("\\", "/"))


def _match_listed(relative: str, listed: list[_FileEntry]) -> _FileEntry | None:
    """The files[] entry for a file on disk: by path suffix, else (under raw/) by base name."""
    if not listed:
        return None
    wanted = unicodedata.normalize("NFC", relative)
    for item in listed:
        if item.path is not None and (item.path == wanted or item.path.endswith("/" + wanted)):
            return item
    parts = wanted.split("/")
    if parts[0] != "raw":  # by name only for uploads; processed/ and artifacts/ are derived files
        return None
    base = parts[-1]
    folder_type = parts[1] if len(parts) >= 3 else None
    by_name = [
        item for item in listed if item.name == base or (item.path is not None and item.path.rsplit("/", 1)[-1] == base)
    ]
    if folder_type is not None:
        typed = [item for item in by_name if item.file_type == folder_type]
        by_name = typed or by_name
    return by_name[0] if by_name else None


def _hash_file(entry: _Entry) -> tuple[int, str, int]:
    """(size, sha256 hex, mtime ns) of a file, streamed in chunks; size counts the bytes hashed."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(entry.path, "rb", buffering=0) as handle:
            mtime_ns = os.fstat(handle.fileno()).st_mtime_ns
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise _Broken(f"cannot read {entry.relative_path}: {exc.strerror or exc}") from exc
    return size, digest.hexdigest(), mtime_ns
