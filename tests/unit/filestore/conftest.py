"""Fixtures of the file-store tests: a sample old-style store in a temp directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.legacy_store import sample_store


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "projects"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def store(data_dir: Path) -> dict[str, Path]:
    """One project of each kind (spec shape, old shape, UUID id, empty, broken) → its directory."""
    return sample_store(data_dir)
