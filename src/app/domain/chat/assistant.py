"""The budget assistant: answers a chat message from the project's data, or carries out a command.

Deterministic, no language model. `parse_message` reads the intent; this module runs the queries
it needs (the latest version's positions in one query, audit verdicts and older versions only
when asked) and hands plain rows to the pure answer functions. Commands go through the SAME
services as the REST API: a budget edit is `BudgetService.create_version` (trigger `chat_command`,
the project row lock, the If-Match check against the version the assistant read), "run the audit"
and "export" are `start_project_job`, exactly what `POST /audit` and `POST /export` call.
"""

from __future__ import annotations

import datetime
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import msgspec
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db.models import AuditResult, BudgetVersion, Position, Project, utc_now
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.changes import ChangeSet
from app.domain.budgets.queries import IN_VERSION_SQL, in_version, in_version_id
from app.domain.budgets.services import BudgetService, position_announcement
from app.domain.chat.answers import (
    MentionedPosition,
    Reply,
    VersionInfo,
    answer_context,
    answer_find,
    answer_help,
    answer_ratio,
    answer_total,
    answer_unreadable,
    no_budget,
    nothing_matches,
    position_line,
    say,
    source_text,
)
from app.domain.chat.audit_answers import VerdictRow, answer_explain, answer_findings, ask_which, shown_findings
from app.domain.chat.budget_view import PositionRow, Selection
from app.domain.chat.budget_view import select as select_rows
from app.domain.chat.change_answers import answer_changes, since_moment
from app.domain.chat.intents import Intent, parse_message
from app.domain.chat.language import format_money, format_number
from app.domain.exports.schemas import ExportRequest
from app.domain.exports.services import start_export
from app.domain.jobs.queues import JobQueues
from app.domain.jobs.services import start_project_job
from app.domain.projects.changes import ProjectEdited
from app.lib.errors import InvalidInput, NotFound, PreconditionFailed
from app.lib.events import EventPublisher
from app.lib.unit_of_work import record

ROW_COLUMNS = (
    Position.id,
    Position.lineage_id,
    Position.position_number,
    Position.code,
    Position.description,
    Position.category,
    Position.metadata_["object_code"].astext.label("object_code"),
    Position.unit,
    Position.quantity,
    Position.unit_price,
    Position.total_price,
    Position.status,
    Position.metadata_["object_name"].astext.label("object_name"),
)
# The same columns as ROW_COLUMNS (a test holds them equal), in budget order, for asyncpg.
VERSION_ROWS_SQL = (
    "SELECT p.id, p.lineage_id, p.position_number, p.code, p.description, p.category, p.metadata->>'object_code',"
    " p.unit, p.quantity, p.unit_price, p.total_price, p.status, p.metadata->>'object_name'"
    f" FROM budget_versions v JOIN positions p ON {IN_VERSION_SQL} WHERE v.id = $1"
    " ORDER BY p.source_line ASC NULLS LAST, p.created_at ASC, p.lineage_id ASC"
)
_EDITED_FIELD = {"set_quantity": "quantity", "set_price": "unit_price"}
EDIT_ATTEMPTS = 6  # a command retried on a moved-on budget: one per competing edit, bounded


def _conflicted(reply: Reply) -> bool:
    return bool(reply.actions) and reply.actions[0].get("result", {}).get("status") == "conflict"


# (row count, newest updated_at) of a version's positions: changes whenever any of them is written.
Fingerprint = tuple[int, Any]


class _VersionRowCache:
    """The last few versions' rows in this process, each checked against the database before use.

    A version's positions are immutable except for what audit and enrichment write in place, and
    every such write bumps `positions.updated_at` (a trigger). So a cached version is used only when
    its (row count, newest updated_at) still match — one index-only aggregate instead of reading and
    preparing 2,000 rows again for every question of a conversation.
    """

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self.entries: OrderedDict[uuid.UUID, tuple[Fingerprint, list[PositionRow]]] = OrderedDict()

    def get(self, version_id: uuid.UUID, fingerprint: Fingerprint) -> list[PositionRow] | None:
        entry = self.entries.get(version_id)
        if entry is None or entry[0] != fingerprint:
            return None
        self.entries.move_to_end(version_id)
        return entry[1]

    def put(self, version_id: uuid.UUID, fingerprint: Fingerprint, rows: list[PositionRow]) -> None:
        self.entries[version_id] = (fingerprint, rows)
        self.entries.move_to_end(version_id)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        self.entries.clear()


version_row_cache = _VersionRowCache()


async def version_rows(
    session: AsyncSession, version_id: uuid.UUID, *, fingerprint: Fingerprint | None = None
) -> list[PositionRow]:
    """A version's positions as the assistant reads them, in budget order (one query, or the cache
    when the version's rows have not been written since; `fingerprint` when the caller read it)."""
    if fingerprint is None:
        count, newest = (
            await session.execute(select(func.count(), func.max(Position.updated_at)).where(in_version_id(version_id)))
        ).one()
        fingerprint = (count, newest)
    cached = version_row_cache.get(version_id, fingerprint)
    if cached is not None:
        return cached
    # asyncpg straight on the session's connection: 2,000 rows decode in C and build positionally
    # (through SQLAlchemy's result processing the same read costs several times the CPU).
    connection = await session.connection()
    driver: Any = (await connection.get_raw_connection()).driver_connection
    rows = [PositionRow(*record) for record in await driver.fetch(VERSION_ROWS_SQL, version_id)]
    version_row_cache.put(version_id, fingerprint, rows)
    return rows


class BudgetAssistant:
    """Answers one message of one project on behalf of `actor` (who may see the project)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        actor: SessionUser,
        redis: Redis | None = None,
        events: EventPublisher | None = None,
        settings: Settings | None = None,
        queues: JobQueues | None = None,
        now: Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        self.session = session
        self.actor = actor
        self.redis = redis
        self.events = events
        self.settings = settings
        self.queues = queues
        self.now = now

    async def reply(
        self,
        project_id: uuid.UUID,
        message: str,
        *,
        question_id: uuid.UUID | None = None,
        referenced_ids: Sequence[uuid.UUID] = (),
        expected_version: int | None = None,
    ) -> Reply:
        intent = parse_message(message)
        if intent.name == "help":
            return answer_help(intent)
        if intent.name == "unknown":
            return answer_help(intent, understood=False)
        if intent.unreadable:
            return answer_unreadable(intent)
        if intent.name in ("run_audit", "export"):
            return await self._start_job(project_id, intent)
        latest = await self._latest_version(project_id)
        if latest is None:
            return no_budget(intent)
        info, fingerprint = latest
        if intent.name == "changes":
            return await self._changes(project_id, info, intent)
        rows = await version_rows(self.session, info.id, fingerprint=fingerprint)
        if intent.name == "total":
            return answer_total(info, rows, intent)
        if intent.name == "find":
            return answer_find(info, rows, intent)
        if intent.name == "ratio":
            return answer_ratio(info, rows, intent)
        if intent.name == "findings":
            return await self._findings(project_id, info, rows, intent)
        if intent.name == "explain":
            return await self._explain(project_id, info, rows, intent, referenced_ids)
        reply = await self._edit(project_id, info, rows, intent, question_id, referenced_ids, expected_version)
        for _ in range(EDIT_ATTEMPTS - 1):
            # Someone made a version between our read and our write. Without the user's If-Match the
            # command is read again against the new version (the position named again by its code,
            # number or words — an edit of another position does not block this one); with it, no.
            if expected_version is not None or not _conflicted(reply):
                break
            latest = await self._latest_version(project_id)
            if latest is None:
                break
            info, fingerprint = latest
            rows = await version_rows(self.session, info.id, fingerprint=fingerprint)
            reply = await self._edit(project_id, info, rows, intent, question_id, referenced_ids, None)
        return reply

    # ------------------------------------------------------------------------------------ reading

    async def _latest_version(self, project_id: uuid.UUID) -> tuple[VersionInfo, Fingerprint] | None:
        """The project's latest version and its rows' fingerprint, in one round trip (None: no budget yet)."""
        in_version_ = in_version(BudgetVersion)
        found = (
            await self.session.execute(
                select(
                    BudgetVersion.id,
                    BudgetVersion.version,
                    BudgetVersion.total_cost,
                    BudgetVersion.total_positions,
                    select(func.count()).where(in_version_).scalar_subquery(),
                    select(func.max(Position.updated_at)).where(in_version_).scalar_subquery(),
                )
                .join(Project, Project.id == BudgetVersion.project_id)
                .where(Project.id == project_id, BudgetVersion.version == Project.current_version)
            )
        ).one_or_none()
        if found is None:
            return None
        version_id, number, total_cost, total_positions, count, newest = found
        info = VersionInfo(number=number, id=version_id, total_cost=total_cost, total_positions=total_positions)
        return info, (count, newest)

    async def _version_id(self, project_id: uuid.UUID, number: int) -> uuid.UUID | None:
        found: uuid.UUID | None = await self.session.scalar(
            select(BudgetVersion.id).where(BudgetVersion.project_id == project_id, BudgetVersion.version == number)
        )
        return found

    async def _verdicts(
        self, project_id: uuid.UUID, lineages: Sequence[uuid.UUID], *, roles: Sequence[str] = ("orchestrator",)
    ) -> list[VerdictRow]:
        """Verdicts on these lineages from the latest audit of each (newest audited version first)."""
        if not lineages:
            return []
        # Two steps with plans that stay index lookups: the lineages' rows in the project's history
        # ((lineage_id, valid_to) is indexed), then their verdicts. A row is shared by a range of versions,
        # so the audited version is the verdict's own (audit_results.version_id), not the row's first
        # (that one only for a verdict without a version).
        positions = (
            await self.session.execute(
                select(Position.id, Position.lineage_id, Position.valid_from).where(
                    Position.project_id == project_id, Position.lineage_id.in_(list(lineages))
                )
            )
        ).all()
        if not positions:
            return []
        position_lineage = {position_id: (lineage_id, first) for position_id, lineage_id, first in positions}
        statement = (
            select(
                AuditResult.position_id,
                AuditResult.expert_role,
                AuditResult.status,
                AuditResult.confidence,
                AuditResult.reasoning,
                AuditResult.issues,
                AuditResult.suggestions,
                AuditResult.resolved,
                BudgetVersion.version,
            )
            .outerjoin(BudgetVersion, BudgetVersion.id == AuditResult.version_id)
            .where(AuditResult.position_id.in_(list(position_lineage)), AuditResult.expert_role.in_(list(roles)))
        )
        rows = [
            (*row[:8], row[8] if row[8] is not None else position_lineage[row[0]][1])
            for row in (await self.session.execute(statement)).all()
        ]
        rows.sort(key=lambda row: -row[8])
        latest: dict[uuid.UUID, int] = {}
        verdicts = []
        for position_id, role, status, confidence, reasoning, issues, suggestions, resolved, number in rows:
            lineage_id = position_lineage[position_id][0]
            if latest.setdefault(lineage_id, number) != number:
                continue  # an older audit of the same lineage
            verdicts.append(
                VerdictRow(
                    lineage_id=lineage_id,
                    position_id=position_id,
                    expert_role=role,
                    status=status,
                    confidence=Decimal(confidence),
                    reasoning=reasoning,
                    issues=list(issues or []),
                    suggestions=[str(s) for s in suggestions or []],
                    audited_version=number,
                    resolved=bool(resolved),
                )
            )
        return verdicts

    async def _findings(
        self, project_id: uuid.UUID, info: VersionInfo, rows: list[PositionRow], intent: Intent
    ) -> Reply:
        shown = [row.lineage_id for row in shown_findings(rows, intent)]
        verdicts = {v.lineage_id: v for v in await self._verdicts(project_id, shown)}
        return answer_findings(info, rows, intent, verdicts)

    def _targets(
        self, rows: list[PositionRow], intent: Intent, referenced_ids: Sequence[uuid.UUID]
    ) -> tuple[list[PositionRow], Selection]:
        """The positions a message points at: by code, number, quoted text or words (within its object),
        or — when it names none — the positions sent with the message (`position_ids`)."""
        if not intent.has_position_ref and referenced_ids:
            wanted = set(referenced_ids)
            scoped = select_rows(rows, msgspec.structs.replace(intent, terms=()))
            chosen = [row for row in scoped.rows if row.id in wanted or row.lineage_id in wanted]
            return chosen, Selection(rows=chosen, filters={**scoped.filters, "position_ids": len(wanted)})
        selection = select_rows(rows, intent)
        return selection.rows, selection

    async def _explain(
        self,
        project_id: uuid.UUID,
        info: VersionInfo,
        rows: list[PositionRow],
        intent: Intent,
        referenced_ids: Sequence[uuid.UUID],
    ) -> Reply:
        targets, selection = self._targets(rows, intent, referenced_ids)
        if not targets:
            return nothing_matches(info, intent, selection, rows)
        if len(targets) > 1:
            return ask_which(info, intent, targets, selection.filters)
        row = targets[0]
        roles = ("orchestrator", "validator", "standards", "concrete", "cost", "structural")
        verdicts = await self._verdicts(project_id, [row.lineage_id], roles=roles)
        order = {role: index for index, role in enumerate(roles)}
        verdicts.sort(key=lambda v: order.get(v.expert_role, len(order)))
        return answer_explain(info, intent, row, verdicts, selection.filters)

    async def _changes(self, project_id: uuid.UUID, latest: VersionInfo, intent: Intent) -> Reply:
        language = intent.language
        to_number = intent.version if intent.version is not None else latest.number
        if intent.since:
            moment = since_moment(intent.since, self.now())
            if moment is None:
                return self._no_such(intent, latest.number, intent.since)
            base = await self.session.scalar(
                select(BudgetVersion.version)
                .where(BudgetVersion.project_id == project_id, BudgetVersion.created_at < moment)
                .order_by(BudgetVersion.version.desc())
                .limit(1)
            )
            from_number = base or 0
            when = moment.strftime("%Y-%m-%d %H:%M UTC")
            heading_cs = f"Od {when} (verze {from_number} → {to_number})"
            heading_en = f"Since {when} (version {from_number} → {to_number})"
        elif intent.version_from is not None:
            from_number = intent.version_from
            heading_cs = f"Verze {from_number} → {to_number}"
            heading_en = f"Version {from_number} → {to_number}"
        else:
            from_number = to_number - 1
            heading_cs = f"Verze {to_number} (oproti verzi {from_number})"
            heading_en = f"Version {to_number} (against version {from_number})"
        if not 1 <= to_number <= latest.number or not 0 <= from_number <= latest.number:
            wrong = to_number if not 1 <= to_number <= latest.number else from_number
            return self._no_such(intent, latest.number, str(wrong))
        target_id = latest.id if to_number == latest.number else await self._version_id(project_id, to_number)
        base_id = await self._version_id(project_id, from_number) if from_number >= 1 else None
        if target_id is None:
            return self._no_such(intent, latest.number, str(to_number))
        new = await version_rows(self.session, target_id)
        old = await version_rows(self.session, base_id) if base_id is not None else []
        between = (
            await self.session.execute(
                select(BudgetVersion.version, BudgetVersion.trigger_type, BudgetVersion.created_at)
                .where(
                    BudgetVersion.project_id == project_id,
                    BudgetVersion.version > from_number,
                    BudgetVersion.version <= to_number,
                )
                .order_by(BudgetVersion.version)
                .limit(50)
            )
        ).all()
        triggers = [
            {"version": number, "trigger_type": trigger, "created_at": created_at.isoformat()}
            for number, trigger, created_at in between
        ]
        if len(triggers) == 1:
            detail = f"{triggers[0]['trigger_type']}, {between[0][2].strftime('%Y-%m-%d %H:%M UTC')}"
            heading_cs += f" [{detail}]"
            heading_en += f" [{detail}]"
        if from_number == to_number:
            heading_cs = say(language, heading_cs, heading_en)
        return answer_changes(
            intent,
            from_version=from_number,
            to_version=to_number,
            old=old,
            new=new,
            heading_cs=heading_cs,
            heading_en=heading_en,
            versions_between=triggers,
        )

    def _no_such(self, intent: Intent, latest: int, what: str) -> Reply:
        return Reply(
            text=say(
                intent.language,
                f"Verze nebo datum '{what}' v tomto projektu není; poslední verze je {latest}.",
                f"There is no version or date '{what}' in this project; the latest version is {latest}.",
            ),
            intent=intent.name,
            confidence=intent.confidence,
            source=source_text(f"budget versions: 1..{latest}"),
            context={"version": latest, "intent": intent.name, "params": intent.params()},
        )

    # ----------------------------------------------------------------------------------- commands

    async def _edit(
        self,
        project_id: uuid.UUID,
        info: VersionInfo,
        rows: list[PositionRow],
        intent: Intent,
        question_id: uuid.UUID | None,
        referenced_ids: Sequence[uuid.UUID],
        expected_version: int | None,
    ) -> Reply:
        """Change or remove one position → a new version; ambiguous or incomplete → ask, change nothing."""
        language = intent.language
        missing = [m for m in intent.missing if not (m == "position" and referenced_ids)]
        if missing:
            return self._incomplete(info, intent, missing)
        targets, selection = self._targets(rows, intent, referenced_ids)
        if not targets:
            return nothing_matches(info, intent, selection, rows)
        if len(targets) > 1:
            return ask_which(info, intent, targets, selection.filters, action=intent.name)
        row = targets[0]
        field = _EDITED_FIELD.get(intent.name)
        if field is not None:
            changes = ChangeSet(modified={row.lineage_id: {field: intent.value}})
            before: dict[str, Any] | None = {field: _json(getattr(row, field)), "total_price": _json(row.total_price)}
        else:
            changes = ChangeSet(removed=[row.lineage_id])
            before = _summary(row)
        service = BudgetService(session=self.session)
        try:
            result = await service.create_version(
                project_id,
                "chat_command",
                {"action": intent.name, "lineage_id": str(row.lineage_id), "question_id": _json(question_id)},
                changes=changes,
                user_id=self.actor.id,
                actor=self.actor,
                # The user's If-Match, else the version this answer was read from: a command never
                # applies to a budget that moved on after the assistant looked at it.
                expected_version=expected_version if expected_version is not None else info.number,
            )
        except PreconditionFailed as exc:  # someone made a version since this answer read the budget
            await self.session.rollback()
            return self._refused(info, intent, row, before, "conflict", str(exc.detail))
        except InvalidInput as exc:
            await self.session.rollback()
            problems = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors or []) or str(exc.detail)
            return self._refused(info, intent, row, before, "invalid", problems)
        new_number = result.version.version
        after_row = None
        if field is not None:
            found = (
                await self.session.execute(
                    select(*ROW_COLUMNS).where(in_version(result.version), Position.lineage_id == row.lineage_id)
                )
            ).one_or_none()
            after_row = PositionRow(*found) if found is not None else None
        done = "modified" if field else "removed"
        after_id = after_row.id if after_row is not None else None
        record(self.session, position_announcement(project_id, new_number, done, row.lineage_id, after_id))
        record(self.session, ProjectEdited(project_id))
        await self.session.commit()  # the version, then (after the commit) its events and the cache
        after = (
            {field: _json(getattr(after_row, field)), "total_price": _json(after_row.total_price)}
            if field and after_row
            else None
        )
        outcome = {
            "status": "applied",
            "version": new_number,
            "total_cost": str(result.version.total_cost),
            "delta_cost": str(result.version.delta_cost),
        }
        action = {
            "action": intent.name,
            "position": {"lineage_id": str(row.lineage_id), "code": row.code, "object_code": row.object_code},
            "before": before,
            "after": after,
            "result": outcome,
        }
        delta = result.version.delta_cost
        sign = "+" if delta > 0 else ""
        label = " ".join(p for p in (row.code, row.description[:60]) if p) + (
            f" ({row.object_code})" if row.object_code else ""
        )
        if field == "quantity" and after_row is not None:
            change_cs = (
                f"množství {_amount(row.quantity, language)} → {_amount(after_row.quantity, language)} {row.unit or ''}"
            ).strip()
            change_en = (
                f"quantity {_amount(row.quantity, language)} → {_amount(after_row.quantity, language)} {row.unit or ''}"
            ).strip()
        elif field == "unit_price" and after_row is not None:
            change_cs = f"jednotková cena {_money(row.unit_price, language)} → {_money(after_row.unit_price, language)}"
            change_en = f"unit price {_money(row.unit_price, language)} → {_money(after_row.unit_price, language)}"
        else:
            change_cs, change_en = "odebrána", "removed"
        text = say(
            language,
            f"Hotovo: {label}: {change_cs}. Nová verze {new_number}, "
            f"rozdíl ceny {sign}{format_money(delta, language)}, "
            f"rozpočet celkem {format_money(result.version.total_cost, language)}.",
            f"Done: {label}: {change_en}. New version {new_number}, "
            f"cost delta {sign}{format_money(delta, language)}, "
            f"budget total {format_money(result.version.total_cost, language)}.",
        )
        mentioned = [after_row] if after_row is not None else [row]
        return Reply(
            text=text,
            intent=intent.name,
            confidence=intent.confidence,
            source=source_text(f"version {info.number} → {new_number}: 1 row {intent.name} by chat_command"),
            context=answer_context(new_number, intent, selection.filters, previous_version=info.number),
            positions=[MentionedPosition.of(r) for r in mentioned],
            actions=[action],
            data=outcome,
        )

    def _incomplete(self, info: VersionInfo, intent: Intent, missing: list[str]) -> Reply:
        language = intent.language
        needs = []
        if "position" in missing:
            needs.append(say(language, "kterou položku (kód, číslo nebo popis v uvozovkách)", "which position"))
        if "value" in missing:
            needs.append(say(language, "novou hodnotu („na 35“)", 'the new value ("to 35")'))
        text = say(
            language,
            f"Nic jsem neměnil: napište {' a '.join(needs)}. Např. „Změň množství 411321414 v SO 1 na 35“.",
            f'Nothing was changed: tell me {" and ".join(needs)}. E.g. "Set the quantity of 411321414 in SO 1 to 35".',
        )
        return Reply(
            text=text,
            intent=intent.name,
            confidence=intent.confidence,
            source="the message: incomplete command",
            context=answer_context(info.number, intent, {}, missing=missing),
            actions=[{"action": intent.name, "before": None, "after": None, "result": {"status": "incomplete"}}],
        )

    def _refused(
        self,
        info: VersionInfo,
        intent: Intent,
        row: PositionRow,
        before: dict[str, Any] | None,
        status: str,
        detail: str,
    ) -> Reply:
        language = intent.language
        text = say(
            language,
            f"Nic jsem neměnil ({position_line(row, language)}): {detail}",
            f"Nothing was changed ({position_line(row, language)}): {detail}",
        )
        return Reply(
            text=text,
            intent=intent.name,
            confidence=intent.confidence,
            source=source_text(f"positions of version {info.number}: 1 row, command refused ({status})"),
            context=answer_context(info.number, intent, {}),
            positions=[MentionedPosition.of(row)],
            actions=[
                {
                    "action": intent.name,
                    "position": {"lineage_id": str(row.lineage_id), "code": row.code},
                    "before": before,
                    "after": None,
                    "result": {"status": status, "detail": detail},
                }
            ],
        )

    async def _start_job(self, project_id: uuid.UUID, intent: Intent) -> Reply:
        """The same job as POST /api/projects/{id}/audit or /export (a missing version refused alike)."""
        language = intent.language
        payload: dict[str, Any] = {}
        if intent.name == "run_audit":
            job_type = "audit_project"
            row = await start_project_job(
                self.session,
                self.actor,
                project_id,
                job_type=job_type,
                payload=payload,
                settings=self.settings,
                queues=self.queues,
            )
        else:
            try:
                request = msgspec.convert({"format": intent.export_format, "version": intent.version}, ExportRequest)
                row = await start_export(
                    self.session, self.actor, project_id, request, settings=self.settings, queues=self.queues
                )
            except (msgspec.ValidationError, NotFound) as exc:
                reason = exc.detail if isinstance(exc, NotFound) else str(exc)
                return Reply(
                    text=say(language, f"Export nelze spustit: {reason}", f"The export cannot start: {reason}"),
                    intent=intent.name,
                    confidence=intent.confidence,
                    source="the message: export refused",
                    context={"intent": intent.name, "params": intent.params()},
                    actions=[{"action": "export", "before": None, "after": None, "result": {"status": "invalid"}}],
                )
            job_type, payload = "export", msgspec.to_builtins(request)
        if job_type == "audit_project":
            text = say(
                language,
                f"Audit běží (úloha {row.id}). Průběh přichází jako události „progress“; potom se zeptejte "
                "„Které položky jsou červené?“.",
                f'The audit is running (job {row.id}). Progress arrives as "progress" events; then ask '
                '"Which positions are red?".',
            )
        else:
            text = say(
                language,
                f"Export do {payload['format']} běží (úloha {row.id}); soubor bude na /api/jobs/{row.id}/artifact.",
                f"The {payload['format']} export is running (job {row.id}); the file will be at "
                f"/api/jobs/{row.id}/artifact.",
            )
        return Reply(
            text=text,
            intent=intent.name,
            confidence=intent.confidence,
            source=source_text(f"background_jobs: {job_type} job {row.id}"),
            context={"intent": intent.name, "params": intent.params(), "job_id": str(row.id)},
            actions=[
                {
                    "action": intent.name,
                    "before": None,
                    "after": None,
                    "result": {"status": row.status, "job_id": str(row.id), "job_type": job_type, "payload": payload},
                }
            ],
            data={"job_id": str(row.id)},
        )


def _json(value: Any) -> Any:
    return msgspec.to_builtins(value)


def _summary(row: PositionRow) -> dict[str, Any]:
    return {
        "code": row.code,
        "description": row.description,
        "object_code": row.object_code,
        "unit": row.unit,
        "quantity": _json(row.quantity),
        "unit_price": _json(row.unit_price),
        "total_price": _json(row.total_price),
    }


def _amount(value: Decimal | None, language: str) -> str:
    return format_number(value, language, 4) if value is not None else "—"


def _money(value: Decimal | None, language: str) -> str:
    return format_money(value, language) if value is not None else "—"
