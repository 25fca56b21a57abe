"""The body of POST /api/projects/{id}/export (it becomes the export job's payload)."""

from __future__ import annotations

from typing import Literal

import msgspec

from app.lib.input_bounds import PositiveInt4

ExportFormat = Literal["xlsx", "csv"]


class ExportRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`format`: xlsx (a sheet per object, coloured audit status, summary) or csv (Czech Excel);
    `version`: a budget version number, the latest when absent."""

    format: ExportFormat = "xlsx"
    version: PositiveInt4 | None = None
