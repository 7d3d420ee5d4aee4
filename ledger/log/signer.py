"""Signing checkpoints — only after proving the stored tree is the tree of the stored leaves.

:func:`ledger.log.verify.verify_store` runs first; if any stored hash disagrees
with the stored leaves, nothing is signed and the error carries the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from ledger.checkpoint import Checkpoint, Signer, sign_checkpoint
from ledger.log.bulk import insert_rows
from ledger.log.counters import lock_counter
from ledger.log.errors import LogCorruptionError
from ledger.log.verify import verify_store
from ledger.store.models import INTEGRATED_SIZE
from ledger.store.models import log_checkpoints as _checkpoints


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: str
    signed_at: datetime


def sign_latest(
    conn: Connection, signer: Signer, origin: str, *, now: datetime | None = None
) -> SignedCheckpoint:
    """Verify and sign the checkpoint of the integrated tree, and store it.

    Holds the integrator's lock, so the tree does not grow meanwhile. Signing
    the same size again returns the stored checkpoint.
    """
    size = lock_counter(conn, INTEGRATED_SIZE)
    last = latest_checkpoint(conn, origin)
    root = verify_store(
        conn,
        size,
        checked_size=last.checkpoint.size if last else 0,
        checked_root=last.checkpoint.root_hash if last else None,
    )

    existing = conn.execute(
        select(_checkpoints.c.root_hash, _checkpoints.c.note, _checkpoints.c.signed_at).where(
            _checkpoints.c.tree_size == size
        )
    ).first()
    if existing is not None:
        if bytes(existing.root_hash) != root:
            raise LogCorruptionError(
                f"a checkpoint for size {size} with root {bytes(existing.root_hash).hex()} "
                f"is stored, but the tree's root is {root.hex()}",
                tree_size=size,
                stored_root=bytes(existing.root_hash),
                tree_root=root,
            )
        cp = Checkpoint(origin, size, root)
        return SignedCheckpoint(cp, existing.note, existing.signed_at)

    cp = Checkpoint(origin, size, root)
    note = sign_checkpoint(cp, signer)
    at = now if now is not None else datetime.now(UTC)
    insert_rows(
        conn,
        _checkpoints,
        [{"tree_size": size, "root_hash": root, "note": note, "signed_at": at}],
    )
    return SignedCheckpoint(cp, note, at)


def latest_checkpoint(conn: Connection, origin: str) -> SignedCheckpoint | None:
    """The stored checkpoint of the largest tree size, or None before the first."""
    row = conn.execute(
        select(_checkpoints.c.tree_size, _checkpoints.c.root_hash, _checkpoints.c.note)
        .add_columns(_checkpoints.c.signed_at)
        .order_by(_checkpoints.c.tree_size.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    cp = Checkpoint(origin, int(row.tree_size), bytes(row.root_hash))
    return SignedCheckpoint(cp, row.note, row.signed_at)
