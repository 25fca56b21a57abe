"""Reads for MIGRATION_READ_FROM=files (the rollback period): projects and positions from the store.

Each project directory is read once and cached by its fingerprint (names, sizes and times of its
files), so repeated reads cost a ``stat`` per file and a changed project is read again. A project
is visible to the user whose id or e-mail the project.json names, and to administrators.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from app.domain.budgets.records import PositionRecord
from app.domain.filestore.ids import stable_uuid
from app.domain.filestore.legacy import LegacyProject, LegacyProjectError
from app.domain.filestore.reader import fingerprint, read_project, scan_store


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks: the API's user id and e-mail, and whether they see every project."""

    user_id: uuid.UUID | None
    email: str | None
    is_admin: bool = False

    def can_see(self, project: LegacyProject) -> bool:
        if self.is_admin:
            return True
        if self.user_id is not None and project.owner_id == str(self.user_id):
            return True
        return bool(self.email and project.owner_email and project.owner_email.lower() == self.email.lower())


class FileStoreProjects:
    """The projects of one store directory, read lazily and cached by fingerprint (thread-safe)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._cache: dict[str, tuple[str, LegacyProject]] = {}
        self._lock = threading.Lock()

    def project_in(self, directory: Path) -> LegacyProject | None:
        """The project of one directory (None when it is broken or gone)."""
        try:
            digest = fingerprint(directory)
        except (LegacyProjectError, OSError):
            return None
        with self._lock:
            cached = self._cache.get(directory.name)
        if cached is not None and cached[0] == digest:
            return cached[1]
        try:
            project = read_project(directory)
        except (LegacyProjectError, OSError):
            return None
        with self._lock:
            self._cache[directory.name] = (digest, project)
        return project

    def all(self) -> list[LegacyProject]:
        if not self.data_dir.is_dir():
            return []
        found = [self.project_in(directory) for directory in scan_store(self.data_dir)]
        return [project for project in found if project is not None]

    def get(self, project_id: uuid.UUID) -> LegacyProject | None:
        """By id: the directory named after it first (legacy id or UUID), else a full scan."""
        for name in (str(project_id), str(project_id).upper()):
            guess = self.data_dir / name
            if guess.is_dir():
                project = self.project_in(guess)
                if project is not None and project.id == project_id:
                    return project
        with self._lock:
            known = [project.directory for _, project in self._cache.values() if project.id == project_id]
        for name in known:
            directory = self.data_dir / name
            fresh = self.project_in(directory) if directory.is_dir() else None
            if fresh is not None and fresh.id == project_id:
                return fresh
        return next((p for p in self.all() if p.id == project_id), None)


_stores: dict[Path, FileStoreProjects] = {}
_stores_lock = threading.Lock()


def store_for(settings: Settings) -> FileStoreProjects:
    path = Path(settings.DATA_DIR).resolve()
    with _stores_lock:
        if path not in _stores:
            _stores[path] = FileStoreProjects(path)
        return _stores[path]


def _newest_first(project: LegacyProject) -> tuple[float, str]:
    moment = project.created_at or project.updated_at
    return (-(moment.timestamp() if moment else 0.0), str(project.id))


async def list_projects_from_files(
    settings: Settings, viewer: Viewer, *, limit: int | None = 50, offset: int = 0
) -> tuple[list[LegacyProject], int]:
    """The viewer's projects, newest first, and how many there are (as the API's list; `limit=None`: all)."""
    projects = await asyncio.to_thread(store_for(settings).all)
    visible = sorted((p for p in projects if viewer.can_see(p)), key=_newest_first)
    end = None if limit is None else offset + limit
    return visible[offset:end], len(visible)


async def get_project_from_files(settings: Settings, viewer: Viewer, project_id: uuid.UUID) -> LegacyProject | None:
    """One project (positions, audit results and files included); None when absent or not visible."""
    project = await asyncio.to_thread(store_for(settings).get, project_id)
    return project if project is not None and viewer.can_see(project) else None


async def list_positions_from_files(
    settings: Settings, viewer: Viewer, project_id: uuid.UUID
) -> list[PositionRecord] | None:
    """The project's positions in file order; None when the project is absent or not visible."""
    project = await get_project_from_files(settings, viewer, project_id)
    return None if project is None else project.positions


def legacy_project_id(legacy_id: str) -> uuid.UUID:
    """The UUID the API uses for a project of the store (what the migration gives it too)."""
    return stable_uuid("project", legacy_id)
