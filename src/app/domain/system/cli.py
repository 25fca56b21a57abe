"""Operations commands: `app db backup`, `app db restore` (pg_dump -Fc / pg_restore, app.domain.system.backup)
and `app schema openapi` (the document the API serves)."""

from __future__ import annotations

from pathlib import Path

import click
import msgspec
from litestar import Litestar
from litestar.serialization import encode_json, get_serializer

from app.config import get_settings
from app.lib.infra import run_command


@click.command(name="backup")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Default: BACKUP_DIR/<UTC time>.dump")
@click.option("--prune/--no-prune", default=False, help="Also delete backups older than BACKUP_RETENTION_DAYS.")
def db_backup_command(output: Path | None, prune: bool) -> None:
    """Back the database up with pg_dump -Fc (restore with `app db restore FILE`)."""
    from app.domain.system.backup import BackupError, create_backup, prune_backups

    settings = get_settings()
    try:
        result = run_command(settings, lambda: create_backup(settings, output))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    tool = Path(result.tool).name
    click.echo(
        f"backup written: {result.path} ({result.size} bytes, {tool} for PostgreSQL {result.server_version})", err=True
    )
    if prune:
        for path in prune_backups(Path(settings.BACKUP_DIR), settings.BACKUP_RETENTION_DAYS):
            click.echo(f"pruned {path}", err=True)


@click.command(name="restore")
@click.argument("backup_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--clean", is_flag=True, help="Drop the existing objects first (restore over a live database).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def db_restore_command(backup_file: Path, clean: bool, yes: bool) -> None:
    """Restore a backup made by `app db backup` into the configured database (pg_restore)."""
    from app.domain.system.backup import BackupError, restore_backup

    settings = get_settings()
    if not yes:
        click.confirm(f"Restore {backup_file} into the configured database?", abort=True, err=True)
    try:
        tool = run_command(settings, lambda: restore_backup(settings, backup_file, clean=clean))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {backup_file} with {tool}", err=True)


def register_db_commands(db_group: click.Group) -> None:
    """`app db backup` / `app db restore`."""
    db_group.add_command(db_backup_command)
    db_group.add_command(db_restore_command)


@click.command(name="openapi")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("openapi_schema.json"),
    show_default=True,
    help="Output file; a .yaml or .yml name writes YAML.",
)
def openapi_command(app: Litestar, output: Path) -> None:
    """Write the OpenAPI document the API serves at /schema/openapi.json."""
    from app.domain.system.openapi import honest_openapi

    # The render plugins' document (corrected by app.domain.system.openapi), not `app.openapi_schema`
    # that Litestar's own command writes.
    document = honest_openapi(app)
    if output.suffix in (".yml", ".yaml"):
        try:
            content = msgspec.yaml.encode(document)
        except ImportError as exc:  # pyyaml is optional
            raise click.ClickException(str(exc)) from None
    else:
        content = msgspec.json.format(encode_json(document, serializer=get_serializer(app.type_encoders)), indent=4)
    output.write_bytes(content)
