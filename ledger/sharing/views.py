"""What the sharing service reports about requests and grants, and who may see which.

Visibility: a unit sees the requests and grants it is the requester (grantee) of, and
those on datasets it owns; the auditor and the platform administrator see all of them.
Lists are ordered by the leaf index of the request's (grant's) record: the log's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eth_utils.crypto import keccak
from sqlalchemy import Connection, Select, or_, select

from ledger.auth import Caller, Capability, Role
from ledger.chain import grants as chain_grants
from ledger.chain import vetting as chain_vetting
from ledger.context import Context
from ledger.errors import NotFoundError
from ledger.sharing import model
from ledger.sharing.model import Decision, GrantStatus, Purpose, SharingClass
from ledger.store.domain import (
    datasets,
    grant_answers,
    grant_requests,
    grant_revocations,
    records,
)
from ledger.store.models import log_leaves

_SEES_ALL = (Role.AUDITOR, Role.PLATFORM_ADMIN)


@dataclass(frozen=True)
class Answer:
    decision: Decision
    reason: str | None
    fields: list[str] | None
    valid_from: datetime | None
    valid_until: datetime | None
    decided_at: datetime
    record_id: str
    grant_id: str | None
    automatic: bool


@dataclass(frozen=True)
class RequestInfo:
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
    answer: Answer | None

    @property
    def status(self) -> str:
        return "PENDING" if self.answer is None else self.answer.decision.value


@dataclass(frozen=True)
class GrantInfo:
    grant_id: str
    request_id: str
    dataset: str
    owner: str
    grantee: str
    purpose: Purpose
    decision: Decision
    fields: list[str]
    valid_from: datetime
    valid_until: datetime
    issued_at: datetime
    scope_hash: bytes
    signature: bytes
    record_id: str
    leaf_index: int
    leaf_hash: bytes
    revoked_at: datetime | None
    revocation_reason: str | None

    @property
    def row_scope(self) -> dict[str, str]:
        return {"division": self.grantee}

    def terms(self) -> chain_grants.Grant:
        """The signed terms, rebuilt from the stored facts."""
        return chain_grants.Grant(
            dataset_id=chain_grants.dataset_id(self.dataset),
            grantee_unit_id=chain_vetting.unit_id(self.grantee),
            scope_hash=self.scope_hash,
            valid_from=model.unix(self.valid_from),
            valid_until=model.unix(self.valid_until),
            request_id=chain_request_id(self.request_id),
            leaf_hash=self.leaf_hash,
        )

    def status(self, at: datetime) -> GrantStatus:
        """The state at ``at``: ACTIVE exactly when ``grants.is_active`` says so."""
        t = model.unix(at)
        revoked = model.unix(self.revoked_at) if self.revoked_at else None
        if chain_grants.is_active(self.terms(), revoked, t, issued_at=model.unix(self.issued_at)):
            return GrantStatus.ACTIVE
        if revoked is not None and revoked <= t:
            return GrantStatus.REVOKED
        if t >= model.unix(self.valid_until):
            return GrantStatus.EXPIRED
        return GrantStatus.NOT_YET_ACTIVE


def chain_request_id(request_id: str) -> bytes:
    """``keccak256("civic-ledger/grant-request/v1:" || id)``: the request's id on chain."""
    return bytes(keccak(f"civic-ledger/grant-request/v1:{request_id}".encode()))


# ---- queries --------------------------------------------------------------------------------


def _visible(caller: Caller) -> Any:
    """Which requests and grants the caller sees: its own unit's, its datasets', or all."""
    if caller.role in _SEES_ALL:
        return None
    return or_(
        grant_requests.c.requester_code == caller.unit_code,
        datasets.c.owner_code == caller.unit_code,
    )


def _requests_query(caller: Caller) -> Select[Any]:
    query = (
        select(
            grant_requests,
            datasets.c.owner_code,
            datasets.c.sharing_class,
            records.c.leaf_index,
            grant_answers.c.decision,
            grant_answers.c.reason,
            grant_answers.c.fields.label("answer_fields"),
            grant_answers.c.valid_from.label("answer_from"),
            grant_answers.c.valid_until.label("answer_until"),
            grant_answers.c.decided_at,
            grant_answers.c.record_id.label("answer_record"),
            grant_answers.c.grant_id,
        )
        .join(datasets, datasets.c.code == grant_requests.c.dataset_code)
        .join(records, records.c.id == grant_requests.c.record_id)
        .outerjoin(grant_answers, grant_answers.c.request_id == grant_requests.c.id)
    )
    visible = _visible(caller)
    return query if visible is None else query.where(visible)


def _request(row: Any) -> RequestInfo:
    answer = None
    if row.decision is not None:
        answer = Answer(
            decision=Decision(row.decision),
            reason=row.reason,
            fields=row.answer_fields,
            valid_from=model.utc(row.answer_from) if row.answer_from else None,
            valid_until=model.utc(row.answer_until) if row.answer_until else None,
            decided_at=model.utc(row.decided_at),
            record_id=row.answer_record,
            grant_id=row.grant_id,
            automatic=row.sharing_class == SharingClass.UNCONDITIONAL.value,
        )
    return RequestInfo(
        id=row.id,
        dataset=row.dataset_code,
        owner=row.owner_code,
        requester=row.requester_code,
        purpose=Purpose(row.purpose),
        scenario=row.scenario,
        legal_basis=row.legal_basis,
        fields=list(row.fields),
        valid_from=model.utc(row.valid_from),
        valid_until=model.utc(row.valid_until),
        created_at=model.utc(row.created_at),
        record_id=row.record_id,
        leaf_index=int(row.leaf_index),
        answer=answer,
    )


def get_request(ctx: Context, request_id: str) -> RequestInfo:
    ctx.caller.require(Capability.READ_GRANTS)
    row = ctx.conn.execute(
        _requests_query(ctx.caller).where(grant_requests.c.id == request_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no grant request {request_id}")
    return _request(row)


def list_requests(
    ctx: Context, *, dataset: str | None, after: int | None, limit: int
) -> list[RequestInfo]:
    """Requests the caller may see, oldest first (by their records' leaf index)."""
    ctx.caller.require(Capability.READ_GRANTS)
    query = _requests_query(ctx.caller).order_by(records.c.leaf_index).limit(limit)
    if dataset is not None:
        query = query.where(grant_requests.c.dataset_code == dataset)
    if after is not None:
        query = query.where(records.c.leaf_index > after)
    return [_request(r) for r in ctx.conn.execute(query)]


def grants_query(caller: Caller | None) -> Select[Any]:
    """Grants joined with what their status and terms need; ``caller`` limits visibility."""
    query = (
        select(
            grant_answers,
            grant_requests.c.dataset_code,
            grant_requests.c.requester_code,
            grant_requests.c.purpose,
            datasets.c.owner_code,
            records.c.leaf_index,
            log_leaves.c.leaf_hash,
            grant_revocations.c.revoked_at,
            grant_revocations.c.reason.label("revocation_reason"),
        )
        .join(grant_requests, grant_requests.c.id == grant_answers.c.request_id)
        .join(datasets, datasets.c.code == grant_requests.c.dataset_code)
        .join(records, records.c.id == grant_answers.c.record_id)
        .join(log_leaves, log_leaves.c.entry_id == grant_answers.c.record_id)
        .outerjoin(grant_revocations, grant_revocations.c.grant_id == grant_answers.c.grant_id)
        .where(grant_answers.c.grant_id.is_not(None))
    )
    visible = None if caller is None else _visible(caller)
    return query if visible is None else query.where(visible)


def grant_info(row: Any) -> GrantInfo:
    return GrantInfo(
        grant_id=row.grant_id,
        request_id=row.request_id,
        dataset=row.dataset_code,
        owner=row.owner_code,
        grantee=row.requester_code,
        purpose=Purpose(row.purpose),
        decision=Decision(row.decision),
        fields=list(row.fields),
        valid_from=model.utc(row.valid_from),
        valid_until=model.utc(row.valid_until),
        issued_at=model.utc(row.decided_at),
        scope_hash=bytes(row.scope_hash),
        signature=bytes(row.signature),
        record_id=row.record_id,
        leaf_index=int(row.leaf_index),
        leaf_hash=bytes(row.leaf_hash),
        revoked_at=model.utc(row.revoked_at) if row.revoked_at else None,
        revocation_reason=row.revocation_reason,
    )


def find_grant(conn: Connection, grant_id: str) -> GrantInfo | None:
    """A grant by id, whoever asks (the caller's checks are the reader's)."""
    row = conn.execute(grants_query(None).where(grant_answers.c.grant_id == grant_id)).first()
    return None if row is None else grant_info(row)


def get_grant(ctx: Context, grant_id: str) -> GrantInfo:
    ctx.caller.require(Capability.READ_GRANTS)
    row = ctx.conn.execute(
        grants_query(ctx.caller).where(grant_answers.c.grant_id == grant_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no grant {grant_id}")
    return grant_info(row)


def list_grants(
    ctx: Context, *, dataset: str | None, after: int | None, limit: int
) -> list[GrantInfo]:
    """Grants the caller may see, oldest first (by their answers' leaf index)."""
    ctx.caller.require(Capability.READ_GRANTS)
    query = grants_query(ctx.caller).order_by(records.c.leaf_index).limit(limit)
    if dataset is not None:
        query = query.where(grant_requests.c.dataset_code == dataset)
    if after is not None:
        query = query.where(records.c.leaf_index > after)
    return [grant_info(r) for r in ctx.conn.execute(query)]
