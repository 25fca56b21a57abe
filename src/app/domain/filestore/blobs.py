"""Documents' bytes in settings.STORAGE_DIR, content-addressed per project.

A blob is named by its sha256, written to a temp name, fsynced and renamed, and its hash is checked
while copying: a kill at any moment leaves either no blob or a complete, correct one, so copying it
again is harmless. ``storage_path`` values in the database are absolute (as the documents service
writes them); a relative one is taken relative to STORAGE_DIR.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath

from app.domain.filestore.atomic import _create_temp, _discard, ensure_dir, fsync_dir

_CHUNK = 1024 * 1024


class BlobMismatch(Exception):
    """The bytes copied do not have the hash the project was read with (the file changed meanwhile)."""


def storage_root(storage_dir: str | Path) -> Path:
    return Path(storage_dir).resolve()


def blob_file(root: Path, storage_path: str) -> Path:
    """The file of a stored document: an absolute ``storage_path`` as it is, a relative one under
    ``root`` (refused when it would climb out of it)."""
    path = PurePosixPath(storage_path)
    if path.is_absolute():
        return Path(storage_path)
    if ".." in path.parts or not path.parts:
        raise ValueError(f"storage path {storage_path!r} is not inside the storage")
    return root.joinpath(*path.parts)


def store_blob(root: Path, storage_path: str, source: Path, sha256: str, size: int) -> int:
    """Copy ``source`` into the storage unless a blob with its hash is already there.

    Returns the number of bytes written (0 when the blob existed). Raises ``BlobMismatch`` when the
    source no longer has the expected hash or size.
    """
    target = blob_file(root, storage_path)
    try:
        if target.stat().st_size == size:
            return 0
    except FileNotFoundError:
        pass
    ensure_dir(target.parent)
    fd, temp = _create_temp(target)
    try:
        copied_sha256, written = copy_hashed(source, fd)
        if copied_sha256 != sha256 or written != size:
            raise BlobMismatch(f"{source.name} changed while it was migrated (hash or size differs); run again")
        os.replace(temp, target)
    except BaseException:
        _discard(temp)
        raise
    fsync_dir(target.parent)
    return written


def copy_hashed(source: Path, fd: int) -> tuple[str, int]:
    """Copy `source` into the open file `fd` and fsync it: the sha256 hex of the bytes copied and their
    number. `fd` is closed after, also when `source` cannot be opened."""
    digest = hashlib.sha256()
    written = 0
    with os.fdopen(fd, "wb") as dst, open(source, "rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            written += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest(), written


def hash_file(path: Path) -> tuple[int, str]:
    """(size, sha256 hex) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
