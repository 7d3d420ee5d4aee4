"""Records: write (one or a batch), read, erase the personal part, fetch the receipt."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.deps import EraseRecords, ReadRecords, WriteRecords
from api.routers.common import ERRORS, Strict
from ledger import records
from ledger.journal import Written

router = APIRouter(prefix="/v1/records", tags=["records"], responses=ERRORS)

RecordIdPath = Annotated[str, Path(min_length=1, max_length=64)]


class RecordCreate(Strict):
    kind: str = Field(
        default="record",
        max_length=47,
        description="'record' or 'record.<name>' (e.g. 'record.village_notice').",
    )
    body: dict[str, Any] = Field(description="Public, non-personal fields (logged as is).")
    personal: dict[str, Any] | None = Field(
        default=None,
        description="Personal fields: sealed (encrypted at rest); the log holds a salted "
        "commitment only.",
    )


class RecordBatch(Strict):
    records: list[RecordCreate] = Field(min_length=1, max_length=records.MAX_BATCH)


class RecordCreated(BaseModel):
    id: str
    leaf_index: int
    leaf_hash: str
    at: str


class RecordBatchCreated(BaseModel):
    records: list[RecordCreated]


class RecordPublic(BaseModel):
    id: str
    leaf_index: int
    leaf_hash: str
    entry: dict[str, Any]
    erased: bool
    personal: dict[str, Any] | None = Field(
        description="The sealed part, for the writing unit only; null once erased."
    )


class Erase(Strict):
    reason: str = Field(min_length=1, max_length=256)


def _created(w: Written) -> RecordCreated:
    return RecordCreated(
        id=w.id, leaf_index=w.leaf_index, leaf_hash=w.leaf_hash.hex(), at=w.entry.at
    )


def _new(r: RecordCreate) -> records.NewRecord:
    return records.NewRecord(r.kind, r.body, r.personal)


# Writes go through group commit (svc.commit): the checks and sealing run here, in the
# request's thread; concurrent requests then share one transaction and one commit.


@router.post("", status_code=201)
def create_record(body: RecordCreate, svc: WriteRecords) -> RecordCreated:
    """Write a record; it is committed (durable, with its leaf index) before the reply."""
    batch = records.prepare(svc.caller, svc.now, svc.ledger.master, [_new(body)])
    (written,) = svc.commit(batch)
    return _created(written)


@router.post("/batch", status_code=201)
def create_records(body: RecordBatch, svc: WriteRecords) -> RecordBatchCreated:
    """Write up to 1000 records in one transaction: all or none."""
    batch = records.prepare(svc.caller, svc.now, svc.ledger.master, [_new(r) for r in body.records])
    written = svc.commit(batch)
    return RecordBatchCreated(records=[_created(w) for w in written])


@router.get("/{record_id}")
def get_record(record_id: RecordIdPath, svc: ReadRecords) -> RecordPublic:
    with svc.reading() as ctx:
        stored = records.get(ctx, record_id)
    return RecordPublic(
        id=stored.entry.id,
        leaf_index=stored.leaf_index,
        leaf_hash=stored.leaf_hash.hex(),
        entry=stored.entry.to_json(),
        erased=stored.erased,
        personal=stored.personal,
    )


@router.post("/{record_id}/erase")
def erase_record(record_id: RecordIdPath, body: Erase, svc: EraseRecords) -> RecordCreated:
    """Destroy the record's personal data (its key and salt); returns the tombstone record."""
    with svc.transaction() as ctx:
        tombstone = records.erase(ctx, record_id, reason=body.reason)
    return _created(tombstone)


@router.get("/{record_id}/receipt", responses={409: ERRORS[409]})
def get_receipt(record_id: RecordIdPath, svc: ReadRecords) -> dict[str, Any]:
    """The record's receipt (civic-ledger/receipt/v1), once a checkpoint covering it is
    anchored and final; 409 ``not_anchored`` before."""
    ledger = svc.ledger
    with svc.reading() as ctx:
        receipt = records.receipt(
            ctx,
            record_id,
            verifier_key=ledger.signer.verifier().to_verifier_key(),
            origin=ledger.settings.log_origin,
            reader=ledger.log.reader,  # the log's shared tile cache
        )
    return receipt.to_json()
