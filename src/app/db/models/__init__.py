"""All SQLAlchemy models, importable from one place (Alembic autogenerate reads this metadata)."""

from app.db.models._base import Base, utc_now
from app.db.models.accounts import OutboxMessage, User
from app.db.models.audits import AuditResult, FindingResolution
from app.db.models.budgets import BudgetVersion, Position
from app.db.models.chat import ChatMessage
from app.db.models.jobs import BackgroundJob
from app.db.models.kb import CatalogItem, KBCache, ReferenceSet
from app.db.models.projects import Project, ProjectDocument

__all__ = [
    "AuditResult",
    "BackgroundJob",
    "Base",
    "BudgetVersion",
    "CatalogItem",
    "ChatMessage",
    "FindingResolution",
    "KBCache",
    "OutboxMessage",
    "Position",
    "Project",
    "ProjectDocument",
    "ReferenceSet",
    "User",
    "utc_now",
]
