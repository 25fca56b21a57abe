"""The edge bounds as pure functions, and the mapping of a database-refused value to a 400."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from advanced_alchemy.exceptions import IntegrityError
from sqlalchemy.exc import DataError, DBAPIError, StatementError

from app.lib.errors import problem_details_config, refused_value
from app.lib.input_bounds import json_problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": "ok", "b": [1, 2, {"c": None}]}, None),
        ({"a": "x\x00"}, ("a", "must not contain the NUL character (\\u0000)")),
        ({"a": [0, {"b\x00": 1}]}, ("a[1]", "must not have a key with the NUL character (\\u0000)")),
        ("\x00", ("body", "must not contain the NUL character (\\u0000)")),
    ],
)
def test_json_problem_names_the_place(value: Any, problem: tuple[str, str] | None) -> None:
    assert json_problem(value) == problem


def test_json_problem_bounds_depth_without_recursion() -> None:
    value: Any = 1
    for _ in range(50_000):
        value = [value]
    place, message = json_problem({"m": value}, max_depth=32) or ("", "")
    assert place == "m" + "[0]" * 31
    assert "deeper than 32" in message
    assert json_problem({"m": [[[1]]]}, max_depth=4) is None


def test_nul_is_only_looked_for_when_asked() -> None:
    assert json_problem({"a": "\x00"}, look_for_nul=False) is None


class BindError(asyncpg.exceptions.InterfaceError, ValueError):
    """The shape of asyncpg's client-side DataError (raised while binding an out-of-range argument)."""


def _wrapped(cause: BaseException) -> DBAPIError:
    error = DBAPIError("SELECT 1", {}, cause)
    error.__cause__ = cause
    return error


def test_refused_values_are_told_apart_from_other_database_errors() -> None:
    client_side = BindError("invalid input for query argument $2 (value out of int32 range)")
    assert refused_value(_wrapped(client_side))
    assert refused_value(DataError("SELECT 1", {}, Exception("22P05")))
    wrapped = IntegrityError(detail="x")
    wrapped.__cause__ = DataError("SELECT 1", {}, Exception("22021"))
    assert refused_value(wrapped)
    assert refused_value(StatementError("tzinfo is required", "SELECT 1", {}, TypeError("tzinfo is required")))
    assert not refused_value(_wrapped(ConnectionResetError("gone")))
    assert not refused_value(IntegrityError(detail="duplicate key"))


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (_wrapped(asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence 0x00")), 400),
        (_wrapped(ConnectionResetError("gone")), 500),
    ],
)
def test_the_problem_mapping_answers_400_for_a_refused_value(error: Exception, status: int) -> None:
    mapping = problem_details_config().exception_to_problem_detail_map
    handler = next(handler for kind, handler in mapping.items() if kind is StatementError)
    assert handler(error).status_code == status
