"""Workflow B with the database: the project's documents as text, the catalogue, and the generated version.

A document already parsed gives its `indexed_content`; one not parsed yet (the generate job runs on
the high queue, the parse jobs of fresh uploads may still wait on the default one) is read from its
file here, without writing the document (its own parse job does that).

The generated budget replaces the positions generated earlier (source `generated`) and nothing else,
through a change set: generating again from the same documents makes no new version.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import CatalogItem as CatalogItemRow
from app.db.models import Project, ProjectDocument
from app.domain.budgets.changes import NewPosition
from app.domain.budgets.records import DocumentParseError
from app.domain.budgets.services import BudgetService
from app.domain.documents.parsing import StoredFileMissing, extract, read_stored_file
from app.domain.documents.replacement import is_empty, latest_positions, replacement_changes
from app.domain.generation.catalogue import CATALOGUE_CODE_PATTERN, choose_item
from app.domain.generation.extract import Element
from app.domain.generation.materials import GenerationParameters, Material, MaterialNeed, derive_materials
from app.domain.kb.matching import EnrichmentMatch, MatchCandidate
from app.domain.kb.reference import CatalogIndex, CatalogItem, load_catalog_index
from app.domain.projects.services import lock_project

MATERIAL_TEXT: dict[Material, str] = {
    "concrete": "beton",
    "formwork": "bednění – zřízení",
    "formwork_removal": "bednění – odstranění",
    "reinforcement": "výztuž z betonářské oceli",
}


class DocumentText(msgspec.Struct, frozen=True, kw_only=True):
    document_id: uuid.UUID
    filename: str
    text: str
    read_from: str  # "indexed_content" or "file"


class UnreadableDocument(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    filename: str
    error: str


class GeneratedLine(msgspec.Struct, kw_only=True):
    """A position of the generated budget with where it came from (for the job result)."""

    position: NewPosition
    element: Element
    need: MaterialNeed
    catalogue_note: str | None


def _read_file_text(document: ProjectDocument) -> str:
    data = read_stored_file(document.storage_path)
    return extract(data, document.filename, schedules_as_text=True).text


async def document_texts(
    session: AsyncSession, project_id: uuid.UUID
) -> tuple[list[DocumentText], list[UnreadableDocument]]:
    """The text of every document of the project (one query; unparsed files read in a thread)."""
    documents = (
        await session.scalars(
            select(ProjectDocument)
            .where(ProjectDocument.project_id == project_id)
            .order_by(ProjectDocument.created_at, ProjectDocument.id)
        )
    ).all()
    texts: list[DocumentText] = []
    unreadable: list[UnreadableDocument] = []
    for document in documents:
        if document.parse_status == "completed" and document.indexed_content:
            texts.append(
                DocumentText(
                    document_id=document.id,
                    filename=document.filename,
                    text=document.indexed_content,
                    read_from="indexed_content",
                )
            )
            continue
        try:
            text = await asyncio.to_thread(_read_file_text, document)
        except (DocumentParseError, StoredFileMissing) as exc:
            unreadable.append(
                UnreadableDocument(document_id=str(document.id), filename=document.filename, error=str(exc))
            )
            continue
        texts.append(DocumentText(document_id=document.id, filename=document.filename, text=text, read_from="file"))
    return texts, unreadable


async def load_catalogue(session: AsyncSession) -> tuple[CatalogIndex, str]:
    """The catalogue items generation may use: from PostgreSQL when the knowledge base holds them,
    else the extract shipped with the project; and which one it was."""
    statement = select(CatalogItemRow).where(CatalogItemRow.code.op("~")(CATALOGUE_CODE_PATTERN))
    rows = (await session.scalars(statement)).all()
    if not rows:
        return load_catalog_index(), "shipped extract"
    items = [
        CatalogItem(
            catalog=row.catalog,
            code=row.code,
            description=row.description,
            unit=row.unit,
            reference_price=row.reference_price,
            valid_from=row.valid_from,
        )
        for row in rows
    ]
    return CatalogIndex(items), "catalog_items"


def _quantity_text(value: Decimal) -> str:
    return format(value.normalize(), "f").replace(".", ",")


def _concrete_text(element: Element) -> str:
    return " ".join(part for part in (element.strength_class, *element.exposure_classes) if part)


def _full_description(element: Element, need: MaterialNeed) -> str:
    source = element.sources[0]
    material = MATERIAL_TEXT[need.material]
    if need.material == "concrete" and _concrete_text(element):
        material += f" {_concrete_text(element)}"
    return (
        f"{element.name}: {material}; {_quantity_text(need.quantity)} {need.unit} ({need.basis}); "
        f"zdroj: {source.document}, ř. {source.line}"
    )


def _description(element: Element, need: MaterialNeed, item: CatalogItem | None) -> str:
    if item is not None:
        return item.description
    material = MATERIAL_TEXT[need.material]
    if need.material == "concrete" and _concrete_text(element):
        material += f" {_concrete_text(element)}"
    return f"{element.kind_info.label} – {material} ({element.name})"


def _enrichment(item: CatalogItem) -> dict[str, Any]:
    """The catalogue item the position was made from, in the shape enrichment stores (`positions.enrichment`)."""
    candidate = MatchCandidate.of(item, 1.0)
    evidence = {"rule": "generated_from_catalogue", "code": item.code}
    match = EnrichmentMatch(match=candidate, score=1.0, evidence=evidence, candidates=[candidate])
    built: dict[str, Any] = msgspec.to_builtins(match)
    return built


def build_positions(
    elements: Sequence[Element], parameters: GenerationParameters, catalogue: CatalogIndex
) -> list[GeneratedLine]:
    """Positions for every material of every element, numbered in order; `source='generated'`."""
    lines: list[GeneratedLine] = []
    for element in elements:
        mesh = any("kari" in source.text.casefold() or "síť" in source.text.casefold() for source in element.sources)
        for need in derive_materials(element, parameters):
            choice = choose_item(
                catalogue, element.kind, need.material, strength_class=element.strength_class, mesh=mesh
            )
            item = choice.item
            source = element.sources[0]
            metadata: dict[str, Any] = {
                "object_code": element.object_code,
                "full_description": _full_description(element, need),
                "item_type": "K",
                "generated": {
                    "element": element.name,
                    "kind": element.kind,
                    "material": need.material,
                    "basis": need.basis,
                    "strength_class": element.strength_class,
                    "exposure_classes": list(element.exposure_classes),
                    "sources": [
                        {"document": s.document, "document_id": s.document_id, "line": s.line} for s in element.sources
                    ],
                },
            }
            if item is not None:
                metadata["catalog"] = item.catalog
            position = NewPosition(
                description=_description(element, need, item),
                position_number=str(len(lines) + 1),
                code=item.code if item is not None else None,
                category=element.kind_info.category,
                unit=item.unit if item is not None and item.unit else need.unit,
                quantity=need.quantity,
                unit_price=item.reference_price if item is not None else None,
                source="generated",
                source_document_id=uuid.UUID(source.document_id) if source.document_id else None,
                source_line=source.line,
                enrichment=_enrichment(item) if item is not None else {},
                metadata=metadata,
            )
            lines.append(GeneratedLine(position=position, element=element, need=need, catalogue_note=choice.note))
    return lines


async def store_generated_budget(
    session: AsyncSession,
    project_id: uuid.UUID,
    lines: Sequence[GeneratedLine],
    *,
    trigger_details: dict[str, Any],
    user_id: uuid.UUID | None,
) -> tuple[Project, bool]:
    """Make the `generated` version (when anything differs from the last generated positions)."""
    budgets = BudgetService(session=session)
    project = await lock_project(session, None, project_id)
    old = await latest_positions(session, project, source="generated")
    changes = replacement_changes(old, [line.position for line in lines])
    if is_empty(changes):
        return project, False
    await budgets.create_version(project.id, "generated", trigger_details, changes=changes, user_id=user_id)
    return project, True
