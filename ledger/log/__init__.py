"""The persistent Merkle log: sequencer, integrator, reader (proofs) and checkpoint signer.

:class:`MerkleLog` ties them to one database for callers that want each step
in its own transaction; the functions underneath take a connection so that
the API can sequence a record in the same transaction that stores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, select

from ledger.checkpoint import Signer
from ledger.log.counters import read_counter
from ledger.log.errors import (
    CheckpointVerificationError,
    DuplicateEntryError,
    LogCorruptionError,
    TreeSizeError,
)
from ledger.log.integrator import DEFAULT_BATCH, Integration, integrate
from ledger.log.reader import LogReader
from ledger.log.sequencer import LeafInput, sequence
from ledger.log.signer import SignedCheckpoint, latest_checkpoint, sign_latest
from ledger.merkle import hash_leaf
from ledger.store.models import SEQUENCED_SIZE, log_leaves

__all__ = [
    "CheckpointVerificationError",
    "DuplicateEntryError",
    "Integration",
    "LeafInput",
    "LogCorruptionError",
    "LogReader",
    "MerkleLog",
    "SignedCheckpoint",
    "TreeSizeError",
    "integrate",
    "latest_checkpoint",
    "sequence",
    "sign_latest",
]


class MerkleLog:
    """One log in one database. Each method is one transaction."""

    def __init__(self, engine: Engine, *, origin: str, cache_tiles: int = 4096) -> None:
        self.engine = engine
        self.origin = origin
        self.reader = LogReader(cache_tiles=cache_tiles)

    def append(self, leaves: Sequence[LeafInput], *, now: datetime | None = None) -> range:
        """Sequence ``leaves``; returns their indices once they are durable."""
        with self.engine.begin() as conn:
            return sequence(conn, leaves, now=now)

    def integrate(self, *, max_leaves: int = DEFAULT_BATCH) -> Integration:
        """Extend the stored tree over up to ``max_leaves`` sequenced leaves."""
        with self.engine.begin() as conn:
            return integrate(conn, max_leaves=max_leaves)

    def integrate_all(self) -> int:
        """Integrate every leaf sequenced when the call began; returns the new size.

        Leaves sequenced meanwhile wait for the next call, so a steady stream of
        writes cannot keep this from returning.
        """
        target = self.sequenced_size()
        while True:
            step = self.integrate(max_leaves=min(DEFAULT_BATCH, max(0, target - self.size())))
            if step.new_size >= target or step.new_size == step.old_size:
                return step.new_size

    def sign(self, signer: Signer, *, now: datetime | None = None) -> SignedCheckpoint:
        """Verify and sign the integrated tree's checkpoint (see :func:`sign_latest`)."""
        with self.engine.begin() as conn:
            return sign_latest(conn, signer, self.origin, now=now)

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The newest signed checkpoint, or None before the first."""
        with self.engine.connect() as conn:
            return latest_checkpoint(conn, self.origin)

    def leaf(self, index: int) -> tuple[bytes, bytes] | None:
        """``(leaf_data, leaf_hash)`` of a sequenced leaf, or None.

        Raises :class:`LogCorruptionError` when the stored hash is not the hash of
        the stored data: a changed record is never served as if it were intact.
        """
        with self.engine.connect() as conn:
            row = conn.execute(
                select(log_leaves.c.leaf_data, log_leaves.c.leaf_hash).where(
                    log_leaves.c.leaf_index == index
                )
            ).first()
        if row is None:
            return None
        data, stored = bytes(row.leaf_data), bytes(row.leaf_hash)
        if hash_leaf(data) != stored:
            raise LogCorruptionError(
                f"leaf {index}: stored hash {stored.hex()} is not the hash of its stored data",
                leaf_index=index,
                stored_hash=stored,
                data_hash=hash_leaf(data),
            )
        return data, stored

    def sequenced_size(self) -> int:
        """How many leaves have an index (integrated or not)."""
        with self.engine.connect() as conn:
            return read_counter(conn, SEQUENCED_SIZE)

    def size(self) -> int:
        """The integrated size: the largest tree proofs can be served for."""
        return self.reader.integrated_size(self.engine)

    # The reader connects only when its tile cache misses.
    def root(self, size: int) -> bytes:
        return self.reader.root(self.engine, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return self.reader.inclusion_proof(self.engine, index, size)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return self.reader.consistency_proof(self.engine, size1, size2)
