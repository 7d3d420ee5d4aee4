"""General records (村务公开, meeting minutes, service logs ...): write, read, erase.

A record is an entry of kind ``record`` or ``record.<name>`` written by the caller's
unit, with a public ``body`` and an optional ``personal`` part that is sealed. The
domain's own kinds (``unit.*``, ``vetting.*``, ``sharing.*``) are written only by their
services. Erasure destroys the personal part's key and logs a tombstone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from ledger import journal, vault
from ledger.auth import Caller, Capability
from ledger.context import Context
from ledger.entries import Entry
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.log import LogReader
from ledger.receipts import Receipt, build_receipt
from ledger.sealing import MasterKey
from ledger.store.domain import data_keys, erasures, records, sealed_data
from ledger.store.models import log_leaves

RECORD_KIND = re.compile(r"record(\.[a-z][a-z0-9_-]{0,39})?", re.ASCII)
MAX_BATCH = 1000


@dataclass(frozen=True)
class NewRecord:
    kind: str
    body: Mapping[str, Any]
    personal: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class StoredRecord:
    entry: Entry
    leaf_index: int
    leaf_hash: bytes
    principal_id: str | None
    erased: bool
    personal: dict[str, Any] | None


def create(ctx: Context, items: Sequence[NewRecord]) -> list[journal.Written]:
    """Write ``items`` as records of the caller's unit, all in one transaction."""
    batch = prepare(ctx.caller, ctx.now, ctx.master, items)
    return journal.write_batches(ctx.conn, [batch])[0]


def prepare(
    caller: Caller, now: datetime, master: MasterKey, items: Sequence[NewRecord]
) -> journal.Batch:
    """Check ``items`` and make them ready to log (entries built, personal parts sealed),
    touching no database: :func:`create` writes the batch in the caller's transaction, the
    API hands it to a :class:`ledger.journal.GroupCommit`."""
    caller.require(Capability.WRITE_RECORDS)
    if not 1 <= len(items) <= MAX_BATCH:
        raise InvalidInputError(f"{len(items)} records in a batch, want 1 to {MAX_BATCH}")
    drafts = []
    sealed_rows: list[dict[str, Any]] = []
    key_rows: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        if not RECORD_KIND.fullmatch(item.kind):
            raise InvalidInputError(
                f"records[{n}].kind {item.kind!r}: want 'record' or 'record.<name>' "
                "(a-z, 0-9, _ -; the other kinds belong to the vetting and sharing services)"
            )
        record_id = journal.new_id()
        sealed = None
        if item.personal:
            parts = vault.seal_rows(master, record_id, item.personal)
            sealed_rows.append(parts.sealed_row)
            key_rows.append(parts.key_row)
            sealed = parts.commitment
        drafts.append(
            journal.Draft(
                kind=item.kind,
                unit=caller.unit_code,
                body=item.body,
                sealed=sealed,
                entry_id=record_id,
            )
        )
    rows = {sealed_data: sealed_rows, data_keys: key_rows} if sealed_rows else None
    return journal.prepare(drafts, now=now, principal_id=caller.principal_id, rows=rows)


def get(ctx: Context, record_id: str) -> StoredRecord:
    """A record by id. Its personal part is shown only to its own unit, until erased."""
    ctx.caller.require(Capability.READ_RECORDS)
    row = ctx.conn.execute(
        select(
            records.c.unit_code,
            records.c.principal_id,
            log_leaves.c.leaf_index,
            log_leaves.c.leaf_data,
            log_leaves.c.leaf_hash,
            erasures.c.erased_at,
        )
        .join(log_leaves, log_leaves.c.entry_id == records.c.id)
        .outerjoin(erasures, erasures.c.record_id == records.c.id)
        .where(records.c.id == record_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no record {record_id}")
    entry = Entry.from_leaf_data(bytes(row.leaf_data))
    personal = None
    if entry.sealed is not None and row.unit_code == ctx.caller.unit_code:
        personal = vault.unseal(ctx.conn, ctx.master, record_id)
    return StoredRecord(
        entry,
        int(row.leaf_index),
        bytes(row.leaf_hash),
        row.principal_id,
        row.erased_at is not None,
        personal,
    )


_RECORD_EXISTS = select(records.c.id).where(records.c.id == bindparam("id"))


def receipt(
    ctx: Context,
    record_id: str,
    *,
    verifier_key: str,
    origin: str,
    reader: LogReader | None = None,
) -> Receipt:
    """The record's receipt (:func:`ledger.receipts.build_receipt`), built in the context's
    transaction; ``reader`` is the log's reader, whose tile cache serves the proof."""
    ctx.caller.require(Capability.READ_RECORDS)
    found = ctx.conn.execute(_RECORD_EXISTS, {"id": record_id}).first()
    if found is None:
        raise NotFoundError(f"no record {record_id}")
    return build_receipt(
        ctx.conn, record_id, verifier_key=verifier_key, origin=origin, reader=reader
    )


def erase(ctx: Context, record_id: str, *, reason: str) -> journal.Written:
    """Destroy a record's personal data (PIPL Art. 47) and log a tombstone entry.

    The record's leaf stays and still verifies; its sealed commitment can no longer be
    opened or brute-forced, since the salt went with the key.
    """
    ctx.caller.require(Capability.ERASE_RECORDS)
    row = ctx.conn.execute(select(records.c.id).where(records.c.id == record_id)).first()
    if row is None:
        raise NotFoundError(f"no record {record_id}")
    if _erased(ctx.conn, record_id):
        raise ConflictError(f"record {record_id} is already erased", record_id=record_id)
    if not vault.erase(ctx.conn, record_id):
        raise ConflictError(f"record {record_id} has no personal data to erase")
    tombstone = journal.write_one(
        ctx.conn,
        journal.Draft(
            kind="record.erased",
            unit=ctx.caller.unit_code,
            body={"record": record_id, "reason": reason},
            subject=record_id,
        ),
        now=ctx.now,
        principal_id=ctx.caller.principal_id,
    )
    ctx.conn.execute(
        insert(erasures).values(
            record_id=record_id,
            tombstone_record_id=tombstone.id,
            erased_at=ctx.now,
            principal_id=ctx.caller.principal_id,
        )
    )
    return tombstone


def _erased(conn: Connection, record_id: str) -> bool:
    found = conn.execute(select(erasures.c.record_id).where(erasures.c.record_id == record_id))
    return found.first() is not None
