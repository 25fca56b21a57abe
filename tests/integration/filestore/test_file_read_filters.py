"""Reads from the file store (MIGRATION_READ_FROM=files) honour the API's list filters as PostgreSQL does;
a filter the files cannot answer is refused with 400, never dropped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from advanced_alchemy.filters import (
    BeforeAfter,
    CollectionFilter,
    LimitOffset,
    NullFilter,
    SearchFilter,
    StatementFilter,
)

from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.reads import PositionQuery
from app.domain.budgets.schemas import PositionRead
from app.domain.filestore import stable_uuid
from app.domain.filestore.api import FilePositionReads, FileProjectReads
from app.lib.errors import InvalidInput
from tests.fixtures.legacy_store import sample_store
from tests.integration.filestore.support import FileStoreEnv

ADMIN = SessionUser(id=uuid.uuid4(), email="admin@example.cz", role="admin", status="active", session_id="s")
ALL = LimitOffset(limit=100, offset=0)
SPEC = stable_uuid("project", "proj_5f1c2a9e0b7d")


@pytest.fixture
def reads(fs: FileStoreEnv) -> tuple[FileProjectReads, FilePositionReads]:
    sample_store(fs.data_dir)
    return FileProjectReads(fs.settings), FilePositionReads(fs.settings)


async def test_project_filters(reads: tuple[FileProjectReads, FilePositionReads]) -> None:
    projects, _ = reads
    everything = (await projects.page(ADMIN, [], ALL)).items
    assert len(everything) >= 3
    named = await projects.page(ADMIN, [SearchFilter({"name", "description"}, "labe", ignore_case=True)], ALL)
    assert [p.name for p in named.items] == ["Most přes Labe – SO 201"] and named.total == 1
    for status in {p.status for p in everything}:
        page = await projects.page(ADMIN, [CollectionFilter("status", [status])], ALL)
        assert {p.status for p in page.items} == {status}
        assert page.total == sum(p.status == status for p in everything)
    workflow_b = await projects.page(ADMIN, [CollectionFilter("workflow", ["workflow_b"])], ALL)
    assert all(p.workflow == "workflow_b" for p in workflow_b.items)
    assert workflow_b.total == sum(p.workflow == "workflow_b" for p in everything) < len(everything)
    later = await projects.page(ADMIN, [BeforeAfter("created_at", None, datetime(2024, 2, 10, 9, 30, tzinfo=UTC))], ALL)
    assert all(p.created_at > datetime(2024, 2, 10, 9, 30, tzinfo=UTC) for p in later.items)
    assert SPEC not in {p.id for p in later.items}  # exclusive bound, as PostgreSQL applies it
    first = await projects.page(ADMIN, [], LimitOffset(limit=1, offset=1))
    assert first.total == len(everything) and [p.id for p in first.items] == [everything[1].id]


async def test_position_filters(reads: tuple[FileProjectReads, FilePositionReads]) -> None:
    _, positions = reads

    async def listed(*filters: StatementFilter, version: int | None = None) -> list[PositionRead]:
        page, _ = await positions.page(ADMIN, PositionQuery(SPEC, list(filters), ALL, version))
        assert page.total == len(page.items)
        return page.items

    everything, version = await positions.page(ADMIN, PositionQuery(SPEC, [], ALL))
    assert version == 1 and everything.total == 2
    for status in {p.status for p in everything.items} | {"RED"}:
        found = await listed(CollectionFilter("status", [status]))
        assert len(found) == sum(p.status == status for p in everything.items)
    assert [p.code for p in await listed(CollectionFilter("code", ["272325"]))] == ["272325"]
    assert [p.code for p in await listed(SearchFilter({"description", "code"}, "ZÁKLADY", True))] == ["272325"]
    hsv = await listed(CollectionFilter("category", ["HSV"]))
    assert len(hsv) == sum(p.category == "HSV" for p in everything.items)
    assert len(await listed(version=1)) == 2


async def test_what_the_files_cannot_answer_is_refused(reads: tuple[FileProjectReads, FilePositionReads]) -> None:
    projects, positions = reads
    with pytest.raises(InvalidInput) as older:
        await positions.page(ADMIN, PositionQuery(SPEC, [], ALL, 2))  # the store keeps no history
    assert older.value.status == 400 and "version" in str(older.value.errors)
    with pytest.raises(InvalidInput) as unknown:
        await projects.page(ADMIN, [NullFilter("description")], ALL)
    assert "description" in str(unknown.value.errors)
