"""stable_uuid: the same legacy record always gets the same UUID."""

from __future__ import annotations

import uuid

import pytest

from app.domain.filestore import LEGACY_NAMESPACE, stable_uuid


def test_same_input_same_uuid() -> None:
    assert stable_uuid("project", "proj_0a56b78a847d") == stable_uuid("project", "proj_0a56b78a847d")


def test_is_uuid5_under_the_fixed_namespace() -> None:
    value = stable_uuid("position", "proj_1:pos_7")
    assert value.version == 5
    assert value == uuid.uuid5(LEGACY_NAMESPACE, "position:proj_1:pos_7")


def test_pinned_value_never_changes() -> None:
    # Guards the namespace: a change would give every migrated record a new id on the next run.
    assert stable_uuid("project", "proj_0a56b78a847d") == uuid.UUID("45eb919c-b39b-5332-a0bf-0f03df6250de")


def test_kind_and_id_both_matter() -> None:
    ids = {
        stable_uuid("project", "a"),
        stable_uuid("position", "a"),
        stable_uuid("project", "b"),
        stable_uuid("project", "A"),
        stable_uuid("project", " a"),
    }
    assert len(ids) == 5


@pytest.mark.parametrize(
    "legacy",
    [
        "9c5b94b1-35ad-49bb-b118-8e8fc24abf80",
        "9C5B94B1-35AD-49BB-B118-8E8FC24ABF80",
        " 9c5b94b1-35ad-49bb-b118-8e8fc24abf80 ",
    ],
)
def test_project_uuid_is_kept(legacy: str) -> None:
    assert stable_uuid("project", legacy) == uuid.UUID("9c5b94b1-35ad-49bb-b118-8e8fc24abf80")


def test_uuid_of_other_kinds_is_hashed() -> None:
    legacy = "9c5b94b1-35ad-49bb-b118-8e8fc24abf80"
    assert stable_uuid("file", legacy) != uuid.UUID(legacy)
    assert stable_uuid("file", legacy).version == 5


@pytest.mark.parametrize(("kind", "legacy"), [("", "x"), ("project", ""), ("project", "  ")])
def test_empty_input_is_refused(kind: str, legacy: str) -> None:
    with pytest.raises(ValueError):
        stable_uuid(kind, legacy)
