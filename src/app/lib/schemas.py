"""Response bodies read off ORM rows, one way for every model.

A `ModelView` takes each field from the row's attribute of the same Python name (msgspec's
``from_attributes``). Where the wire name differs from the model's attribute (``metadata`` is
``metadata_`` on every model) the field is declared under the attribute's name with
``msgspec.field(name=...)``; a derived value is a property of the model.
"""

from __future__ import annotations

from typing import Self

import msgspec


class ModelView(msgspec.Struct, kw_only=True):
    @classmethod
    def from_model(cls, row: object) -> Self:
        return msgspec.convert(row, cls, from_attributes=True)
