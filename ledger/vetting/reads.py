"""The candidate reads: one, a list, a history, a search by ID number.

Each is shaped by the caller's role (:mod:`ledger.vetting.visibility`) and built by
:mod:`ledger.vetting.views`. Lists are in registration order (the leaf index of the
registration record), paged by the last candidate id.
"""

from __future__ import annotations

from sqlalchemy import select

from ledger import vault
from ledger.auth import Capability, OutOfJurisdictionError
from ledger.context import Context
from ledger.errors import InvalidInputError
from ledger.idcard import parse_id_number
from ledger.store.domain import candidates, records
from ledger.vetting.state import (
    CandidateInfo,
    candidate_from_row,
    candidate_query,
    require_candidate,
)
from ledger.vetting.views import CandidateView, EventView, HistoryView, batch, build
from ledger.vetting.visibility import Tier, scope, shown_outcome, tier_of

__all__ = ["OUTCOMES", "get_candidate", "history", "list_candidates", "search"]

OUTCOMES = ("PENDING", "PASSED", "FAILED", "DEFERRED", "RETURNED")
_CHUNK = 200


def get_candidate(ctx: Context, candidate_id: str) -> CandidateView:
    """One candidate as the caller may see it; 404 unknown, 403 not within its reach."""
    ctx.caller.require(Capability.READ_CANDIDATES)
    c = require_candidate(ctx.conn, candidate_id)
    b = batch(ctx.conn, [c])
    tier = tier_of(ctx.caller, c, b.rounds[c.round_code], b.progress[c.id])
    if tier is None:
        raise OutOfJurisdictionError(
            f"candidate {candidate_id} is outside the jurisdiction of unit {ctx.caller.unit_code}",
            candidate=candidate_id,
        )
    (view,) = build(ctx, [(c, tier)], b)
    return view


def list_candidates(
    ctx: Context,
    *,
    round_code: str | None = None,
    village: str | None = None,
    outcome: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[CandidateView]:
    """Up to ``limit`` candidates the caller may see, oldest first, after the id ``after``.

    ``outcome`` filters on the outcome as the caller sees it (one of :data:`OUTCOMES`).
    """
    ctx.caller.require(Capability.READ_CANDIDATES)
    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidInputError(f"outcome {outcome!r}: want one of {', '.join(OUTCOMES)}")
    conn, caller = ctx.conn, ctx.caller
    query = scope(conn, caller, candidate_query())
    if round_code is not None:
        query = query.where(candidates.c.round_code == round_code)
    if village is not None:
        query = query.where(candidates.c.village_code == village)
    order = records.c.leaf_index
    if after is not None:
        cursor = conn.execute(
            select(records.c.leaf_index)
            .join(candidates, candidates.c.record_id == records.c.id)
            .where(candidates.c.id == after)
        ).scalar()
        if cursor is None:
            raise InvalidInputError("after: not a candidate id from a previous page")
        query = query.where(order > cursor)
    picked: list[tuple[CandidateInfo, Tier]] = []
    last: int | None = None
    while len(picked) < limit:
        chunk = query if last is None else query.where(order > last)
        rows = conn.execute(chunk.order_by(order).limit(_CHUNK)).all()
        if not rows:
            break
        last = int(rows[-1].leaf_index)
        found = [candidate_from_row(r) for r in rows]
        b = batch(conn, found)
        for c in found:
            round_, p = b.rounds[c.round_code], b.progress[c.id]
            tier = tier_of(caller, c, round_, p)
            if tier is None or (outcome and shown_outcome(tier, caller, p, round_) != outcome):
                continue
            picked.append((c, tier))
            if len(picked) == limit:
                break
    if not picked:
        return []
    return build(ctx, picked, batch(conn, [c for c, _ in picked]))


def history(ctx: Context, candidate_id: str) -> HistoryView:
    """The candidate's trail: its registration and every decision the caller may see,
    each with its log record, leaf hash, chain message id and relay transactions."""
    c = get_candidate(ctx, candidate_id)
    registered = EventView(
        kind="registered",
        at=c.created_at,
        unit=c.village,
        stage=None,
        verdict=None,
        record_id=c.record_id,
        leaf_hash=c.leaf_hash,
        digest=c.registration_digest,
        clauses_hash=None,
        clause_codes=None,
        note=None,
        relays=c.registration_relays,
        relay_refused=c.registration_refused,
    )
    decided = [
        EventView(
            kind="decision",
            at=d.decided_at,
            unit=d.unit,
            stage=d.stage,
            verdict=d.verdict,
            record_id=d.record_id,
            leaf_hash=d.leaf_hash,
            digest=d.digest,
            clauses_hash=d.clauses_hash,
            clause_codes=d.clause_codes,
            note=d.note,
            relays=d.relays,
            relay_refused=d.relay_refused,
        )
        for d in c.decisions
    ]
    return HistoryView(c.id, c.view, c.round, c.chain_id, [registered, *decided])


def search(ctx: Context, id_number: str) -> list[CandidateView]:
    """The candidacies of the person with ``id_number`` that the caller may see.

    The number is matched by its blind index, never stored or logged in the clear.
    """
    ctx.caller.require(Capability.READ_CANDIDATES)
    ctx.caller.require(Capability.READ_CANDIDATE_PERSONAL)
    value = parse_id_number(id_number).value
    record_ids = vault.find(ctx.conn, ctx.master, "id_number", value)
    if not record_ids:
        return []
    rows = ctx.conn.execute(
        scope(ctx.conn, ctx.caller, candidate_query())
        .where(candidates.c.record_id.in_(sorted(record_ids)))
        .order_by(records.c.leaf_index)
    ).all()
    found = [candidate_from_row(r) for r in rows]
    b = batch(ctx.conn, found)
    pairs = []
    for c in found:
        tier = tier_of(ctx.caller, c, b.rounds[c.round_code], b.progress[c.id])
        if tier is not None:
            pairs.append((c, tier))
    return build(ctx, pairs, b) if pairs else []
