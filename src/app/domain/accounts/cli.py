"""`app users ...`: account commands for operators (the first administrator is made here)."""

from __future__ import annotations

import asyncio

import click


@click.group(name="users")
def users_group() -> None:
    """User accounts."""


async def _create_user(email: str, password: str, full_name: str | None, admin: bool) -> str:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from app.config import get_settings
    from app.domain.accounts.services import UserService

    settings = get_settings()
    engine = create_async_engine(settings.database_url)  # its own: the command runs its own event loop
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            service = UserService(session=session)
            user, _ = await service.register(
                email=email,
                password=password,
                full_name=full_name,
                settings=settings,
                role="admin" if admin else "user",
                status="active",
            )
            return f"{user.role} {user.email} created (id {user.id})"
    finally:
        await engine.dispose()


@users_group.command(name="create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="Make an administrator (SAQ monitor, every project).")
@click.option("--full-name", default=None)
@click.password_option("--password", help="Asked for when not given.")
def create_user_command(email: str, admin: bool, full_name: str | None, password: str) -> None:
    """Create an active account with EMAIL (verified, no e-mail sent)."""
    from app.lib.errors import ApplicationError

    try:
        click.echo(asyncio.run(_create_user(email, password, full_name, admin)), err=True)
    except ApplicationError as exc:
        details = "; ".join(f"{e['field']} {e['message']}" for e in exc.errors)
        raise click.ClickException(f"{exc.detail} {details}".strip()) from None
