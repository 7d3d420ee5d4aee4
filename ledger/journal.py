"""Writing records: every business fact becomes an entry in the log, in the caller's
transaction, so the fact and its leaf commit together or not at all.

An entry's ``body`` holds public, non-personal fields only; the personal part is
sealed (``ledger.sealing``) and the entry carries its salted commitment in
``sealed``. The ``records`` row indexes the entry by kind, unit and subject.

:func:`write` does it all in the caller's transaction. For the busiest path (records
posted one at a time by many clients) there is also group commit: :func:`prepare` does
the checks and the CPU work (the entries' canonical bytes) in the caller's thread, and
:class:`GroupCommit` writes the prepared batches of concurrent callers in one
transaction, so they share one turn of the log's lock and one commit.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table

from ledger.entries import Entry, utc_now_rfc3339
from ledger.log import LeafInput, sequence
from ledger.log.bulk import insert_rows
from ledger.merkle import hash_leaf
from ledger.store.domain import records


@dataclass(frozen=True)
class Draft:
    """An entry to write: what it is, who wrote it, its public body and sealed commitment."""

    kind: str
    unit: str
    body: Mapping[str, Any]
    sealed: str | None = None
    subject: str | None = None
    entry_id: str | None = None


@dataclass(frozen=True)
class Written:
    """A record as written: its entry, leaf index and leaf hash."""

    entry: Entry
    leaf_index: int
    leaf_hash: bytes

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass(frozen=True)
class Batch:
    """Drafts made into entries (validated, canonical bytes computed), ready to log.

    ``rows`` are other rows that must commit with the entries (e.g. sealed personal
    data), inserted before the entries are sequenced: table -> rows, all rows of a table
    with the same keys.
    """

    drafts: tuple[Draft, ...]
    entries: tuple[Entry, ...]
    now: datetime
    principal_id: str | None
    rows: Mapping[Table, Sequence[Mapping[str, Any]]] = field(default_factory=dict)


def new_id() -> str:
    """A fresh record id (a random UUID: it says nothing about its content)."""
    return str(uuid.uuid4())


def prepare(
    drafts: Sequence[Draft],
    *,
    now: datetime,
    principal_id: str | None,
    rows: Mapping[Table, Sequence[Mapping[str, Any]]] | None = None,
) -> Batch:
    """Build and check the entries of ``drafts`` (raises ``EntryError`` for a bad one)."""
    at = utc_now_rfc3339(now, timespec="milliseconds")
    entries = tuple(
        Entry.from_json(
            {
                "v": 1,
                "id": d.entry_id or new_id(),
                "kind": d.kind,
                "unit": d.unit,
                "at": at,
                "body": dict(d.body),
                "sealed": d.sealed,
            }
        )
        for d in drafts
    )
    return Batch(tuple(drafts), entries, now, principal_id, dict(rows or {}))


def write_batches(conn: Connection, batches: Sequence[Batch]) -> list[list[Written]]:
    """Log prepared ``batches`` in ``conn``'s transaction, in order: their other rows, then
    every entry sequenced at once (one turn of the log's lock), then the ``records`` rows.

    Sequencing takes the log head's lock until the transaction ends, so callers do
    their own reads and checks first and call this last.
    """
    tables: dict[Table, list[Mapping[str, Any]]] = {}
    for batch in batches:
        for table, rows in batch.rows.items():
            tables.setdefault(table, []).extend(rows)
    for table, rows in tables.items():
        insert_rows(conn, table, rows)
    entries = [e for batch in batches for e in batch.entries]
    if not entries:
        return [[] for _ in batches]
    datas = [e.leaf_data() for e in entries]
    indices = sequence(
        conn, [LeafInput(e.id, data) for e, data in zip(entries, datas, strict=True)]
    )
    index_rows = []
    out: list[list[Written]] = []
    k = 0
    for batch in batches:
        created_at = batch.now.astimezone(UTC)
        written = []
        for e, d in zip(batch.entries, batch.drafts, strict=True):
            i = indices[k]
            index_rows.append(
                {
                    "id": e.id,
                    "kind": d.kind,
                    "unit_code": d.unit,
                    "subject": d.subject,
                    "leaf_index": i,
                    "created_at": created_at,
                    "principal_id": batch.principal_id,
                }
            )
            written.append(Written(e, i, hash_leaf(datas[k])))
            k += 1
        out.append(written)
    insert_rows(conn, records, index_rows)
    return out


def write(
    conn: Connection,
    drafts: Sequence[Draft],
    *,
    now: datetime,
    principal_id: str | None,
) -> list[Written]:
    """Sequence ``drafts`` into the log and index them, in ``conn``'s transaction.

    Sequencing takes the log head's lock until the transaction ends, so callers do
    their own reads and checks first and call this last.
    """
    return write_batches(conn, [prepare(drafts, now=now, principal_id=principal_id)])[0]


def write_one(
    conn: Connection, draft: Draft, *, now: datetime, principal_id: str | None
) -> Written:
    (written,) = write(conn, [draft], now=now, principal_id=principal_id)
    return written


# --------------------------------------------------------------------------------------
# Group commit


class _Waiter:
    __slots__ = ("batch", "done", "error", "result", "wake")

    def __init__(self, batch: Batch, lock: threading.Lock) -> None:
        self.batch = batch
        self.wake = threading.Condition(lock)
        self.done = False
        self.result: list[Written] = []
        self.error: BaseException | None = None


class GroupCommit:
    """Concurrent writers share one transaction and one commit (LevelDB's write queue).

    :meth:`write` queues its batch; the caller at the head of the queue leads: it takes
    the queued batches (up to ``max_entries`` entries), writes them in one transaction
    with :func:`write_batches`, commits, and wakes their callers, each with its own
    entries' indices. Nobody returns before the transaction holding its batch has
    committed, so an acknowledged write is durable. Each batch is still all or nothing:
    it was checked by :func:`prepare` and its rows are plain inserts; if the shared
    transaction fails (the database went away, say), every batch in it fails with that
    error and none is written. No thread of its own: the leader is a caller.
    """

    def __init__(self, engine: Engine, *, max_entries: int = 2000) -> None:
        self._engine = engine
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._queue: deque[_Waiter] = deque()

    def write(self, batch: Batch) -> list[Written]:
        """Log ``batch`` together with the batches of concurrent callers; returns once
        committed."""
        me = _Waiter(batch, self._lock)
        with self._lock:
            self._queue.append(me)
            while not me.done and self._queue[0] is not me:
                me.wake.wait()
            if not me.done:
                group = self._take_group()
        if not me.done:
            self._lead(group)
        if me.error is not None:
            raise me.error
        return me.result

    def _take_group(self) -> list[_Waiter]:
        """The head of the queue and the batches behind it that fit (lock held)."""
        group = [self._queue[0]]
        count = len(group[0].batch.entries)
        for waiter in list(self._queue)[1:]:
            count += len(waiter.batch.entries)
            if count > self._max_entries:
                break
            group.append(waiter)
        return group

    def _lead(self, group: list[_Waiter]) -> None:
        results: list[list[Written]] | None = None
        error: BaseException | None = None
        try:
            with self._engine.begin() as conn:
                results = write_batches(conn, [w.batch for w in group])
        except BaseException as exc:  # every batch in the group shares the outcome
            error = exc
        with self._lock:
            for k, waiter in enumerate(group):
                popped = self._queue.popleft()
                assert popped is waiter
                if results is not None:
                    waiter.result = results[k]
                else:
                    waiter.error = error
                waiter.done = True
                waiter.wake.notify()
            if self._queue:
                self._queue[0].wake.notify()  # the next leader
