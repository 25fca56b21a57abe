"""The old file store as a plug-in: the core never imports it; the app factory lists it once.

What it adds to a process (``FileStorePlugin(settings)`` in app.server's ``extension_plugins``):
- the dual-write mirror, as a listener of committed changes (app.lib.unit_of_work): every project
  a transaction changed is re-exported after the commit, a deleted one moves to ``.deleted/``;
- during a rollback (``MIGRATION_READ_FROM=files``) the read sources the API reads through
  (``project_reads``, ``position_reads`` in the app state's READ_SOURCES) answer from the store;
- in ``MIGRATION_MODE=files_only`` the write guard on every route that changes project data;
- the ``app migrate-files`` and ``app export-files`` commands.
Removing the file store after the cut-over: delete this folder and its line in app.server.
"""

from __future__ import annotations

from collections.abc import Sequence

import click
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.config import Settings
from app.domain.projects.changes import ProjectChanged, ProjectDeleted, ProjectProgressed
from app.domain.projects.reads import READ_SOURCES
from app.lib.unit_of_work import Change, CommitContext, add_listener


async def mirror_committed(changes: Sequence[Change], context: CommitContext) -> None:
    """Dual-write: bring the store up to date with what a transaction committed (never raises)."""
    from app.domain.filestore.mirror import mirror_deleted_project, mirror_project

    settings = context.settings
    if not settings.writes_files or not settings.writes_postgres:
        return
    deleted = {c.project_id: c for c in changes if isinstance(c, ProjectDeleted)}
    changed = dict.fromkeys(
        c.project_id
        for c in changes
        if isinstance(c, ProjectChanged) and not isinstance(c, ProjectProgressed) and c.project_id not in deleted
    )
    sessions = async_sessionmaker(context.bind, expire_on_commit=False)
    for project_id in changed:
        await mirror_project(sessions, project_id, settings=settings, redis=context.redis)
    for gone in deleted.values():
        await mirror_deleted_project(gone.project_id, gone.metadata, settings=settings)


class FileStorePlugin(InitPluginProtocol):
    """See the module docstring."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def install(self) -> None:
        """What every process needs (API and worker): the mirror listens to commits."""
        add_listener("filestore.mirror", mirror_committed)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        from app.domain.filestore.api import file_read_sources, refuse_writes_in_files_only

        self.install()
        app_config.guards.append(refuse_writes_in_files_only)
        if self.settings.MIGRATION_READ_FROM == "files":
            app_config.state[READ_SOURCES] = file_read_sources(self.settings)
        return app_config

    def cli_commands(self) -> list[click.Command]:
        from app.domain.filestore.commands import filestore_commands

        return filestore_commands()
