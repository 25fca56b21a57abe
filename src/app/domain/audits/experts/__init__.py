"""Audit experts: pure rules over a whole budget, one verdict per position per expert.

``audit_budget(positions, context)`` runs the registry ``DEFAULT_EXPERTS`` and the orchestrator.
"""

from app.domain.audits.experts.contract import (
    AuditContext,
    AuditPosition,
    AuditSettings,
    BudgetPricing,
    Expert,
    Issue,
    PositionAudit,
    RuleExpert,
    Status,
    Verdict,
    budget_pricing,
    has_price,
    is_priced,
)
from app.domain.audits.experts.orchestrator import DEFAULT_EXPERTS, audit_budget, combine, find_conflicts

__all__ = [
    "DEFAULT_EXPERTS",
    "AuditContext",
    "AuditPosition",
    "AuditSettings",
    "BudgetPricing",
    "Expert",
    "Issue",
    "PositionAudit",
    "RuleExpert",
    "Status",
    "Verdict",
    "audit_budget",
    "budget_pricing",
    "combine",
    "find_conflicts",
    "has_price",
    "is_priced",
]
