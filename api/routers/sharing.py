"""Data sharing (共建共享 基层社会治理数据库): datasets, rows, grant requests, grants, governed
reads and the access trail. Thin: parse, call ``ledger.sharing.service``, map the result."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    AnswerGrants,
    PublishDatasets,
    ReadAccessTrail,
    ReadDatasets,
    ReadGrants,
    ReadSharedData,
    RequestGrants,
)
from api.routers.common import ERRORS, After, Limit, Page, Strict, page
from ledger.errors import InvalidInputError
from ledger.sharing import service
from ledger.sharing.model import (
    RFC3339,
    Decision,
    FieldSpec,
    FieldType,
    GrantStatus,
    Masking,
    Purpose,
    Sensitivity,
    SharingClass,
    parse_time,
)

router = APIRouter(prefix="/v1", tags=["sharing"], responses=ERRORS)

_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_UNIT = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
_GRANT = r"^0x[0-9a-f]{64}$"
DatasetCode = Annotated[str, Path(pattern=_CODE)]
GrantIdPath = Annotated[str, Path(pattern=_GRANT, description="0x + 64 hex: the grant id.")]
RequestIdPath = Annotated[str, Path(min_length=1, max_length=36)]
Time = Annotated[str, Field(pattern=RFC3339, examples=["2026-01-05T00:00:00Z"])]
FieldName = Annotated[str, Field(min_length=1, max_length=64)]


def _cursor(after: str | None) -> int | None:
    if after is None:
        return None
    if not (after.isascii() and after.isdigit() and int(after) < 2**63):
        raise InvalidInputError("after: want the `next` of the previous page")
    return int(after)


# ---- datasets -------------------------------------------------------------------------------


class DataItem(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", examples=["id_number"])
    type: Annotated[FieldType, Field(strict=False)]
    sensitivity: Annotated[Sensitivity, Field(strict=False)]
    personal: bool
    masking: Annotated[Masking | None, Field(strict=False)] = None


class DatasetCreate(Strict):
    code: str = Field(pattern=_CODE, examples=["GA-CRIMINAL-RECORD-CHECK"])
    name: str = Field(min_length=1, max_length=128, examples=["违法犯罪记录核验"])
    sharing_class: Annotated[SharingClass, Field(strict=False)]
    fields: list[DataItem] = Field(min_length=1, max_length=64)


class DatasetPublic(BaseModel):
    code: str
    name: str
    owner: str
    sharing_class: SharingClass
    fields: list[DataItem]
    dataset_id: str = Field(description="keccak256(code): the dataset's id on chain.")
    created_at: datetime
    record_id: str


def _dataset(info: service.DatasetInfo) -> DatasetPublic:
    return DatasetPublic(
        code=info.code,
        name=info.name,
        owner=info.owner,
        sharing_class=info.sharing_class,
        fields=[DataItem.model_validate(f.to_json(), strict=False) for f in info.fields],
        dataset_id=info.chain_id,
        created_at=info.created_at,
        record_id=info.record_id,
    )


@router.post("/datasets", status_code=201)
def publish_dataset(body: DatasetCreate, svc: PublishDatasets) -> DatasetPublic:
    """Publish a dataset owned by the caller's department; logged and relayed to GrantRegistry."""
    fields = [FieldSpec(f.name, f.type, f.sensitivity, f.personal, f.masking) for f in body.fields]
    with svc.transaction() as ctx:
        info = service.publish(
            ctx, code=body.code, name=body.name, sharing_class=body.sharing_class, fields=fields
        )
    return _dataset(info)


@router.get("/datasets")
def list_datasets(
    svc: ReadDatasets,
    owner: Annotated[str | None, Query(pattern=_UNIT)] = None,
    limit: Limit = 100,
    after: After = None,
) -> Page[DatasetPublic]:
    """The catalogue, by code."""
    with svc.reading() as ctx:
        found = service.list_datasets(ctx, owner=owner, after=after, limit=limit + 1)
    return page([_dataset(d) for d in found], limit, lambda d: d.code)


@router.get("/datasets/{code}")
def get_dataset(code: DatasetCode, svc: ReadDatasets) -> DatasetPublic:
    """A catalogue item: owner, sharing class and data items (never rows)."""
    with svc.reading() as ctx:
        return _dataset(service.read_dataset(ctx, code))


class Row(Strict):
    division: str = Field(
        pattern=_UNIT, description="The row's village, township, or the city 222404."
    )
    values: dict[str, Any] = Field(description="field -> value (or null); sealed at rest.")


class RowsCreate(Strict):
    rows: list[Row] = Field(min_length=1, max_length=service.MAX_ROWS)


class RowsIngested(BaseModel):
    dataset: str
    batch: str = Field(description="The batch's record id (its data key is under it).")
    rows: int
    digest: str = Field(description="SHA-256 over the rows' ciphertexts, as logged.")
    leaf_index: int
    leaf_hash: str


@router.post("/datasets/{code}/rows", status_code=201)
def ingest_rows(code: DatasetCode, body: RowsCreate, svc: PublishDatasets) -> RowsIngested:
    """Add up to 5000 rows to the caller's dataset as one sealed batch: all or none."""
    rows = [service.NewRow(r.division, r.values) for r in body.rows]
    with svc.transaction() as ctx:
        done = service.ingest(ctx, code, rows)
    return RowsIngested(
        dataset=done.dataset,
        batch=done.batch,
        rows=done.rows,
        digest=done.digest,
        leaf_index=done.leaf_index,
        leaf_hash=done.leaf_hash.hex(),
    )


# ---- grant requests -------------------------------------------------------------------------


class GrantRequestCreate(Strict):
    dataset: str = Field(pattern=_CODE)
    purpose: Annotated[Purpose, Field(strict=False)]
    scenario: str = Field(min_length=1, max_length=128, examples=["2026年两委换届资格联审"])
    legal_basis: str = Field(min_length=1, max_length=256, description="Public: logged.")
    fields: list[FieldName] = Field(min_length=1, max_length=64)
    valid_from: Time
    valid_until: Time


class AnswerCreate(Strict):
    decision: Annotated[Decision, Field(strict=False)]
    fields: list[FieldName] | None = Field(
        default=None, max_length=64, description="The granted subset (PARTIALLY_APPROVED)."
    )
    valid_from: Time | None = Field(default=None, description="Narrow the window, optionally.")
    valid_until: Time | None = None
    reason: str | None = Field(default=None, max_length=1000, description="Required to deny.")


class AnswerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    decision: Decision
    reason: str | None
    fields: list[str] | None
    valid_from: datetime | None
    valid_until: datetime | None
    decided_at: datetime
    record_id: str
    grant_id: str | None
    automatic: bool = Field(description="Answered by the platform (UNCONDITIONAL dataset).")


class GrantRequestPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    dataset: str
    owner: str
    requester: str
    purpose: Purpose
    scenario: str
    legal_basis: str
    fields: list[str]
    valid_from: datetime
    valid_until: datetime
    created_at: datetime
    record_id: str
    leaf_index: int
    status: str = Field(description="PENDING, APPROVED, PARTIALLY_APPROVED or DENIED.")
    answer: AnswerPublic | None


def _request(r: service.RequestInfo) -> GrantRequestPublic:
    return GrantRequestPublic.model_validate(r)


@router.post("/grant-requests", status_code=201)
def request_grant(body: GrantRequestCreate, svc: RequestGrants) -> GrantRequestPublic:
    """Request fields of a dataset for the caller's unit. NOT_SHARED: 403
    ``dataset_not_shared``. UNCONDITIONAL: approved at once, signed by the platform with
    the owner's custodial key."""
    valid_from = parse_time(body.valid_from, "valid_from")
    valid_until = parse_time(body.valid_until, "valid_until")
    with svc.transaction() as ctx:
        made = service.request_grant(
            ctx,
            dataset=body.dataset,
            purpose=body.purpose,
            scenario=body.scenario,
            legal_basis=body.legal_basis,
            fields=body.fields,
            valid_from=valid_from,
            valid_until=valid_until,
        )
    return _request(made)


@router.get("/grant-requests")
def list_requests(
    svc: ReadGrants,
    dataset: Annotated[str | None, Query(pattern=_CODE)] = None,
    limit: Limit = 100,
    after: After = None,
) -> Page[GrantRequestPublic]:
    """Requests by or to the caller's unit (all for the auditor and the administrator)."""
    with svc.reading() as ctx:
        found = service.list_requests(ctx, dataset=dataset, after=_cursor(after), limit=limit + 1)
    return page([_request(r) for r in found], limit, lambda r: r.leaf_index)


@router.get("/grant-requests/{request_id}")
def get_request(request_id: RequestIdPath, svc: ReadGrants) -> GrantRequestPublic:
    """A request and its answer, for its requester, the dataset's owner and the auditor."""
    with svc.reading() as ctx:
        return _request(service.get_request(ctx, request_id))


@router.post("/grant-requests/{request_id}/answer")
def answer_request(
    request_id: RequestIdPath, body: AnswerCreate, svc: AnswerGrants
) -> GrantRequestPublic:
    """The owner's answer, once (409 ``already_answered``); an approval issues the grant,
    signed by the owner's key and relayed to GrantRegistry."""
    valid_from = parse_time(body.valid_from, "valid_from") if body.valid_from else None
    valid_until = parse_time(body.valid_until, "valid_until") if body.valid_until else None
    with svc.transaction() as ctx:
        answered = service.answer(
            ctx,
            request_id,
            decision=body.decision,
            fields=body.fields,
            valid_from=valid_from,
            valid_until=valid_until,
            reason=body.reason,
        )
    return _request(answered)


# ---- grants ---------------------------------------------------------------------------------


class GrantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    grant_id: str
    request_id: str
    dataset: str
    owner: str
    grantee: str
    purpose: Purpose
    decision: Decision
    fields: list[str]
    row_scope: dict[str, str]
    valid_from: datetime
    valid_until: datetime
    issued_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None
    status: GrantStatus = Field(description="The grant's state at the time of the request.")
    scope_hash: str
    signature: str = Field(description="The owner's EIP-712 signature of the grant.")
    record_id: str = Field(description="The answer's record: the grant's entry in the log.")
    leaf_index: int
    leaf_hash: str


def _grant(g: service.GrantInfo, now: datetime) -> GrantPublic:
    return GrantPublic.model_validate(
        {
            **asdict(g),
            "row_scope": g.row_scope,
            "status": g.status(now),
            "scope_hash": "0x" + g.scope_hash.hex(),
            "signature": "0x" + g.signature.hex(),
            "leaf_hash": g.leaf_hash.hex(),
        }
    )


@router.get("/grants")
def list_grants(
    svc: ReadGrants,
    dataset: Annotated[str | None, Query(pattern=_CODE)] = None,
    limit: Limit = 100,
    after: After = None,
) -> Page[GrantPublic]:
    """Grants to or from the caller's unit (all for the auditor and the administrator)."""
    with svc.reading() as ctx:
        found = service.list_grants(ctx, dataset=dataset, after=_cursor(after), limit=limit + 1)
    return page([_grant(g, svc.now) for g in found], limit, lambda g: g.leaf_index)


@router.get("/grants/{grant_id}")
def get_grant(grant_id: GrantIdPath, svc: ReadGrants) -> GrantPublic:
    """A grant's signed terms and its status now."""
    with svc.reading() as ctx:
        return _grant(service.get_grant(ctx, grant_id), svc.now)


class Revoke(Strict):
    reason: str = Field(min_length=1, max_length=1000)


@router.post("/grants/{grant_id}/revoke")
def revoke_grant(grant_id: GrantIdPath, body: Revoke, svc: AnswerGrants) -> GrantPublic:
    """Revoke a grant of the caller's dataset, once (409 ``already_revoked``)."""
    with svc.transaction() as ctx:
        revoked = service.revoke(ctx, grant_id, reason=body.reason)
    return _grant(revoked, svc.now)


# ---- governed reads and the access trail ----------------------------------------------------


class ReadFilter(Strict):
    division: str | None = Field(default=None, pattern=_UNIT)


class ReadCreate(Strict):
    purpose: Annotated[Purpose, Field(strict=False)]
    filter: ReadFilter = Field(default_factory=ReadFilter)
    limit: int = Field(default=100, ge=1, le=service.MAX_LIMIT)
    after: int | None = Field(
        default=None, ge=0, lt=2**63, description="The `next` of the last read."
    )


class SharedRowPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    row: int
    division: str
    values: dict[str, Any]


class ReadPublic(BaseModel):
    grant: str
    dataset: str
    fields: list[str]
    masked: list[str] = Field(description="Fields shown masked (UNCONDITIONAL datasets).")
    rows: list[SharedRowPublic]
    next: int | None
    access_record: str = Field(description="The access entry this read wrote to the log.")
    leaf_hash: str


@router.post("/grants/{grant_id}/reads")
def read_shared(grant_id: GrantIdPath, body: ReadCreate, svc: ReadSharedData) -> ReadPublic:
    """Read the granted fields of rows in the caller's jurisdiction, under an ACTIVE grant
    (403 ``grant_not_active`` otherwise, and nothing is written). Every read is logged."""
    with svc.transaction() as ctx:
        result = service.read(
            ctx,
            grant_id,
            purpose=body.purpose,
            division=body.filter.division,
            limit=body.limit,
            after=body.after,
        )
    return ReadPublic(
        grant=result.grant,
        dataset=result.dataset,
        fields=result.fields,
        masked=result.masked,
        rows=[
            SharedRowPublic(row=r.row, division=r.division, values=r.values) for r in result.rows
        ],
        next=result.next,
        access_record=result.access_record,
        leaf_hash=result.leaf_hash.hex(),
    )


class AccessPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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


@router.get("/access-trail")
def access_trail(
    svc: ReadAccessTrail,
    grant: Annotated[str | None, Query(pattern=_GRANT)] = None,
    unit: Annotated[str | None, Query(pattern=_UNIT)] = None,
    limit: Limit = 100,
    after: After = None,
) -> Page[AccessPublic]:
    """Every governed read, in log order: the auditor's (and the administrator's) view."""
    with svc.reading() as ctx:
        found = service.access_trail(
            ctx, grant=grant, unit=unit, after=_cursor(after), limit=limit + 1
        )
    return page([AccessPublic.model_validate(a) for a in found], limit, lambda a: a.leaf_index)


@router.get("/grants/{grant_id}/access-trail")
def grant_access_trail(
    grant_id: GrantIdPath, svc: ReadGrants, limit: Limit = 100, after: After = None
) -> Page[AccessPublic]:
    """The reads made under one grant: for its owner, its grantee and the auditor."""
    with svc.reading() as ctx:
        found = service.grant_access_trail(ctx, grant_id, after=_cursor(after), limit=limit + 1)
    return page([AccessPublic.model_validate(a) for a in found], limit, lambda a: a.leaf_index)
