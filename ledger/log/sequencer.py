"""Sequencing: give entries durable, gapless leaf indices in arrival order.

Sequencing is apart from integration (transparency-dev/tessera): an entry has
its index as soon as the sequencing transaction commits; the tree is extended
later, by :mod:`ledger.log.integrator`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from ledger.log.bulk import insert_rows
from ledger.log.counters import lock_counter, set_counter
from ledger.log.errors import DuplicateEntryError
from ledger.merkle.rfc9162 import hash_leaf
from ledger.store.models import SEQUENCED_SIZE
from ledger.store.models import log_leaves as _leaves


class LeafInput(NamedTuple):
    """What the log stores for an entry: its id and its canonical bytes (JCS)."""

    entry_id: str
    leaf_data: bytes


def sequence(
    conn: Connection, leaves: Sequence[LeafInput], *, now: datetime | None = None
) -> range:
    """Append ``leaves`` to the log in the caller's transaction; returns their indices.

    Takes the sequencer's lock on the log head, so concurrent callers get
    disjoint, gapless ranges in the order they took the lock. The leaf hash is
    computed here from ``leaf_data``, never taken from the caller. Raises
    :class:`DuplicateEntryError` (and writes nothing) when an entry id is
    already logged or repeated in ``leaves``.
    """
    if not leaves:
        return range(0)
    ids = [leaf.entry_id for leaf in leaves]
    if len(set(ids)) != len(ids):
        raise DuplicateEntryError("the batch repeats an entry id")
    start = lock_counter(conn, SEQUENCED_SIZE)
    at = now if now is not None else datetime.now(UTC)
    rows = [
        {
            "leaf_index": start + i,
            "entry_id": leaf.entry_id,
            "leaf_data": leaf.leaf_data,
            "leaf_hash": hash_leaf(leaf.leaf_data),
            "sequenced_at": at,
        }
        for i, leaf in enumerate(leaves)
    ]
    try:
        # A savepoint, so a duplicate leaves the caller's transaction usable.
        with conn.begin_nested():
            insert_rows(conn, _leaves, rows)
    except IntegrityError as exc:
        # The unique index on entry_id refused a row; say which (under our lock,
        # nobody else can have added them meanwhile).
        taken = _already_logged(conn, ids)
        raise DuplicateEntryError(
            f"entry id {taken[0]!r} is already in the log" if taken else str(exc.orig),
            entry_ids=sorted(taken),
        ) from exc
    set_counter(conn, SEQUENCED_SIZE, start + len(leaves))
    return range(start, start + len(leaves))


def _already_logged(conn: Connection, ids: Sequence[str]) -> list[str]:
    found: list[str] = []
    for i in range(0, len(ids), 1000):
        chunk = ids[i : i + 1000]
        found.extend(
            conn.execute(select(_leaves.c.entry_id).where(_leaves.c.entry_id.in_(chunk))).scalars()
        )
    return found
