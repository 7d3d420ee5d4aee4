"""Signing checkpoints — after proving the stored tree is the tree of the stored leaves.

Before a checkpoint is signed, its root (from the tiles, which every proof is
served from) is compared with a root recomputed from every stored leaf hash.
If they differ, nothing is signed and :class:`CheckpointVerificationError`
carries the evidence: both roots and the smallest leaf range found whose
stored hash differs from the recomputed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from ledger.checkpoint import Checkpoint, Signer, sign_checkpoint
from ledger.log.bulk import insert_rows
from ledger.log.counters import lock_counter
from ledger.log.errors import CheckpointVerificationError, LogCorruptionError
from ledger.log.integrator import read_leaf_hashes
from ledger.log.reader import LogReader
from ledger.merkle import CompactRange, InMemoryTree, NodeID, range_nodes, root_from_range
from ledger.store.models import INTEGRATED_SIZE
from ledger.store.models import log_checkpoints as _checkpoints

STREAM_CHUNK = 1 << 16
"""Leaf hashes read per round trip while recomputing the root."""


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
    # A reader without a cache: verification must see what is stored now.
    reader = LogReader(cache_tiles=0)
    range_ids = range_nodes(0, size)
    stored = reader.nodes(conn, range_ids, size)
    root = root_from_range(stored)
    recomputed = recompute_range(conn, size)
    if recomputed != stored:
        raise _evidence(conn, reader, size, range_ids, stored, recomputed)

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


def recompute_range(conn: Connection, size: int) -> list[bytes]:
    """The hashes of ``range_nodes(0, size)``, recomputed from the stored leaf hashes alone."""
    compact = CompactRange()
    for begin in range(0, size, STREAM_CHUNK):
        compact.extend(read_leaf_hashes(conn, begin, min(size, begin + STREAM_CHUNK)))
    return compact.hashes()


def _evidence(
    conn: Connection,
    reader: LogReader,
    size: int,
    range_ids: list[NodeID],
    stored: list[bytes],
    recomputed: list[bytes],
) -> CheckpointVerificationError:
    """Walk down from the first differing subtree to the smallest differing range."""
    first = next(i for i, (a, b) in enumerate(zip(stored, recomputed, strict=True)) if a != b)
    node = range_ids[first]
    begin, end = node.coverage()
    # The leaves under that subtree, rebuilt in memory with local indices.
    tree = InMemoryTree(read_leaf_hashes(conn, begin, end))
    while node.level > 0:
        children = [
            NodeID(node.level - 1, 2 * node.index),
            NodeID(node.level - 1, 2 * node.index + 1),
        ]
        stored_children = reader.nodes(conn, children, size)
        differing = [
            child
            for child, stored_hash in zip(children, stored_children, strict=True)
            if tree.node(NodeID(child.level, child.index - (begin >> child.level))) != stored_hash
        ]
        if not differing:
            break  # the stored node itself is wrong while everything below agrees
        node = differing[0]
    return CheckpointVerificationError(
        size,
        root_from_range(stored),
        root_from_range(recomputed),
        node.coverage(),
        level=node.level,
    )
