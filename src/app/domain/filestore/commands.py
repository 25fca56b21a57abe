"""The file-store commands: `app migrate-files`, `app export-files`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TypeVar

import click

from app.config import Settings, get_settings
from app.lib.infra import run_command

T = TypeVar("T")


def _echo(message: str) -> None:
    click.echo(message, err=True)


def _write_report(path: Path | None, data: dict[str, Any]) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if path is None:
        return
    if str(path) == "-":
        click.echo(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


class _Progress:
    """A rich progress display on stderr: one bar per quantity (projects, bytes)."""

    def __init__(self, enabled: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def add(self, name: str, total: int, unit: str = "") -> None:
        self.tasks[name] = self.progress.add_task(name, total=total, unit=unit)

    def advance(self, name: str, amount: int) -> None:
        if name in self.tasks:
            self.progress.advance(self.tasks[name], amount)

    def __enter__(self) -> _Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


@click.command(name="migrate-files")
@click.argument("data_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--verify", is_flag=True, help="Compare files and database; exit 1 on any difference.")
@click.option("--dry-run", is_flag=True, help="Read and report everything, write nothing.")
@click.option("--force", is_flag=True, help="Re-import projects whose files did not change since the last run.")
@click.option(
    "--report", "report_file", type=click.Path(path_type=Path), help="Write the report as JSON ('-': stdout)."
)
@click.option("--batch-size", default=20, show_default=True, help="Projects per transaction.")
@click.option(
    "--create-owners/--no-create-owners",
    default=True,
    show_default=True,
    help="Create accounts for owner e-mails that have none (else they go to MIGRATION_DEFAULT_OWNER).",
)
@click.option(
    "--replace-changed",
    is_flag=True,
    help="Also re-import projects changed in PostgreSQL since their migration (coming back after a rollback).",
)
@click.option("--progress/--no-progress", default=True, help="Show progress bars on stderr.")
def migrate_files_command(
    data_dir: Path | None,
    verify: bool,
    dry_run: bool,
    force: bool,
    report_file: Path | None,
    batch_size: int,
    create_owners: bool,
    replace_changed: bool,
    progress: bool,
) -> None:
    """Import the old file store (DATA_DIR, default settings.DATA_DIR) into PostgreSQL.

    One transaction per batch of projects, a broken project is skipped alone with its reason; safe
    to re-run and to kill. Exit status 1 when a project failed (or, with --verify, on a difference).
    """
    settings = get_settings()
    source = data_dir or Path(settings.DATA_DIR)
    if not source.is_dir():
        raise click.ClickException(f"file store {source} does not exist")
    if verify:
        _verify(settings, source, report_file, progress)
        return

    from app.domain.filestore.migrate import migrate_store

    with _Progress(progress and sys.stderr.isatty()) as bars:

        def on_start(projects: int, size: int) -> None:
            bars.add("projects", projects)
            bars.add("bytes", size, "bytes")

        def on_progress(projects: int, size: int) -> None:
            bars.advance("projects", projects)
            bars.advance("bytes", size)

        report = run_command(
            settings,
            lambda: migrate_store(
                settings,
                source,
                dry_run=dry_run,
                force=force,
                create_owners=create_owners,
                replace_changed=replace_changed,
                batch_size=batch_size,
                on_start=on_start,
                on_progress=on_progress,
            ),
        )
    _write_report(report_file, report.as_json())
    _echo(report.human())
    if not report.ok:
        sys.exit(1)


def _verify(settings: Settings, source: Path, report_file: Path | None, progress: bool) -> None:
    from app.domain.filestore.mirror import mirror_failures
    from app.domain.filestore.verify import verify_store

    with _Progress(progress and sys.stderr.isatty()) as bars:

        async def work() -> Any:
            failures = await mirror_failures(settings)
            return await verify_store(
                settings,
                source,
                mirror_failures=failures,
                on_start=lambda total: bars.add("projects", total),
                on_progress=lambda done: bars.advance("projects", done),
            )

        report = run_command(settings, work)
    _write_report(report_file, report.as_json())
    _echo(report.human())
    if not report.ok:
        sys.exit(1)


@click.command(name="export-files")
@click.argument("data_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--prune", is_flag=True, help="Delete files of exported projects that PostgreSQL no longer has.")
@click.option(
    "--report", "report_file", type=click.Path(path_type=Path), help="Write the report as JSON ('-': stdout)."
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
def export_files_command(data_dir: Path | None, prune: bool, report_file: Path | None, progress: bool) -> None:
    """Rebuild the old file store from PostgreSQL into DATA_DIR (default settings.DATA_DIR), for a rollback."""
    from app.domain.filestore.export import export_store

    settings = get_settings()
    target = data_dir or Path(settings.DATA_DIR)
    with _Progress(progress and sys.stderr.isatty()) as bars:
        report = run_command(
            settings,
            lambda: export_store(
                settings,
                target,
                prune=prune,
                on_start=lambda total: bars.add("projects", total),
                on_progress=lambda done: bars.advance("projects", done),
            ),
        )
    _write_report(report_file, report.as_json())
    _echo(report.human())
    if not report.ok:
        sys.exit(1)


def filestore_commands() -> list[click.Command]:
    """Top-level commands of the plug-in (FileStorePlugin.cli_commands)."""
    return [migrate_files_command, export_files_command]
