"""Grant requests (共享申请), answers, grants (共享授权) and revocations (DOMAIN.md §6.3).

A unit requests fields of a dataset for a purpose and a window. A NOT_SHARED dataset
cannot be requested. A request on an UNCONDITIONAL dataset is approved at once, in the
same transaction: the 2016 measures let the user take such data directly, so the platform
answers for the owner and signs with the owner's custodial key (the answer's entry says
``"automatic": true``; its ``principal_id`` is the requester's, whose request it was).
A CONDITIONAL request waits for the owner's answer, once: APPROVED,
PARTIALLY_APPROVED (a strict subset of the fields, the usual case) or DENIED (with
reasons). An approval is a grant: ``ledger.chain.grants.Grant`` with the row scope
``{"division": <grantee>}`` (the grantee's own jurisdiction), signed by the owner's key,
logged, and relayed to GrantRegistry. The owner may revoke it at any time, once.

A grant's status at a time follows ``grants.is_active`` (the contract's rule), with the
answer's time as its issue time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from ledger import journal
from ledger.auth import Capability
from ledger.chain import grants as chain_grants
from ledger.chain import vetting as chain_vetting
from ledger.context import Context
from ledger.errors import InvalidInputError
from ledger.outbox import enqueue
from ledger.sharing import model
from ledger.sharing.datasets import DatasetInfo, require_dataset
from ledger.sharing.model import Decision, Purpose, SharingClass
from ledger.sharing.views import GrantInfo, RequestInfo, chain_request_id, get_grant, get_request
from ledger.store.domain import grant_answers, grant_requests, grant_revocations
from ledger.units.service import unit_private_key

# ---- requests -------------------------------------------------------------------------------


def request_grant(
    ctx: Context,
    *,
    dataset: str,
    purpose: Purpose,
    scenario: str,
    legal_basis: str,
    fields: Sequence[str],
    valid_from: datetime,
    valid_until: datetime,
) -> RequestInfo:
    """Request ``fields`` of ``dataset`` for the caller's unit; UNCONDITIONAL: granted at once."""
    ctx.caller.require(Capability.REQUEST_GRANTS)
    info = require_dataset(ctx.conn, dataset)
    if info.sharing_class is SharingClass.NOT_SHARED:
        raise model.DatasetNotSharedError(
            f"dataset {dataset} is not shared (不予共享): it cannot be requested", dataset=dataset
        )
    requester = ctx.caller.unit_code
    if requester == info.owner:
        raise InvalidInputError(f"unit {requester} owns dataset {dataset}: nothing to request")
    _check_field_names(info, fields)
    _check_window(valid_from, valid_until, now=ctx.now)
    request_id = journal.new_id()
    body = {
        "request": request_id,
        "dataset": dataset,
        "owner": info.owner,
        "requester": requester,
        "purpose": purpose.value,
        "scenario": scenario,
        "legal_basis": legal_basis,
        "fields": sorted(fields),
        "valid_from": model.rfc3339(valid_from),
        "valid_until": model.rfc3339(valid_until),
    }
    drafts = [journal.Draft("sharing.grant.requested", requester, body, subject=request_id)]
    automatic = info.sharing_class is SharingClass.UNCONDITIONAL
    if automatic:
        terms = _Terms(Decision.APPROVED, sorted(fields), valid_from, valid_until, None)
        drafts.append(_answer_draft(request_id, info, requester, terms, automatic=True))
    written = journal.write(ctx.conn, drafts, now=ctx.now, principal_id=ctx.caller.principal_id)
    ctx.conn.execute(
        insert(grant_requests).values(
            id=request_id,
            dataset_code=dataset,
            requester_code=requester,
            purpose=purpose.value,
            scenario=scenario,
            legal_basis=legal_basis,
            fields=sorted(fields),
            valid_from=valid_from,
            valid_until=valid_until,
            created_at=ctx.now,
            record_id=written[0].id,
            principal_id=ctx.caller.principal_id,
        )
    )
    if automatic:
        _record_answer(ctx, request_id, info, requester, terms, written[1])
    return get_request(ctx, request_id)


def _check_field_names(info: DatasetInfo, fields: Sequence[str]) -> None:
    if not fields:
        raise InvalidInputError("fields: want at least one field")
    if len(set(fields)) != len(fields):
        raise InvalidInputError("fields: a field is listed twice")
    declared = info.field_map()
    for n, name in enumerate(fields):
        if name not in declared:
            shown = name if model.FIELD_NAME.fullmatch(name) else "a name"
            raise model.UnknownFieldError(
                f"fields[{n}]: {shown} is not a field of dataset {info.code}"
            )


def _check_window(valid_from: datetime, valid_until: datetime, *, now: datetime) -> None:
    if valid_from >= valid_until:
        raise model.InvalidWindowError(
            f"empty window: valid_from {model.rfc3339(valid_from)} is not before "
            f"valid_until {model.rfc3339(valid_until)}"
        )
    if valid_until <= now:
        raise model.InvalidWindowError(
            f"the window ended at {model.rfc3339(valid_until)}, before now"
        )


# ---- answers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Terms:
    decision: Decision
    fields: list[str] | None
    valid_from: datetime | None
    valid_until: datetime | None
    reason: str | None


def answer(
    ctx: Context,
    request_id: str,
    *,
    decision: Decision,
    fields: Sequence[str] | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
    reason: str | None,
) -> RequestInfo:
    """The owner's answer to a request, once. An approval issues the grant."""
    ctx.caller.require(Capability.ANSWER_GRANTS)
    request = get_request(ctx, request_id)
    if request.owner != ctx.caller.unit_code:
        raise model.NotDatasetOwnerError(
            f"only the owner {request.owner} of dataset {request.dataset} answers its requests"
        )
    if request.answer is not None:
        raise model.AlreadyAnsweredError(
            f"request {request_id} was answered already ({request.answer.decision.value})",
            request=request_id,
        )
    terms = _answer_terms(request, decision, fields, valid_from, valid_until, reason, ctx.now)
    info = require_dataset(ctx.conn, request.dataset)
    written = journal.write_one(
        ctx.conn,
        _answer_draft(request_id, info, request.requester, terms, automatic=False),
        now=ctx.now,
        principal_id=ctx.caller.principal_id,
    )
    _record_answer(ctx, request_id, info, request.requester, terms, written)
    return get_request(ctx, request_id)


def _answer_terms(
    request: RequestInfo,
    decision: Decision,
    fields: Sequence[str] | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
    reason: str | None,
    now: datetime,
) -> _Terms:
    reason = reason.strip() if reason else None
    if decision is Decision.DENIED:
        if not reason:
            raise model.ReasonRequiredError("a refusal must give its reason")
        if fields is not None or valid_from is not None or valid_until is not None:
            raise InvalidInputError("a refusal has no fields and no window")
        return _Terms(decision, None, None, None, reason)
    asked = set(request.fields)
    if fields is not None and len(set(fields)) != len(fields):
        raise model.InvalidFieldsError("fields: a field is listed twice")
    if decision is Decision.APPROVED and fields is not None and set(fields) != asked:
        raise model.InvalidFieldsError(
            "APPROVED grants every requested field; use PARTIALLY_APPROVED for a subset"
        )
    if decision is Decision.PARTIALLY_APPROVED and (not fields or not set(fields) < asked):
        raise model.InvalidFieldsError(
            f"PARTIALLY_APPROVED needs fields, a strict subset of {sorted(asked)}"
        )
    start = valid_from or request.valid_from
    end = valid_until or request.valid_until
    if start < request.valid_from or end > request.valid_until:
        raise model.InvalidWindowError(
            f"the window may only narrow the requested {model.rfc3339(request.valid_from)}"
            f" .. {model.rfc3339(request.valid_until)}"
        )
    _check_window(start, end, now=now)
    granted = sorted(fields) if fields is not None else sorted(asked)
    return _Terms(decision, granted, start, end, reason)


def _answer_draft(
    request_id: str, info: DatasetInfo, grantee: str, terms: _Terms, *, automatic: bool
) -> journal.Draft:
    granted = terms.fields is not None
    body: dict[str, Any] = {
        "request": request_id,
        "dataset": info.code,
        "owner": info.owner,
        "grantee": grantee,
        "decision": terms.decision.value,
        "automatic": automatic,
        "reason": terms.reason,
        "fields": terms.fields,
        "row_scope": {"division": grantee} if granted else None,
        "valid_from": model.rfc3339(terms.valid_from) if terms.valid_from else None,
        "valid_until": model.rfc3339(terms.valid_until) if terms.valid_until else None,
        "scope_hash": "0x" + _scope_hash(terms, grantee).hex() if granted else None,
    }
    return journal.Draft("sharing.grant.answered", info.owner, body, subject=request_id)


def _scope_hash(terms: _Terms, grantee: str) -> bytes:
    assert terms.fields is not None
    return chain_grants.scope_hash(terms.fields, {"division": grantee})


def _record_answer(
    ctx: Context,
    request_id: str,
    info: DatasetInfo,
    grantee: str,
    terms: _Terms,
    written: journal.Written,
) -> None:
    domain = ctx.signing_domain()  # 503 without a chain (the transaction rolls back)
    values: dict[str, Any] = {
        "request_id": request_id,
        "decision": terms.decision.value,
        "reason": terms.reason,
        "decided_at": ctx.now,
        "record_id": written.id,
        "principal_id": ctx.caller.principal_id,
    }
    grant = signature = None
    if terms.fields is not None:
        assert terms.valid_from is not None and terms.valid_until is not None
        grant = chain_grants.Grant(
            dataset_id=chain_grants.dataset_id(info.code),
            grantee_unit_id=chain_vetting.unit_id(grantee),
            scope_hash=_scope_hash(terms, grantee),
            valid_from=model.unix(terms.valid_from),
            valid_until=model.unix(terms.valid_until),
            request_id=chain_request_id(request_id),
            leaf_hash=written.leaf_hash,
        )
        signature = chain_grants.sign_grant(
            unit_private_key(ctx.conn, ctx.master, info.owner),
            grant,
            chain_id=domain.chain_id,
            contract=domain.grants,
        )
        values |= {
            "grant_id": "0x" + chain_grants.grant_id(grant).hex(),
            "fields": terms.fields,
            "row_scope": grantee,
            "valid_from": terms.valid_from,
            "valid_until": terms.valid_until,
            "scope_hash": grant.scope_hash,
            "signature": signature,
        }
    try:
        ctx.conn.execute(insert(grant_answers).values(**values))
    except IntegrityError:  # answered concurrently, between the check and the insert
        raise model.AlreadyAnsweredError(f"request {request_id} was answered already") from None
    if grant is not None:
        enqueue(
            ctx.conn,
            "grant",
            values["grant_id"],
            {
                "abi": [
                    "0x" + grant.dataset_id.hex(),
                    "0x" + grant.grantee_unit_id.hex(),
                    "0x" + grant.scope_hash.hex(),
                    grant.valid_from,
                    grant.valid_until,
                    "0x" + grant.request_id.hex(),
                    "0x" + grant.leaf_hash.hex(),
                ]
            },
            now=ctx.now,
            signature=signature,
        )


# ---- revocations ----------------------------------------------------------------------------


def revoke(ctx: Context, grant_id: str, *, reason: str) -> GrantInfo:
    """Revoke a grant of the caller's dataset, once; signed by the owner's key."""
    domain = ctx.signing_domain()  # before any write: 503 without a chain
    ctx.caller.require(Capability.ANSWER_GRANTS)
    grant = get_grant(ctx, grant_id)
    if grant.owner != ctx.caller.unit_code:
        raise model.NotDatasetOwnerError(f"only the owner {grant.owner} revokes this grant")
    if grant.revoked_at is not None:
        raise model.AlreadyRevokedError(f"grant {grant_id} was revoked already", grant=grant_id)
    if not reason.strip():
        raise model.ReasonRequiredError("a revocation must give its reason")
    written = journal.write_one(
        ctx.conn,
        journal.Draft(
            "sharing.grant.revoked",
            grant.owner,
            {
                "grant": grant_id,
                "request": grant.request_id,
                "dataset": grant.dataset,
                "grantee": grant.grantee,
                "reason": reason.strip(),
            },
            subject=grant_id,
        ),
        now=ctx.now,
        principal_id=ctx.caller.principal_id,
    )
    revocation = chain_grants.Revocation(bytes.fromhex(grant_id[2:]), written.leaf_hash)
    signature = chain_grants.sign_revocation(
        unit_private_key(ctx.conn, ctx.master, grant.owner),
        revocation,
        chain_id=domain.chain_id,
        contract=domain.grants,
    )
    try:
        ctx.conn.execute(
            insert(grant_revocations).values(
                grant_id=grant_id,
                reason=reason.strip(),
                signature=signature,
                revoked_at=ctx.now,
                record_id=written.id,
                principal_id=ctx.caller.principal_id,
            )
        )
    except IntegrityError:
        raise model.AlreadyRevokedError(f"grant {grant_id} was revoked already") from None
    enqueue(
        ctx.conn,
        "revocation",
        "0x"
        + chain_grants.revocation_digest(
            revocation, chain_id=domain.chain_id, contract=domain.grants
        ).hex(),
        {"abi": [grant_id, "0x" + written.leaf_hash.hex()]},
        now=ctx.now,
        signature=signature,
    )
    return get_grant(ctx, grant_id)
