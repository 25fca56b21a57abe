"""HTTP face of the project chat: history and posting a message (the assistant comes later)."""

from __future__ import annotations

import uuid

import msgspec
from advanced_alchemy.extensions.litestar.providers import create_service_dependencies
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED
from redis.asyncio import Redis

from app.config import Settings
from app.domain.accounts.sessions import SessionUser
from app.domain.chat.schemas import ChatExchange, ChatMessageCreate, ChatMessageRead
from app.domain.chat.services import ChatService
from app.domain.projects.services import get_project_state
from app.lib.events import EventPublisher, project_channel
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

    @post(status_code=HTTP_201_CREATED)
    async def post_chat_message(
        self,
        project_id: FromPath[uuid.UUID],
        data: JSONBody[ChatMessageCreate],
        current_user: NamedDependency[SessionUser],
        chat_service: NamedDependency[ChatService],
        redis: NamedDependency[Redis],
        settings: NamedDependency[Settings],
        events: NamedDependency[EventPublisher],
    ) -> ChatExchange:
        """Store a message (`position_ids` / `document_ids` must be of this project); `assistant` is null for now."""
        await get_project_state(
            chat_service.db_session, redis, current_user, project_id, ttl_seconds=settings.CACHE_TTL_SECONDS
        )
        message = ChatMessageRead.from_model(await chat_service.post_message(current_user, project_id, data))
        await events.publish(project_channel(project_id), "chat_message", msgspec.to_builtins(message))
        return ChatExchange(message=message, assistant=None)
