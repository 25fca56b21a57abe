"""The body of POST /api/projects/{id}/export (it becomes the export job's payload)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

ExportFormat = Literal["xlsx", "csv"]


class ExportRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`format`: xlsx (a sheet per object, coloured audit status, summary) or csv (Czech Excel);
    `version`: a budget version number, the latest when absent."""

    format: ExportFormat = "xlsx"
    version: Annotated[int, msgspec.Meta(ge=1)] | None = None
