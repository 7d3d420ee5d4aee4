"""Governed reads of shared data, and the access trail (DOMAIN.md §2.5).

A read names a grant. It is allowed when the caller's unit is the grantee, the purpose
is the grant's, and the grant is active now (``grants.is_active``); otherwise it is
refused and nothing is written. It returns the dataset's rows restricted to the granted
fields and to the grantee's jurisdiction (the row scope ``{"division": grantee}``: the
grantee's own division and the villages under it; a county-level unit's reach is the
whole city), masked where the dataset is UNCONDITIONAL and a field has a masking rule.

Every successful read, even of no rows, writes in the same transaction an access entry
to the log (``sharing.access``: who, under which grant, for what purpose, the SHA-256 of
the query and the number of rows, never a value) and an ``access_entries`` row, so an
auditor can prove who read what, under which grant.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from ledger import journal, sealing
from ledger.auth import Capability
from ledger.chain import grants as chain_grants
from ledger.context import Context
from ledger.entries import canonical_json
from ledger.errors import InvalidInputError, NotFoundError
from ledger.sharing import model
from ledger.sharing.datasets import row_label
from ledger.sharing.model import GrantStatus, Purpose, SharingClass
from ledger.sharing.views import find_grant, get_grant
from ledger.store.domain import access_entries, data_keys, dataset_rows, datasets, records

MAX_LIMIT = 1000
"""Rows per read."""


@dataclass(frozen=True)
class SharedRow:
    row: int
    division: str
    values: dict[str, Any]


@dataclass(frozen=True)
class ReadResult:
    grant: str
    dataset: str
    fields: list[str]
    masked: list[str]
    rows: list[SharedRow]
    next: int | None
    access_record: str
    leaf_index: int
    leaf_hash: bytes


@dataclass(frozen=True)
class AccessInfo:
    record_id: str
    grant: str
    dataset: str
    unit: str
    principal: str
    purpose: str
    query_hash: str
    rows: int
    at: datetime
    leaf_index: int


def query_hash(query: dict[str, Any]) -> str:
    """Hex SHA-256 of the RFC 8785 canonical JSON of a read's query."""
    return hashlib.sha256(canonical_json(query)).hexdigest()


def read(
    ctx: Context,
    grant_id: str,
    *,
    purpose: Purpose,
    division: str | None,
    limit: int,
    after: int | None,
) -> ReadResult:
    """Rows of the granted dataset the caller may see under ``grant_id``, logged as access."""
    ctx.caller.require(Capability.READ_SHARED_DATA)
    grant = find_grant(ctx.conn, grant_id)
    if grant is None:
        raise NotFoundError(f"no grant {grant_id}")
    if grant.grantee != ctx.caller.unit_code:
        raise model.NotGranteeError(
            f"grant {grant_id} is for unit {grant.grantee}, not {ctx.caller.unit_code}"
        )
    if purpose is not grant.purpose:
        raise model.PurposeMismatchError(
            f"grant {grant_id} is for the purpose {grant.purpose.value}, not {purpose.value}"
        )
    status = grant.status(ctx.now)
    if status is not GrantStatus.ACTIVE:
        raise model.GrantNotActiveError(
            f"grant {grant_id} is {status.value} at {model.rfc3339(ctx.now)} "
            f"(valid {model.rfc3339(grant.valid_from)} .. {model.rfc3339(grant.valid_until)})",
            status=status.value,
        )
    if "0x" + chain_grants.grant_id(grant.terms()).hex() != grant_id:
        raise model.GrantRecordMismatchError(
            f"the stored terms of grant {grant_id} do not hash to its id", grant=grant_id
        )
    if division is not None:
        ctx.caller.require_covers(division)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit {limit}: want 1 to {MAX_LIMIT}")

    sharing_class = ctx.conn.execute(
        select(datasets.c.sharing_class, datasets.c.fields).where(datasets.c.code == grant.dataset)
    ).one()
    masks: dict[str, model.Masking] = {}
    if sharing_class.sharing_class == SharingClass.UNCONDITIONAL.value:
        for spec in map(model.FieldSpec.from_json, sharing_class.fields):
            if spec.masking is not None and spec.name in grant.fields:
                masks[spec.name] = spec.masking
    rows, more = _rows(ctx, grant.dataset, division=division, limit=limit, after=after)
    shared = [
        SharedRow(
            row_id,
            row_division,
            {
                f: model.mask(masks[f], values.get(f)) if f in masks else values.get(f)
                for f in grant.fields
            },
        )
        for row_id, row_division, values in rows
    ]
    query = {
        "grant": grant_id,
        "purpose": purpose.value,
        "filter": {"division": division},
        "limit": limit,
        "after": after,
    }
    digest = query_hash(query)
    unit = ctx.caller.unit_code
    written = journal.write_one(
        ctx.conn,
        journal.Draft(
            "sharing.access",
            unit,
            {
                "grant": grant_id,
                "dataset": grant.dataset,
                "unit": unit,
                "principal": ctx.caller.principal_id,
                "purpose": purpose.value,
                "query_hash": digest,
                "rows": len(shared),
            },
            subject=grant_id,
        ),
        now=ctx.now,
        principal_id=ctx.caller.principal_id,
    )
    ctx.conn.execute(
        insert(access_entries).values(
            record_id=written.id,
            grant_id=grant_id,
            dataset_code=grant.dataset,
            unit_code=unit,
            principal_id=ctx.caller.principal_id,
            purpose=purpose.value,
            query_hash=digest,
            rows_returned=len(shared),
            at=ctx.now,
        )
    )
    return ReadResult(
        grant=grant_id,
        dataset=grant.dataset,
        fields=grant.fields,
        masked=sorted(masks),
        rows=shared,
        next=more,
        access_record=written.id,
        leaf_index=written.leaf_index,
        leaf_hash=written.leaf_hash,
    )


def _rows(
    ctx: Context, dataset: str, *, division: str | None, limit: int, after: int | None
) -> tuple[list[tuple[int, str, dict[str, Any]]], int | None]:
    """Decrypted rows in the caller's reach, in row order, and the cursor of the next page.

    Rows of an erased batch (its data key destroyed) are unreadable and left out.
    """
    query = (
        select(
            dataset_rows.c.id,
            dataset_rows.c.division_code,
            dataset_rows.c.batch_record_id,
            dataset_rows.c.nonce,
            dataset_rows.c.ciphertext,
        )
        .where(dataset_rows.c.dataset_code == dataset)
        .order_by(dataset_rows.c.id)
        .limit(limit + 1)
    )
    reach = ctx.caller.reach
    if reach is not None:
        query = query.where(dataset_rows.c.division_code.in_(sorted(reach)))
    if division is not None:
        query = query.where(dataset_rows.c.division_code == division)
    if after is not None:
        query = query.where(dataset_rows.c.id > after)
    fetched = list(ctx.conn.execute(query))
    more = int(fetched[limit - 1].id) if len(fetched) > limit else None
    fetched = fetched[:limit]
    by_batch: dict[str, list[Any]] = defaultdict(list)
    for row in fetched:
        by_batch[row.batch_record_id].append(row)
    keys = {
        r.record_id: bytes(r.wrapped_key)
        for r in ctx.conn.execute(
            select(data_keys.c.record_id, data_keys.c.wrapped_key).where(
                data_keys.c.record_id.in_(list(by_batch))
            )
        )
    }
    opened: dict[int, dict[str, Any]] = {}
    for batch, batch_rows in by_batch.items():
        if batch not in keys:
            continue
        values = sealing.open_rows(
            ctx.master,
            batch,
            sealing.DataKey(keys[batch]),
            [sealing.SealedData(bytes(r.nonce), bytes(r.ciphertext)) for r in batch_rows],
            labels=[row_label(dataset, r.division_code) for r in batch_rows],
        )
        opened.update({int(r.id): v for r, v in zip(batch_rows, values, strict=True)})
    out = [(int(r.id), r.division_code, opened[int(r.id)]) for r in fetched if r.id in opened]
    return out, more


# ---- the access trail -----------------------------------------------------------------------


def _trail(
    ctx: Context, *, grant: str | None, unit: str | None, after: int | None, limit: int
) -> list[AccessInfo]:
    query = (
        select(access_entries, records.c.leaf_index)
        .join(records, records.c.id == access_entries.c.record_id)
        .order_by(records.c.leaf_index)
        .limit(limit)
    )
    if grant is not None:
        query = query.where(access_entries.c.grant_id == grant)
    if unit is not None:
        query = query.where(access_entries.c.unit_code == unit)
    if after is not None:
        query = query.where(records.c.leaf_index > after)
    return [
        AccessInfo(
            record_id=r.record_id,
            grant=r.grant_id,
            dataset=r.dataset_code,
            unit=r.unit_code,
            principal=r.principal_id,
            purpose=r.purpose,
            query_hash=r.query_hash,
            rows=int(r.rows_returned),
            at=model.utc(r.at),
            leaf_index=int(r.leaf_index),
        )
        for r in ctx.conn.execute(query)
    ]


def access_trail(
    ctx: Context, *, grant: str | None, unit: str | None, after: int | None, limit: int
) -> list[AccessInfo]:
    """Every governed read, oldest first: for the auditor and the platform administrator."""
    ctx.caller.require(Capability.READ_ACCESS_TRAIL)
    return _trail(ctx, grant=grant, unit=unit, after=after, limit=limit)


def grant_access_trail(
    ctx: Context, grant_id: str, *, after: int | None, limit: int
) -> list[AccessInfo]:
    """The reads made under one grant: for its owner, its grantee, the auditor, the admin."""
    get_grant(ctx, grant_id)  # 404 unless the caller may see the grant
    return _trail(ctx, grant=grant_id, unit=None, after=after, limit=limit)
