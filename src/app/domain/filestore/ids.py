"""Deterministic UUIDs for records of the old file store.

The migration may run many times (and the dual-write period writes both sides), so the same legacy
record must always map to the same UUID: UUIDv5 under one fixed namespace, keyed by kind and id.
"""

from __future__ import annotations

import uuid

# Fixed forever: changing it would give every migrated record a new id.
LEGACY_NAMESPACE = uuid.UUID("5b0e8d7c-3f1a-5c2e-9a47-2d6b1c0f8e91")

# Kinds whose legacy id, when it already is a UUID, is kept as that UUID.
_UUID_PRESERVING_KINDS = frozenset({"project"})


def stable_uuid(kind: str, legacy_id: str) -> uuid.UUID:
    """The UUID for the legacy record ``legacy_id`` of ``kind`` (project, position, file, audit ...).

    Same input, same UUID. A project whose legacy id already is a UUID keeps it, so links to it
    made by the old app stay valid.
    """
    if not kind:
        raise ValueError("kind must not be empty")
    if not legacy_id.strip():
        raise ValueError(f"empty legacy id for {kind}")
    if kind in _UUID_PRESERVING_KINDS:
        try:
            return uuid.UUID(legacy_id.strip())
        except ValueError:
            pass
    # Hashed verbatim (no stripping or case folding): distinct legacy ids stay distinct.
    return uuid.uuid5(LEGACY_NAMESPACE, f"{kind}:{legacy_id}")
