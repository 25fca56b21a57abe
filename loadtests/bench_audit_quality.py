"""Benchmark: the quality of the audit on real budgets — how much of an untouched budget it flags, and
how many seeded defects it finds.

Not a test. For every budget file (default: the priced RD Valcha budget as UNIXML and as KROS Excel
from ../shared/samples; or the files given as arguments, e.g. real budgets the project has never
seen), in a database of its own:

1. **Untouched.** The file is stored as a project document and goes through the services the jobs
   use: parse (``parse_stored_document`` + ``store_parsed_document``), enrich (``EnrichmentService``),
   audit (``AuditService``). Reported: the GREEN / AMBER / RED shares of the orchestrator's verdicts
   and the finding types behind them. Targets: GREEN >= 85 %, RED <= 3 %.
2. **Seeded.** For each kind of defect, ten positions of a copy of the parsed budget are changed
   (chosen by a fixed random seed among the positions the kind applies to), the copy is stored,
   enriched and audited the same way, and recall is the share of seeded positions flagged by a
   finding of that kind. Target: at least 9 of 10 per kind; the concrete kind flagged RED.
   - ``unit_price_x10``: the unit price ×10, the total kept consistent (quantity × new price);
   - ``total_off_1000``: the line total + 1,000 CZK;
   - ``concrete_below_exposure``: the strength class lowered one step below the minimum of its
     exposure class (an exposure whose minimum the original class met is written in when the text
     has none);
   - ``concrete_unit_t``: a concrete position's unit m3 → t.

Both parts are measured twice: with the shipped catalogue extract as it is, and **leaving the budget
out** of it. The extract's reference prices were taken from the priced RD Valcha sample itself, so
with them a ×10 price on one of its codes is judged against its own original price, which a budget
the project has never seen does not get. In the leave-out run every catalogue price of a code the
budget uses is removed before it is audited (the items stay, without a price), so prices are judged
only by the DOMAIN.md bands, the same code elsewhere in the budget and its TSKP class peers. The
targets apply to both; the leave-out figures are the honest estimate for unseen budgets.

Runs on the PostgreSQL of DATABASE_URL (a database created and dropped here) and the Redis of
REDIS_URL. Prints JSON and writes loadtests/reports/audit_quality.json; exits 1 when a target is
missed. When the sample files are absent it says so and exits 0.

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python loadtests/bench_audit_quality.py [BUDGET_FILE ...]
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `tests.*` importable
    sys.path.insert(0, str(ROOT))

import msgspec  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine  # noqa: E402

from app.config import Settings  # noqa: E402
from app.db.models import AuditResult, Position, Project, ProjectDocument, User  # noqa: E402
from app.domain.audits.concrete_text import (  # noqa: E402
    STANDARD_CLASSES,
    StrengthClass,
    concerns_removal,
    read_concrete_spec,
)
from app.domain.audits.services import AuditService  # noqa: E402
from app.domain.budgets.records import ParsedDocument, PositionRecord  # noqa: E402
from app.domain.documents.parsing import parse_stored_document, store_parsed_document  # noqa: E402
from app.domain.kb.codes import normalize_code  # noqa: E402
from app.domain.kb.enrichment import EnrichmentService  # noqa: E402
from app.domain.kb.loader import SHIPPED_DATASET, load_catalog, load_shipped_data  # noqa: E402
from app.domain.kb.reference import load_catalog_extract, load_exposure_table  # noqa: E402
from app.domain.kb.services import KnowledgeBase  # noqa: E402
from app.domain.kb.units import normalize_unit  # noqa: E402
from app.lib.redis import create_redis  # noqa: E402
from tests.support.servers import run_in_scratch_database  # noqa: E402

REPORT = ROOT / "loadtests" / "reports" / "audit_quality.json"
DEFAULT_FILES = ("unixml_kros_RD_Valcha_SO1_SO2_priced.xml", "kros_xlsx_RD_Valcha_SO1_SO2_priced.xlsx")
SEEDED_PER_KIND = 10
RANDOM_SEED = 20250101
TARGET_GREEN = 0.85
TARGET_RED = 0.03
TARGET_RECALL = 0.9
SEED_KEY = "bench_seed"

_STRENGTH_TEXT = re.compile(r"(?<![0-9A-Za-z])C\s?\d{1,3}\s?/\s?\d{2,3}(?!\d)")
_CLASSES = [StrengthClass(*pair) for pair in STANDARD_CLASSES]


def samples_dir() -> Path | None:
    """../shared/samples next to the repository (main checkout or a worktree two levels down)."""
    configured = os.environ.get("SAMPLES_DIR")
    candidates = [Path(configured)] if configured else []
    candidates += [parent / "shared" / "samples" for parent in ROOT.parents]
    return next((path for path in candidates if path.is_dir()), None)


# ----------------------------------------------------------------------------------------- seeding


@dataclass(frozen=True)
class DefectKind:
    """How to seed one kind of defect, which positions it applies to, and which findings count as found."""

    name: str
    applies: Callable[[PositionRecord], bool]
    seed: Callable[[PositionRecord], PositionRecord]
    finding_types: frozenset[str]
    must_be_red: bool = False


def _priced(record: PositionRecord) -> bool:
    return bool(record.unit_price and record.unit_price > 0 and record.quantity and record.quantity > 0)


def _text(record: PositionRecord) -> str:
    return " ".join(part for part in (record.description, record.full_description) if part)


def _price_x10(record: PositionRecord) -> PositionRecord:
    assert record.unit_price is not None and record.quantity is not None
    price = record.unit_price * 10
    return msgspec.structs.replace(
        record, unit_price=price, total_price=(record.quantity * price).quantize(Decimal("0.01"))
    )


def _total_off(record: PositionRecord) -> PositionRecord:
    assert record.total_price is not None
    return msgspec.structs.replace(record, total_price=record.total_price + 1000)


def _concrete(record: PositionRecord) -> bool:
    """Concrete that is placed (not demolished, carted away or charged for at a tip)."""
    text = _text(record)
    return read_concrete_spec(text).applies and not concerns_removal(text)


def _concrete_by_volume(record: PositionRecord) -> bool:
    return _concrete(record) and normalize_unit(record.unit) == "m3"


def _has_class(record: PositionRecord) -> bool:
    return bool(read_concrete_spec(_text(record)).strength_classes)


def _lower_class(record: PositionRecord) -> PositionRecord:
    """One step below the exposure minimum; the exposure the original class met is written in if none is."""
    table = load_exposure_table()
    spec = read_concrete_spec(_text(record))
    minimums = {exposure: StrengthClass.parse(label) for exposure, label in table.minimum_strength.items()}
    exposures = [e for e in spec.exposure_classes if e in minimums]
    added = ""
    if not exposures:
        current = spec.weakest_class or StrengthClass(25, 30)
        met = [e for e in sorted(minimums, key=lambda e: (minimums[e], e)) if minimums[e] <= current]
        exposure = met[-1] if met else "XC1"
        exposures, added = [exposure], f" {exposure}"
    required = max(minimums[e] for e in exposures)
    lowered = max((c for c in _CLASSES if c < required), default=_CLASSES[0])

    def rewrite(text: str | None) -> str | None:
        if text is None:
            return None
        replaced = _STRENGTH_TEXT.sub(lowered.label, text)
        return replaced if replaced != text else f"{text} beton {lowered.label}"

    description = rewrite(record.description) or ""
    full = _STRENGTH_TEXT.sub(lowered.label, record.full_description) if record.full_description else None
    return msgspec.structs.replace(record, description=description + added, full_description=full)


def _unit_t(record: PositionRecord) -> PositionRecord:
    return msgspec.structs.replace(record, unit="t")


PRICE_FINDINGS = frozenset(
    {"cost.price_outside_band", "cost.same_code_price_differs", "cost.price_far_from_class_peers"}
)
KINDS = (
    DefectKind("unit_price_x10", _priced, _price_x10, PRICE_FINDINGS),
    DefectKind(
        "total_off_1000",
        lambda r: _priced(r) and r.total_price is not None,
        _total_off,
        frozenset({"validator.total_mismatch"}),
    ),
    DefectKind(
        "concrete_below_exposure",
        _concrete,
        _lower_class,
        frozenset({"concrete.strength_below_exposure_minimum"}),
        must_be_red=True,
    ),
    DefectKind(
        "concrete_unit_t",
        _concrete_by_volume,
        _unit_t,
        frozenset({"standards.unit_mismatch", "standards.unit_incompatible_with_class", "concrete.concrete_by_mass"}),
    ),
)


def choose(records: Sequence[PositionRecord], kind: DefectKind, rng: random.Random) -> list[int]:
    """Ten positions the kind applies to (those naming a concrete class first for the concrete kinds)."""
    pool = [i for i, record in enumerate(records) if kind.applies(record)]
    if kind.name.startswith("concrete"):
        preferred = [i for i in pool if _has_class(records[i])]
        rest = [i for i in pool if i not in set(preferred)]
        rng.shuffle(preferred)
        rng.shuffle(rest)
        return sorted((preferred + rest)[:SEEDED_PER_KIND])
    return sorted(rng.sample(pool, min(SEEDED_PER_KIND, len(pool))))


def seeded_copy(parsed: ParsedDocument, kind: DefectKind, indexes: Sequence[int]) -> ParsedDocument:
    positions = list(parsed.positions)
    for index in indexes:
        seeded = kind.seed(positions[index])
        positions[index] = msgspec.structs.replace(seeded, metadata={**seeded.metadata, SEED_KEY: kind.name})
    return msgspec.structs.replace(parsed, positions=positions)


# ---------------------------------------------------------------------------------- running the audit


@dataclass
class Audited:
    statuses: list[str]
    findings: list[list[tuple[str, str]]]  # per position: (type, severity) of the orchestrator's issues
    seeds: list[str | None]
    codes: list[str | None]
    outcome: dict[str, Any]


class Pipeline:
    """Parse → enrich → audit through the jobs' services, one project per budget."""

    def __init__(self, settings: Settings, storage: Path) -> None:
        self.engine = create_async_engine(settings.database_url, pool_size=3)
        self.redis = create_redis(settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.knowledge = KnowledgeBase(self.engine, self.redis)
        self.storage = storage
        self.owner_id: uuid.UUID | None = None

    async def start(self) -> None:
        await load_shipped_data(self.engine, redis=self.redis)
        async with self.sessions() as session, session.begin():
            owner = User(email=f"quality-{uuid.uuid4().hex[:8]}@example.cz", password_hash="x", status="active")
            session.add(owner)
        self.owner_id = owner.id

    async def catalogue_without_prices_of(self, parsed: ParsedDocument) -> dict[str, int]:
        """Load the shipped extract with no reference price on the budget's codes (the leave-out run).

        Reloading through ``load_catalog`` also drops the cached catalogue answers.
        """
        codes = {normalize_code(p.code) for p in parsed.positions if p.code}
        budget_prices = {(normalize_code(p.code), p.unit_price) for p in parsed.positions if p.code and p.unit_price}
        items = load_catalog_extract()
        removed = [item for item in items if item.reference_price is not None and normalize_code(item.code) in codes]
        equal = sum(1 for item in removed if (normalize_code(item.code), item.reference_price) in budget_prices)
        await load_catalog(
            self.engine,
            [
                msgspec.structs.replace(item, reference_price=None)
                if item.reference_price is not None and normalize_code(item.code) in codes
                else item
                for item in items
            ],
            dataset_version=SHIPPED_DATASET,
            redis=self.redis,
        )
        return {"prices_removed": len(removed), "equal_to_the_budget_price": equal}

    async def shipped_catalogue(self) -> None:
        await load_shipped_data(self.engine, redis=self.redis)

    async def close(self) -> None:
        await self.redis.aclose()
        await self.engine.dispose()

    async def document(self, path: Path) -> tuple[Project, ProjectDocument]:
        """A project with the file stored as its document, as an upload leaves it."""
        assert self.owner_id is not None
        stored = self.storage / f"{uuid.uuid4().hex}{path.suffix}"
        data = await asyncio.to_thread(path.read_bytes)
        await asyncio.to_thread(shutil.copyfile, path, stored)
        async with self.sessions() as session, session.begin():
            project = Project(owner_id=self.owner_id, name=f"Quality {path.name}")
            session.add(project)
            await session.flush()
            document = ProjectDocument(
                project_id=project.id,
                uploaded_by=self.owner_id,
                filename=path.name,
                file_type=path.suffix.lstrip(".").lower() or "bin",
                mime_type="application/octet-stream",
                file_size=len(data),
                content_hash=hashlib.sha256(data).hexdigest(),
                storage_path=str(stored),
                parse_status="pending",
            )
            session.add(document)
        return project, document

    async def parse(self, document: ProjectDocument) -> ParsedDocument:
        return await parse_stored_document(document, schedules_as_text=False)

    async def audit(self, project: Project, document: ProjectDocument, parsed: ParsedDocument) -> Audited:
        async with self.sessions() as session, session.begin():
            await store_parsed_document(session, project.id, document.id, parsed, user_id=None, job_id=uuid.uuid4())
        async with self.sessions() as session, session.begin():
            await EnrichmentService(session, self.knowledge).enrich(project.id)
        async with self.sessions() as session, session.begin():
            outcome = await AuditService(session, self.knowledge).audit(project.id)
        async with self.sessions() as session:
            return await _read(session, outcome.version, project.id, msgspec.to_builtins(outcome))


async def _read(session: AsyncSession, version: int | None, project_id: uuid.UUID, outcome: dict[str, Any]) -> Audited:
    rows = (
        await session.execute(
            select(Position.metadata_, AuditResult.status, AuditResult.issues, Position.code)
            .join(AuditResult, AuditResult.position_id == Position.id)
            .where(AuditResult.project_id == project_id, AuditResult.expert_role == "orchestrator")
            .order_by(Position.source_line, Position.created_at)
        )
    ).all()
    return Audited(
        statuses=[row[1] for row in rows],
        findings=[[(issue["type"], issue["severity"]) for issue in row[2] or []] for row in rows],
        seeds=[(row[0] or {}).get(SEED_KEY) for row in rows],
        codes=[row[3] for row in rows],
        outcome={"version": version, **{k: outcome[k] for k in ("positions", "red", "amber", "green", "priced")}},
    )


def shares(audited: Audited) -> dict[str, Any]:
    counts = Counter(audited.statuses)
    total = max(len(audited.statuses), 1)
    flagged = Counter(
        f"{kind} {severity}" for findings in audited.findings for kind, severity in findings if severity != "GREEN"
    )
    information = Counter(kind for findings in audited.findings for kind, severity in findings if severity == "GREEN")
    return {
        "positions": len(audited.statuses),
        "counts": {status: counts.get(status, 0) for status in ("GREEN", "AMBER", "RED")},
        "shares": {status: round(counts.get(status, 0) / total, 4) for status in ("GREEN", "AMBER", "RED")},
        "findings": dict(flagged.most_common()),
        "information": dict(information.most_common()),
        "priced": audited.outcome["priced"],
    }


def recall(audited: Audited, kind: DefectKind) -> dict[str, Any]:
    seeded = [i for i, seed in enumerate(audited.seeds) if seed == kind.name]
    found = [
        i
        for i in seeded
        if any(t in kind.finding_types and s != "GREEN" for t, s in audited.findings[i])
        and (audited.statuses[i] == "RED" or (not kind.must_be_red and audited.statuses[i] == "AMBER"))
    ]
    missed = [
        {
            "status": audited.statuses[i],
            "code": audited.codes[i],
            "findings": [t for t, s in audited.findings[i] if s != "GREEN"],
        }
        for i in seeded
        if i not in found
    ]
    red = sum(1 for i in seeded if audited.statuses[i] == "RED")
    return {
        "seeded": len(seeded),
        "found": len(found),
        "recall": round(len(found) / len(seeded), 4) if seeded else None,
        "red": red,
        "must_be_red": kind.must_be_red,
        "missed": missed,
        # None: the budget has no position this kind applies to (no prices in a tender budget)
        "met": len(found) / len(seeded) >= TARGET_RECALL if seeded else None,
    }


async def measure(pipeline: Pipeline, path: Path, *, leave_out: bool) -> dict[str, Any]:
    project, document = await pipeline.document(path)
    parsed = await pipeline.parse(document)
    catalogue: dict[str, Any] = {"prices": "shipped extract"}
    if leave_out:
        catalogue = {"prices": "shipped extract without this budget's codes"}
        catalogue.update(await pipeline.catalogue_without_prices_of(parsed))
    else:
        await pipeline.shipped_catalogue()
    untouched = shares(await pipeline.audit(project, document, parsed))
    untouched["met"] = untouched["shares"]["GREEN"] >= TARGET_GREEN and untouched["shares"]["RED"] <= TARGET_RED
    seeded: dict[str, Any] = {}
    rng = random.Random(RANDOM_SEED)
    for kind in KINDS:
        indexes = choose(parsed.positions, kind, rng)
        copy_project, copy_document = await pipeline.document(path)
        audited = await pipeline.audit(copy_project, copy_document, seeded_copy(parsed, kind, indexes))
        seeded[kind.name] = recall(audited, kind)
    return {
        "file": path.name,
        "format": parsed.format,
        "catalogue": catalogue,
        "untouched": untouched,
        "seeded": seeded,
    }


async def run(settings: Settings, files: Sequence[Path]) -> dict[str, list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory(prefix="audit-quality-") as storage:
        pipeline = Pipeline(settings, Path(storage))
        try:
            await pipeline.start()
            return {
                mode: [await measure(pipeline, path, leave_out=mode == "leave_budget_out") for path in files]
                for mode in ("shipped_catalogue", "leave_budget_out")
            }
        finally:
            await pipeline.close()


def main(argv: Sequence[str]) -> int:
    if argv:
        files = [Path(arg) for arg in argv]
    else:
        directory = samples_dir()
        files = [directory / name for name in DEFAULT_FILES] if directory else []
    missing = [str(path) for path in files if not path.is_file()]
    if not files or missing:
        message = f"skipped: sample budgets not found ({', '.join(missing) or '../shared/samples'})"
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps({"benchmark": "audit quality", "skipped": message}, indent=2) + "\n")
        print(message)
        return 0

    results = run_in_scratch_database(lambda settings: run(settings, files), prefix="ca_quality")
    met = {
        mode: all(r["untouched"]["met"] and all(k["met"] is not False for k in r["seeded"].values()) for r in runs)
        for mode, runs in results.items()
    }
    report = {
        "benchmark": "audit quality: untouched shares and seeded-defect recall (parse → enrich → audit services)",
        "targets": {
            "green_share_min": TARGET_GREEN,
            "red_share_max": TARGET_RED,
            "recall_min": TARGET_RECALL,
            "seeded_per_kind": SEEDED_PER_KIND,
            "concrete_below_exposure": "flagged RED",
        },
        "random_seed": RANDOM_SEED,
        "python": platform.python_version(),
        "met": met,
        "summary": summary(results),
        "results": results,
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, default=str))
    return 0 if all(met.values()) else 1


def summary(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per mode and file: the shares and each kind's found/seeded, side by side with the targets."""
    return {
        mode: {
            r["file"]: {
                "green": r["untouched"]["shares"]["GREEN"],
                "red": r["untouched"]["shares"]["RED"],
                **{name: f"{k['found']}/{k['seeded']}" for name, k in r["seeded"].items()},
            }
            for r in runs
        }
        for mode, runs in results.items()
    }


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
