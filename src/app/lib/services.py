"""The one service idiom: an advanced-alchemy repository service that also names its session."""

from __future__ import annotations

from typing import TypeVar

from advanced_alchemy.base import ModelProtocol
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy.ext.asyncio import AsyncSession

ModelT = TypeVar("ModelT", bound=ModelProtocol)


class RepositoryService(SQLAlchemyAsyncRepositoryService[ModelT]):
    """Subclass with an inner ``Repository`` and ``repository_type = Repository`` (see ProjectService)."""

    @property
    def db_session(self) -> AsyncSession:
        """The session of the unit of work this service writes in (its commit runs the after-commit work)."""
        session: AsyncSession = self.repository.session  # type: ignore[assignment]
        return session
