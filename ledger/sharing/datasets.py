"""Datasets of the shared grassroots governance database (资源目录) and their rows.

A dataset is published by a county-level unit, its owner, with its data items and a
sharing class; it is an entry in the log and is registered on chain (GrantRegistry).
Rows come in batches (bulk ingest): every row names its division (a village, a township
or the city), which is its row scope, and its values. A batch is sealed under ONE data
key (``sealing.seal_rows``), kept in ``data_keys`` under the batch's record id like a
record's key, so erasing the batch record destroys the batch. The batch's log entry
carries the row count and a digest of the ciphertexts, never a value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from ledger import journal, sealing
from ledger.auth import Capability
from ledger.chain import grants as chain_grants
from ledger.chain import vetting as chain_vetting
from ledger.context import Context
from ledger.demo import CITY
from ledger.errors import InvalidInputError, NotFoundError
from ledger.log.bulk import insert_rows
from ledger.outbox import enqueue
from ledger.sharing import model
from ledger.sharing.model import FieldSpec, SharingClass
from ledger.store.domain import data_keys, dataset_rows, datasets, units

MAX_ROWS = 5000
"""Rows per ingest request."""


@dataclass(frozen=True)
class DatasetInfo:
    code: str
    name: str
    owner: str
    sharing_class: SharingClass
    fields: list[FieldSpec]
    created_at: datetime
    record_id: str

    @property
    def chain_id(self) -> str:
        return "0x" + chain_grants.dataset_id(self.code).hex()

    def field_map(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields}


@dataclass(frozen=True)
class NewRow:
    division: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Ingested:
    dataset: str
    batch: str
    rows: int
    digest: str
    leaf_index: int
    leaf_hash: bytes


def row_label(dataset: str, division: str) -> str:
    """What a row's ciphertext is bound to besides its batch: its dataset and division, the
    columns reads select it by, so a row moved to another division or dataset never opens."""
    return f"{dataset}/{division}"


def rows_digest(boxes: Sequence[sealing.SealedData]) -> str:
    """``sha256:`` + hex SHA-256 over the batch's rows in order, each as
    ``nonce (12) || uint32be(len(ciphertext)) || ciphertext``: commits to the stored bytes."""
    h = hashlib.sha256()
    for box in boxes:
        h.update(box.nonce)
        h.update(len(box.ciphertext).to_bytes(4, "big"))
        h.update(box.ciphertext)
    return "sha256:" + h.hexdigest()


def publish(
    ctx: Context, *, code: str, name: str, sharing_class: SharingClass, fields: list[FieldSpec]
) -> DatasetInfo:
    """Publish a dataset owned by the caller's (county-level) unit; relayed to GrantRegistry."""
    ctx.caller.require(Capability.PUBLISH_DATASETS)
    if not model.DATASET_CODE.fullmatch(code):
        raise InvalidInputError("dataset code: want 1-64 of A-Z a-z 0-9 _ . - (a resource code)")
    model.check_fields(fields)
    owner = ctx.caller.unit_code
    level = ctx.conn.execute(select(units.c.level).where(units.c.code == owner)).scalar_one()
    if level != "county":
        raise model.NotDatasetOwnerError(
            f"datasets are owned by county-level departments; {owner} is a {level} unit"
        )
    if get_dataset(ctx.conn, code) is not None:
        raise model.DatasetExistsError(f"dataset {code} is already published", dataset=code)
    body = {
        "code": code,
        "name": name,
        "owner": owner,
        "sharing_class": sharing_class.value,
        "fields": [f.to_json() for f in fields],
    }
    written = journal.write_one(
        ctx.conn,
        journal.Draft(kind="sharing.dataset.published", unit=owner, body=body, subject=code),
        now=ctx.now,
        principal_id=ctx.caller.principal_id,
    )
    try:
        ctx.conn.execute(
            insert(datasets).values(
                code=code,
                name=name,
                owner_code=owner,
                sharing_class=sharing_class.value,
                fields=[f.to_json() for f in fields],
                created_at=ctx.now,
                record_id=written.id,
            )
        )
    except IntegrityError:  # published concurrently, between the check and the insert
        raise model.DatasetExistsError(f"dataset {code} is already published") from None
    info = DatasetInfo(code, name, owner, sharing_class, fields, ctx.now, written.id)
    enqueue(
        ctx.conn,
        "dataset",
        info.chain_id,
        {
            "dataset_id": info.chain_id,
            "owner_id": "0x" + chain_vetting.unit_id(owner).hex(),
            "sharing_class": sharing_class.chain,
        },
        now=ctx.now,
    )
    return info


def _info(row: Any) -> DatasetInfo:
    return DatasetInfo(
        code=row.code,
        name=row.name,
        owner=row.owner_code,
        sharing_class=SharingClass(row.sharing_class),
        fields=[FieldSpec.from_json(f) for f in row.fields],
        created_at=model.utc(row.created_at),
        record_id=row.record_id,
    )


def get_dataset(conn: Connection, code: str) -> DatasetInfo | None:
    row = conn.execute(select(datasets).where(datasets.c.code == code)).first()
    return None if row is None else _info(row)


def require_dataset(conn: Connection, code: str) -> DatasetInfo:
    info = get_dataset(conn, code)
    if info is None:
        raise NotFoundError(f"no dataset {code}", dataset=code)
    return info


def read_dataset(ctx: Context, code: str) -> DatasetInfo:
    """A catalogue item: the catalogue is public to every unit that may read datasets."""
    ctx.caller.require(Capability.READ_DATASETS)
    return require_dataset(ctx.conn, code)


def list_datasets(ctx: Context, *, owner: str | None, after: str | None, limit: int) -> list[Any]:
    ctx.caller.require(Capability.READ_DATASETS)
    query = select(datasets).order_by(datasets.c.code).limit(limit)
    if owner is not None:
        query = query.where(datasets.c.owner_code == owner)
    if after is not None:
        query = query.where(datasets.c.code > after)
    return [_info(r) for r in ctx.conn.execute(query)]


def ingest(ctx: Context, code: str, rows: Sequence[NewRow]) -> Ingested:
    """Add ``rows`` to the caller's dataset ``code`` as one batch: all of them or none.

    Each row's division must be a registered village or township, or the city; each
    value must fit its declared field (or be null). One log entry for the batch.
    """
    ctx.caller.require(Capability.PUBLISH_DATASETS)
    info = require_dataset(ctx.conn, code)
    if info.owner != ctx.caller.unit_code:
        raise model.NotDatasetOwnerError(
            f"only its owner {info.owner} adds rows to dataset {code}", dataset=code
        )
    if not 1 <= len(rows) <= MAX_ROWS:
        raise InvalidInputError(f"{len(rows)} rows, want 1 to {MAX_ROWS} per request")
    fields = info.field_map()
    for n, row in enumerate(rows):
        model.check_values(f"rows[{n}].values", row.values, fields)
    _check_divisions(ctx.conn, {row.division for row in rows})

    batch = journal.new_id()
    labels = [row_label(code, row.division) for row in rows]
    key, boxes = sealing.seal_rows(ctx.master, batch, [row.values for row in rows], labels=labels)
    digest = rows_digest(boxes)
    # The heavy inserts go before the log entry: journal.write holds the log's lock
    # until the transaction ends.
    ctx.conn.execute(
        insert(data_keys).values(record_id=batch, wrapped_key=key.wrapped, salt=sealing.new_salt())
    )
    insert_rows(
        ctx.conn,
        dataset_rows,
        [
            {
                "dataset_code": code,
                "division_code": row.division,
                "batch_record_id": batch,
                "nonce": box.nonce,
                "ciphertext": box.ciphertext,
            }
            for row, box in zip(rows, boxes, strict=True)
        ],
    )
    written = journal.write_one(
        ctx.conn,
        journal.Draft(
            kind="sharing.rows.ingested",
            unit=info.owner,
            body={"dataset": code, "batch": batch, "rows": len(rows), "digest": digest},
            subject=code,
            entry_id=batch,
        ),
        now=ctx.now,
        principal_id=ctx.caller.principal_id,
    )
    return Ingested(code, batch, len(rows), digest, written.leaf_index, written.leaf_hash)


def _check_divisions(conn: Connection, divisions: set[str]) -> None:
    wanted = divisions - {CITY}
    if not wanted:
        return
    found = set(
        conn.execute(
            select(units.c.code).where(units.c.code.in_(wanted), units.c.level != "county")
        ).scalars()
    )
    missing = sorted(wanted - found)
    if missing:
        shown = ", ".join(m for m in missing[:5] if model.DATASET_CODE.fullmatch(m))
        raise model.UnknownDivisionError(
            f"division {shown or '(malformed)'}: want a registered village or township, "
            f"or the city {CITY}"
        )
