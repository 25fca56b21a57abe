"""Durable file-system steps shared by everything that writes files it must not lose (backups, stores)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def ensure_dir(path: Path) -> None:
    """Create ``path`` and missing parents, fsyncing each parent so the new entries are durable."""
    if path.is_dir():
        return
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
        fsync_dir(directory.parent)


def fsync_dir(path: Path) -> None:
    """fsync a directory, making renames and new entries in it durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
