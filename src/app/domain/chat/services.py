"""Chat history of a project: messages are stored with the positions and documents they refer to, and
every user message gets the budget assistant's answer, stored beside it (`question_id` links them)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import func, select

from app.db.models import ChatMessage, Position, Project, ProjectDocument
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.services import budget_changed
from app.domain.chat.assistant import BudgetAssistant
from app.domain.chat.schemas import ChatMessageCreate, ChatMessageRead
from app.lib.errors import InvalidInput, field_error
from app.lib.events import project_channel
from app.lib.pagination import Page
from app.lib.services import RepositoryService
from app.lib.unit_of_work import LiveEvent, record


class ChatService(RepositoryService[ChatMessage]):
    class Repository(SQLAlchemyAsyncRepository[ChatMessage]):
        model_type = ChatMessage

    repository_type = Repository

    async def history(self, project_id: uuid.UUID, limit_offset: LimitOffset) -> Page[ChatMessageRead]:
        """A window of the history, newest last; `offset` counts back from the newest message, so
        offset=0 is the latest page (what a chat view shows first)."""
        rows, total = await self.get_many_and_count(
            limit_offset,
            project_id=project_id,
            order_by=[(ChatMessage.created_at, True), (ChatMessage.id, True)],
        )
        items = [ChatMessageRead.from_model(row) for row in reversed(rows)]
        return Page(items=items, total=total, limit=limit_offset.limit, offset=limit_offset.offset)

    async def converse(
        self,
        actor: SessionUser,
        project_id: uuid.UUID,
        data: ChatMessageCreate,
        assistant: BudgetAssistant,
        *,
        expected_version: int | None = None,
    ) -> tuple[ChatMessageRead, ChatMessageRead]:
        """Store the user's message, let the assistant answer it (a command may make a version or start a
        job), store the answer. `expected_version` (If-Match) is checked first: a stale one is refused
        with 412 before anything is stored, like the REST edits."""
        if expected_version is not None:
            current = await self.db_session.scalar(select(Project.current_version).where(Project.id == project_id))
            if current is not None and current != expected_version:
                raise budget_changed(current, expected_version)
        question = ChatMessageRead.from_model(await self.post_message(actor, project_id, data))
        # Read before the assistant runs: a refused command rolls the session back, which expires objects.
        reply = await assistant.reply(
            project_id,
            data.message,
            question_id=question.id,
            referenced_ids=question.position_ids,
            expected_version=expected_version,
        )
        answer = ChatMessage(
            project_id=project_id,
            user_id=None,
            role="assistant",
            message=reply.text,
            message_type="answer",
            position_ids=list(dict.fromkeys(position.id for position in reply.positions)),
            metadata_={
                "intent": reply.intent,
                "positions": msgspec.to_builtins(reply.positions),
                "data": msgspec.to_builtins(reply.data),
            },
            context=msgspec.to_builtins(reply.context),
            question_id=question.id,
            answer_confidence=Decimal(str(round(reply.confidence * 100, 2))),
            answer_source=reply.source,
            actions=msgspec.to_builtins(reply.actions),
        )
        await self._store(answer)
        return question, ChatMessageRead.from_model(answer)

    async def post_message(self, actor: SessionUser, project_id: uuid.UUID, data: ChatMessageCreate) -> ChatMessage:
        """Store a user's message; referenced positions and documents must belong to the project."""
        position_ids = list(dict.fromkeys(data.position_ids))
        document_ids = list(dict.fromkeys(data.document_ids))
        errors = []
        if position_ids:
            known = await self._known_position_refs(project_id, position_ids)
            if set(position_ids) - known:
                errors.append(field_error("position_ids", "refer to positions that are not in this project"))
        if document_ids:
            count = await self.db_session.scalar(
                select(func.count()).where(
                    ProjectDocument.project_id == project_id, ProjectDocument.id.in_(document_ids)
                )
            )
            if count != len(document_ids):
                errors.append(field_error("document_ids", "refer to documents that are not in this project"))
        if errors:
            raise InvalidInput("The message refers to things outside this project.", errors=errors)
        message = ChatMessage(
            project_id=project_id,
            user_id=actor.id,
            role="user",
            message=data.message,
            message_type=data.message_type,
            position_ids=position_ids,
            document_ids=document_ids,
        )
        await self._store(message)
        return message

    async def _store(self, message: ChatMessage) -> None:
        """Commit a message; its `chat_message` event goes to the project's clients after the commit."""
        self.db_session.add(message)
        await self.db_session.flush()
        event_data = msgspec.to_builtins(ChatMessageRead.from_model(message))
        record(self.db_session, LiveEvent(project_channel(message.project_id), "chat_message", event_data))
        await self.db_session.commit()

    async def _known_position_refs(self, project_id: uuid.UUID, refs: list[uuid.UUID]) -> set[uuid.UUID]:
        """Which of `refs` name a position of the project (a row id of any version, or a lineage id)."""
        rows = await self.db_session.execute(
            select(Position.id, Position.lineage_id).where(
                Position.project_id == project_id, (Position.id.in_(refs)) | (Position.lineage_id.in_(refs))
            )
        )
        known: set[uuid.UUID] = set()
        for position_id, lineage_id in rows:
            known.update((position_id, lineage_id))
        return known & set(refs)
