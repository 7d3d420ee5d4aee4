"""Every governed read against the grants: each ``access_entries`` row must fall within a
grant active at its time (:func:`ledger.chain.grants.is_active`, the contract's rule, with
the answer's time as the issue time), for the reading unit, the dataset and the purpose.
Each violation names the access record and says why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from ledger.audit.findings import Findings, ProgressCallback
from ledger.audit.message_checks import unix
from ledger.chain import grants as g
from ledger.errors import LedgerError
from ledger.store.domain import (
    access_entries,
    grant_answers,
    grant_requests,
    grant_revocations,
    records,
)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_access(conn: Connection, findings: Findings, progress: ProgressCallback) -> int:
    """Each access entry within a grant active at its time, for its unit, dataset, purpose."""
    rows = conn.execute(
        select(
            access_entries,
            records.c.leaf_index,
            grant_answers.c.request_id,
            grant_answers.c.decided_at,
            grant_answers.c.valid_from,
            grant_answers.c.valid_until,
            grant_requests.c.dataset_code.label("grant_dataset"),
            grant_requests.c.requester_code,
            grant_requests.c.purpose.label("grant_purpose"),
            grant_revocations.c.revoked_at,
        )
        .outerjoin(records, records.c.id == access_entries.c.record_id)
        .outerjoin(grant_answers, grant_answers.c.grant_id == access_entries.c.grant_id)
        .outerjoin(grant_requests, grant_requests.c.id == grant_answers.c.request_id)
        .outerjoin(grant_revocations, grant_revocations.c.grant_id == access_entries.c.grant_id)
        .order_by(access_entries.c.at)
    ).all()
    progress("access entries", 0, len(rows))
    for r in rows:
        reasons = _why_not_active(r)
        if reasons:
            findings.add(
                "access_outside_grant",
                f"access {r.record_id} by {r.unit_code} at {_utc(r.at).isoformat()} under "
                f"grant {r.grant_id}: " + "; ".join(reasons),
                record_ids=[r.record_id],
                leaf_indices=[r.leaf_index],
                grant=r.grant_id,
                unit=r.unit_code,
                at=_utc(r.at),
                reasons=reasons,
            )
    progress("access entries", len(rows), len(rows))
    return len(rows)


def _why_not_active(r: Any) -> list[str]:
    if r.request_id is None or r.valid_from is None or r.valid_until is None:
        return ["no grant with this id is in the database"]
    reasons = []
    if r.requester_code != r.unit_code:
        reasons.append(f"the grant is for unit {r.requester_code}")
    if r.grant_dataset != r.dataset_code:
        reasons.append(f"the grant is for dataset {r.grant_dataset}, not {r.dataset_code}")
    if r.grant_purpose != r.purpose:
        reasons.append(f"the grant is for purpose {r.grant_purpose}, not {r.purpose}")
    at, issued = unix(r.at), unix(r.decided_at)
    revoked = unix(r.revoked_at) if r.revoked_at is not None else None
    try:
        terms = g.Grant(
            dataset_id=bytes(32),
            grantee_unit_id=bytes(32),
            scope_hash=bytes(32),
            valid_from=unix(r.valid_from),
            valid_until=unix(r.valid_until),
            request_id=bytes(32),
            leaf_hash=bytes(32),
        )
    except LedgerError as exc:
        return [*reasons, f"the grant's window is invalid: {exc.message}"]
    if not g.is_active(terms, revoked, at, issued_at=issued):
        if at < issued:
            reasons.append(f"the grant was issued later, at {_utc(r.decided_at).isoformat()}")
        if not terms.valid_from <= at < terms.valid_until:
            reasons.append(
                f"outside the grant's window {_utc(r.valid_from).isoformat()} .. "
                f"{_utc(r.valid_until).isoformat()}"
            )
        if revoked is not None and revoked <= at:
            reasons.append(f"the grant was revoked at {_utc(r.revoked_at).isoformat()}")
    return reasons
