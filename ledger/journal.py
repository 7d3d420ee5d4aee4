"""Writing records: every business fact becomes an entry in the log, in the caller's
transaction, so the fact and its leaf commit together or not at all.

An entry's ``body`` holds public, non-personal fields only; the personal part is
sealed (``ledger.sealing``) and the entry carries its salted commitment in
``sealed``. The ``records`` row indexes the entry by kind, unit and subject.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert

from ledger.entries import Entry, utc_now_rfc3339
from ledger.log import LeafInput, sequence
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


def new_id() -> str:
    """A fresh record id (a random UUID: it says nothing about its content)."""
    return str(uuid.uuid4())


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
    at = utc_now_rfc3339(now, timespec="milliseconds")
    entries = [
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
    ]
    datas = [e.leaf_data() for e in entries]
    indices = sequence(
        conn, [LeafInput(e.id, data) for e, data in zip(entries, datas, strict=True)]
    )
    conn.execute(
        insert(records),
        [
            {
                "id": e.id,
                "kind": d.kind,
                "unit_code": d.unit,
                "subject": d.subject,
                "leaf_index": i,
                "created_at": now.astimezone(UTC),
                "principal_id": principal_id,
            }
            for e, d, i in zip(entries, drafts, indices, strict=True)
        ],
    )
    return [
        Written(e, i, hash_leaf(data)) for e, i, data in zip(entries, indices, datas, strict=True)
    ]


def write_one(
    conn: Connection, draft: Draft, *, now: datetime, principal_id: str | None
) -> Written:
    (written,) = write(conn, [draft], now=now, principal_id=principal_id)
    return written
