"""HTTP face of the project chat: history, and posting a message that the budget assistant answers.

The answer (and the question) also go to the project's live channel as `chat_message` events; a
command's new version sends `budget_recalculated` and `position_updated` like a REST edit.
"""

from __future__ import annotations

import uuid

from advanced_alchemy.extensions.litestar.providers import create_service_dependencies
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED
from redis.asyncio import Redis

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.budgets.controllers import IfMatch, parse_if_match
from app.domain.chat.assistant import BudgetAssistant
from app.domain.chat.schemas import ChatExchange, ChatMessageCreate, ChatMessageRead
from app.domain.chat.services import ChatService
from app.domain.jobs.queues import JobQueues
from app.domain.projects.guards import WRITES_PROJECT_DATA
from app.domain.projects.services import get_project_state
from app.lib.events import EventPublisher
from app.lib.pagination import Page, limit_offset_dependency


class ChatController(Controller):
    path = "/api/projects/{project_id:uuid}/chat"
    tags = ["chat"]
    dependencies = {**create_service_dependencies(ChatService, key="chat_service"), **limit_offset_dependency()}

    @get()
    async def chat_history(
        self,
        project_id: FromPath[uuid.UUID],
        current_user: NamedDependency[SessionUser],
        chat_service: NamedDependency[ChatService],
        limit_offset: NamedDependency[LimitOffset],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
    ) -> Page[ChatMessageRead]:
        """History, newest last; `offset` counts back from the newest message (0 = the latest page)."""
        await get_project_state(
            chat_service.db_session, redis, current_user, project_id, ttl_seconds=settings.CACHE_TTL_SECONDS
        )
        return await chat_service.history(project_id, limit_offset)

    @post(status_code=HTTP_201_CREATED, opt={WRITES_PROJECT_DATA: True})
    async def post_chat_message(
        self,
        project_id: FromPath[uuid.UUID],
        data: JSONBody[ChatMessageCreate],
        current_user: NamedDependency[SessionUser],
        chat_service: NamedDependency[ChatService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        events: NamedDependency[EventPublisher],
        job_queues: NamedDependency[JobQueues],
        if_match: IfMatch = None,
    ) -> ChatExchange:
        """Store a message (`position_ids` / `document_ids` must be of this project) and the assistant's answer.

        Questions are answered from the project's data; commands ("Změň množství 411321414 v SO 1 na 35",
        "smaž položku …", "spusť audit", "exportuj do xlsx") make a version or start a job through the same
        services as the REST endpoints. `If-Match: <version>` refuses a stale message with 412.
        """
        await get_project_state(
            chat_service.db_session, redis, current_user, project_id, ttl_seconds=settings.CACHE_TTL_SECONDS
        )
        assistant = BudgetAssistant(
            chat_service.db_session,
            actor=current_user,
            redis=redis,
            events=events,
            settings=settings,
            queues=job_queues,
        )
        message, reply = await chat_service.converse(
            current_user, project_id, data, assistant, expected_version=parse_if_match(if_match)
        )
        return ChatExchange(message=message, assistant=reply)
