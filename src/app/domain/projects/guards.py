"""Route markers of the projects domain."""

from __future__ import annotations

# `opt={WRITES_PROJECT_DATA: True}` on a controller or route: its unsafe methods change a project's
# data. A plug-in may refuse such writes (the old file store while it is the writer).
WRITES_PROJECT_DATA = "writes_project_data"
