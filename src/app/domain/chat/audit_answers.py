"""Answers about the audit (which positions are red, why one is) and the "which one?" question.

Pure: the service passes the positions of the latest version and the verdicts of the latest audit
of each position's lineage (an audit annotates the version it ran on; later versions copy the
status, so the verdict is found through the lineage).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.domain.chat.answers import (
    LIST_LINES,
    MentionedPosition,
    Reply,
    VersionInfo,
    answer_context,
    nothing_matches,
    position_line,
    say,
    scope_phrase,
    scope_rows,
    source_of,
    source_text,
)
from app.domain.chat.budget_view import PositionRow, select
from app.domain.chat.intents import Intent
from app.domain.chat.language import count_of, format_number

_STATUS_NAMES = {
    "RED": ("červená", "red"),
    "AMBER": ("oranžová", "amber"),
    "GREEN": ("zelená", "green"),
    None: ("bez auditu", "not audited"),
}
_STATUS_ORDER = {"RED": 0, "AMBER": 1, "GREEN": 2}


def status_name(status: str | None, language: str) -> str:
    cs, en = _STATUS_NAMES.get(status, (status or "", status or ""))
    return say(language, cs, en)


@dataclass(frozen=True)
class VerdictRow:
    """One expert's verdict (or the orchestrator's) on a position, from audit_results."""

    lineage_id: uuid.UUID
    position_id: uuid.UUID
    expert_role: str
    status: str
    confidence: Decimal
    reasoning: str | None
    issues: list[dict[str, Any]] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    audited_version: int = 0
    resolved: bool = False  # a person marked the finding resolved (accepted, fixed or disputed)

    def first_issue(self) -> dict[str, Any] | None:
        ranked = sorted(
            (issue for issue in self.issues if isinstance(issue, dict)),
            key=lambda issue: _STATUS_ORDER.get(str(issue.get("severity", "")).upper(), 3),
        )
        return ranked[0] if ranked else None

    def suggestion(self) -> str | None:
        issue = self.first_issue()
        if issue and issue.get("suggestion"):
            return str(issue["suggestion"])
        return self.suggestions[0] if self.suggestions else None


def not_audited(version: VersionInfo, intent: Intent) -> Reply:
    return Reply(
        text=say(
            intent.language,
            f"Verze {version.number} zatím nebyla auditována, takže nevím, které položky jsou v pořádku. "
            "Napište „spusť audit“.",
            f'Version {version.number} has not been audited yet, so there are no findings. Say "run the audit".',
        ),
        intent=intent.name,
        confidence=intent.confidence,
        source=source_text(f"positions of version {version.number}: no audit status"),
        context=answer_context(version.number, intent, {}),
    )


def shown_findings(rows: Sequence[PositionRow], intent: Intent) -> list[PositionRow]:
    """The positions a findings answer lists (worst and costliest first): the ones whose verdicts it reads."""
    selection = select(rows, intent)
    scoped = scope_rows(rows, intent, selection)
    ordered = sorted(scoped, key=lambda row: (_STATUS_ORDER.get(row.status or "", 3), -(row.total_price or Decimal(0))))
    return ordered[: min(intent.limit or LIST_LINES, 50)]


def answer_findings(
    version: VersionInfo, rows: Sequence[PositionRow], intent: Intent, verdicts: Mapping[uuid.UUID, VerdictRow]
) -> Reply:
    """Positions of the wanted statuses with the audit's reason and suggestion for each."""
    language = intent.language
    if not any(row.status for row in rows):
        return not_audited(version, intent)
    selection = select(rows, intent)
    if not selection.rows:
        return nothing_matches(version, intent, selection, rows)
    scoped = scope_rows(rows, intent, selection)
    counts = Counter(row.status or "none" for row in selection.rows)  # "none": not audited
    shown = shown_findings(rows, intent)
    scope = scope_phrase({k: v for k, v in selection.filters.items() if k not in ("statuses",)}, language)
    wanted = ", ".join(status_name(status, language) for status in intent.statuses)
    audited = sorted({verdicts[row.lineage_id].audited_version for row in shown if row.lineage_id in verdicts})
    summary = ", ".join(
        f"{status_name(status, language)} {counts.get(status, 0)}" for status in ("RED", "AMBER", "GREEN")
    )
    heading = say(
        language,
        f"Verze {version.number}{' ' + scope if scope else ''}: {count_of(len(scoped), language)} ({wanted}). "
        f"Stav: {summary}.",
        f"Version {version.number}{' ' + scope if scope else ''}: {count_of(len(scoped), language)} ({wanted}). "
        f"Statuses: {summary}.",
    )
    if len(scoped) > len(shown):
        heading += " " + say(language, f"Prvních {len(shown)}:", f"The first {len(shown)}:")
    body = []
    for row in shown:
        line = f"- [{status_name(row.status, language)}] {position_line(row, language)}"
        verdict = verdicts.get(row.lineage_id)
        if verdict is not None and verdict.resolved:
            line += " " + say(language, "(vyřešeno)", "(resolved)")
        if verdict is not None:
            if verdict.reasoning:
                line += f"\n  {say(language, 'Důvod', 'Reason')}: {verdict.reasoning}"
            if suggestion := verdict.suggestion():
                line += f"\n  {say(language, 'Návrh', 'Suggestion')}: {suggestion}"
        body.append(line)
    text = heading + ("\n" + "\n".join(body) if body else "")
    if audited:
        text += "\n" + say(
            language,
            f"(Audit verze {', '.join(map(str, audited))}.)",
            f"(Audit of version {', '.join(map(str, audited))}.)",
        )
    return Reply(
        text=text,
        intent=intent.name,
        confidence=intent.confidence,
        source=source_of(version, len(scoped), selection.filters, what="rows with status"),
        context=answer_context(
            version.number,
            intent,
            selection.filters,
            matched=len(scoped),
            audited_versions=audited,
            counts=dict(counts),
        ),
        positions=[MentionedPosition.of(row) for row in shown],
        data={"count": len(scoped), "counts": dict(counts)},
    )


def ask_which(
    version: VersionInfo,
    intent: Intent,
    candidates: Sequence[PositionRow],
    filters: Mapping[str, object],
    *,
    action: str | None = None,
) -> Reply:
    """Several positions fit: list them and ask; nothing is changed."""
    language = intent.language
    shown = list(candidates[:LIST_LINES])
    text = say(
        language,
        f"Odpovídají {count_of(len(candidates), language)}, nevím, kterou myslíte — nic jsem neměnil. "
        "Upřesněte objekt (např. „v SO 2“), číslo položky nebo popis v uvozovkách:",
        f"{count_of(len(candidates), language)} match and I do not know which one you mean — nothing was changed. "
        'Name the object (e.g. "in SO 2"), the position number or the description in quotes:',
    )
    if action is None:
        text = text.replace(" — nic jsem neměnil", "").replace(" — nothing was changed", "")
    text += "\n" + "\n".join(
        f"- {('#' + row.position_number + ' ') if row.position_number else ''}{position_line(row, language)}"
        for row in shown
    )
    actions = []
    if action is not None:
        actions.append(
            {
                "action": action,
                "before": None,
                "after": None,
                "result": {
                    "status": "ambiguous",
                    "candidates": [str(row.lineage_id) for row in candidates[:50]],
                },
            }
        )
    return Reply(
        text=text,
        intent=intent.name,
        confidence=intent.confidence,
        source=source_of(version, len(candidates), filters, what="candidate rows"),
        context=answer_context(version.number, intent, filters, matched=len(candidates), ambiguous=True),
        positions=[MentionedPosition.of(row) for row in shown],
        actions=actions,
    )


def answer_explain(
    version: VersionInfo,
    intent: Intent,
    row: PositionRow,
    verdicts: Sequence[VerdictRow],
    filters: Mapping[str, object],
) -> Reply:
    """Why one position has its status: the orchestrator's reason, then each expert that objected."""
    language = intent.language
    final = next((v for v in verdicts if v.expert_role == "orchestrator"), None)
    head = position_line(row, language)
    if final is None:
        text = say(
            language,
            f"{head}\nTato položka zatím nemá výsledek auditu (stav: {status_name(row.status, language)}). "
            "Napište „spusť audit“.",
            f"{head}\nThis position has no audit result yet (status: {status_name(row.status, language)}). "
            'Say "run the audit".',
        )
        source = source_text(f"positions of version {version.number}: 1 row, no audit result")
    else:
        confidence = format_number(final.confidence, language)  # "60" / "62,5", not "60.00"
        text = say(
            language,
            f"{head}\nStav: {status_name(final.status, language)} (jistota {confidence} %, audit verze "
            f"{final.audited_version}). {final.reasoning or ''}".rstrip(),
            f"{head}\nStatus: {status_name(final.status, language)} (confidence {confidence} %, audit of "
            f"version {final.audited_version}). {final.reasoning or ''}".rstrip(),
        )
        for verdict in verdicts:
            if verdict.expert_role == "orchestrator" or verdict.status == "GREEN":
                continue
            text += f"\n- {verdict.expert_role} [{status_name(verdict.status, language)}]: {verdict.reasoning or ''}"
            for issue in verdict.issues:
                if not isinstance(issue, dict):
                    continue
                # An expert with one issue gives it as its reasoning: said once, with the suggestion after it.
                if issue.get("description") != verdict.reasoning:
                    text += f"\n  · {issue.get('description', '')}"
                if issue.get("suggestion"):
                    text += f" → {issue['suggestion']}"
        if final.status != row.status and row.status is not None:
            text += "\n" + say(
                language,
                "Pozor: položka se od auditu změnila; spusťte audit znovu.",
                "Note: the position changed since the audit; run the audit again.",
            )
        source = source_text(
            f"audit_results of version {final.audited_version}: {len(verdicts)} verdicts on {row.code or 'position'}"
        )
    return Reply(
        text=text,
        intent=intent.name,
        confidence=intent.confidence,
        source=source,
        context=answer_context(
            version.number, intent, filters, matched=1, audited_version=final.audited_version if final else None
        ),
        positions=[MentionedPosition.of(row)],
        data={
            "status": final.status if final else row.status,
            "experts": {v.expert_role: v.status for v in verdicts},
        },
    )
