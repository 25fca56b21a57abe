"""Project chat over HTTP: messages are stored with their references and listed newest last."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.api import ApiUser, add_position, create_project, csv_bytes


def chat_url(project: dict[str, Any]) -> str:
    return f"/api/projects/{project['id']}/chat"


async def post_message(
    client: AsyncTestClient[Litestar], user: ApiUser, project: dict[str, Any], **body: Any
) -> dict[str, Any]:
    response = await client.post(chat_url(project), json={"message": "Zkontroluj beton", **body}, headers=user.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_post_stores_the_message_and_the_assistants_answer(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    position = (await add_position(client, api_user, project["id"]))["position"]
    upload = await client.post(
        f"/api/projects/{project['id']}/documents", files={"file": ("a.csv", csv_bytes())}, headers=api_user.headers
    )
    document_id = upload.json()["document"]["id"]
    answer = await post_message(
        client,
        api_user,
        project,
        message="Je C30/37 pro XC4 v pořádku?",
        message_type="question",
        position_ids=[position["lineage_id"], position["id"]],
        document_ids=[document_id],
    )
    assert answer["assistant"]["role"] == "assistant"
    assert answer["assistant"]["question_id"] == answer["message"]["id"]
    message = answer["message"]
    assert message["role"] == "user"
    assert message["user_id"] == api_user.id
    assert message["message_type"] == "question"
    assert message["position_ids"] == [position["lineage_id"], position["id"]]
    assert message["document_ids"] == [document_id]
    history = (await client.get(chat_url(project), headers=api_user.headers)).json()
    assert [m["id"] for m in history["items"]] == [message["id"], answer["assistant"]["id"]]


async def test_history_is_newest_last_and_pages_back_from_the_newest(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    texts = [f"zpráva {i}" for i in range(5)]
    for text in texts:
        await post_message(client, api_user, project, message=text)
    full = (await client.get(chat_url(project), headers=api_user.headers)).json()
    # each message is followed by the assistant's answer to it
    assert [m["message"] for m in full["items"] if m["role"] == "user"] == texts
    assert [m["role"] for m in full["items"]] == ["user", "assistant"] * 5
    assert full["total"] == 10
    latest = (await client.get(chat_url(project), params={"limit": 2}, headers=api_user.headers)).json()
    assert latest["items"][0]["message"] == texts[4]
    earlier = (await client.get(chat_url(project), params={"limit": 2, "offset": 2}, headers=api_user.headers)).json()
    assert earlier["items"][0]["message"] == texts[3]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": ""}, "message"),
        ({}, "message"),
        ({"message": "x", "message_type": "Bad Type!"}, "message_type"),
        ({"message": "x", "position_ids": ["not-a-uuid"]}, "position_ids"),
        ({"message": "x", "extra": 1}, "extra"),
    ],
)
async def test_invalid_messages_name_the_field(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = await client.post(chat_url(project), json=body, headers=api_user.headers)
    assert response.status_code == 400, response.text
    assert any(field in e["field"] or field in e["message"] for e in response.json()["errors"])
    assert (await client.get(chat_url(project), headers=api_user.headers)).json()["total"] == 0


async def test_references_must_belong_to_the_project(
    client: AsyncTestClient[Litestar], api_user: ApiUser, project: dict[str, Any]
) -> None:
    elsewhere = await create_project(client, api_user)
    foreign = (await add_position(client, api_user, elsewhere["id"]))["position"]
    upload = await client.post(
        f"/api/projects/{elsewhere['id']}/documents", files={"file": ("a.csv", csv_bytes())}, headers=api_user.headers
    )
    for body, field in (
        ({"position_ids": [foreign["id"]]}, "position_ids"),
        ({"position_ids": [str(uuid.uuid4())]}, "position_ids"),
        ({"document_ids": [upload.json()["document"]["id"]]}, "document_ids"),
    ):
        response = await client.post(chat_url(project), json={"message": "x", **body}, headers=api_user.headers)
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == field
    assert (await client.get(chat_url(project), headers=api_user.headers)).json()["total"] == 0
