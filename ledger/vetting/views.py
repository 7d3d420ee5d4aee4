"""Candidate views: the response shapes, built for a batch of candidates at once.

Which tier a caller sees a candidate through, and what each tier may see, is decided in
:mod:`ledger.vetting.visibility`; this module fetches what the views need (decisions,
rounds, leaf hashes, relay transactions, sealed details) once per batch and assembles
them. The reads that use it are in :mod:`ledger.vetting.reads`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from ledger import vault
from ledger.auth import Capability
from ledger.chain import vetting as v
from ledger.context import Context
from ledger.store.domain import chain_relay_failures
from ledger.store.models import chain_relays, log_leaves
from ledger.vetting.state import (
    STAGE_NAMES,
    CandidateInfo,
    DecisionInfo,
    Progress,
    RoundInfo,
    load_decisions,
    load_rounds,
    replay,
    resubmissions,
    round_id,
)
from ledger.vetting.visibility import (
    Tier,
    decision_visible,
    is_return,
    reasons_visible,
    shown_outcome,
    shows_deferral,
)

__all__ = [
    "Batch",
    "CandidateView",
    "DecisionView",
    "EventView",
    "HistoryView",
    "PersonView",
    "RelayView",
    "batch",
    "build",
]


@dataclass
class RelayView:
    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_hash: str


@dataclass
class PersonView:
    name: str | None
    id_number_masked: str
    birth_date: str | None
    gender: str | None = None
    ethnicity: str | None = None
    political_status: str | None = None
    education: str | None = None
    phone: str | None = None
    address: str | None = None


@dataclass
class DecisionView:
    seq: int
    stage: str
    unit: str
    verdict: str
    decided_at: str
    record_id: str
    leaf_hash: str | None
    clauses_hash: str
    digest: str
    clause_codes: list[str] | None
    note: str | None
    relays: list[RelayView]
    relay_refused: bool


@dataclass
class CandidateView:
    id: str
    view: str
    round: str
    village: str
    township: str
    committee: str
    post: str
    incumbent: bool
    created_at: str
    chain_id: str
    record_id: str
    leaf_hash: str | None
    status: str
    stage: str | None
    outcome: str
    deferred_until: str | None
    overdue: bool | None
    resubmits: str | None
    resubmitted_by: str | None
    person: PersonView | None
    return_note: str | None
    decisions: list[DecisionView]
    # For the history: the registration message's outbox id and where it landed.
    registration_digest: str | None = None
    registration_relays: list[RelayView] = field(default_factory=list)
    registration_refused: bool = False


@dataclass
class EventView:
    """One act on a candidate, as its log record and chain message."""

    kind: str  # registered | decision
    at: str
    unit: str
    stage: str | None
    verdict: str | None
    record_id: str
    leaf_hash: str | None
    digest: str | None
    clauses_hash: str | None
    clause_codes: list[str] | None
    note: str | None
    relays: list[RelayView]
    relay_refused: bool


@dataclass
class HistoryView:
    candidate: str
    view: str
    round: str
    chain_id: str
    events: list[EventView]


# ---- building ------------------------------------------------------------------------


@dataclass
class Batch:
    """What building the views of some candidates needs, fetched once for all."""

    rounds: dict[str, RoundInfo]
    decisions: dict[str, list[DecisionInfo]]
    progress: dict[str, Progress]
    resubmitted_by: dict[str, str]


def batch(conn: Connection, found: Sequence[CandidateInfo]) -> Batch:
    ids = [c.id for c in found]
    rounds = load_rounds(conn, {c.round_code for c in found})
    decisions = load_decisions(conn, ids)
    progress = {c.id: replay(c, rounds[c.round_code], decisions[c.id]) for c in found}
    return Batch(rounds, decisions, progress, resubmissions(conn, ids))


def build(
    ctx: Context, pairs: Sequence[tuple[CandidateInfo, Tier]], b: Batch
) -> list[CandidateView]:
    conn, caller = ctx.conn, ctx.caller
    records = [c.record_id for c, _ in pairs] + [
        d.record_id for c, _ in pairs for d in b.decisions[c.id]
    ]
    leaves = _leaf_hashes(conn, records)
    reg_digests = {c.id: _registration_digest(ctx, c, leaves.get(c.record_id)) for c, _ in pairs}
    relays, refused = _relays(
        conn,
        [("registration", x) for x in reg_digests.values() if x]
        + [("decision", d.digest) for c, _ in pairs for d in b.decisions[c.id]],
    )
    out = []
    for c, tier in pairs:
        round_, p = b.rounds[c.round_code], b.progress[c.id]
        decisions = [
            _decision_view(ctx, tier, d, leaves, relays, refused)
            for d in b.decisions[c.id]
            if decision_visible(tier, caller, d)
        ]
        outcome = shown_outcome(tier, caller, p, round_)
        deferral = shows_deferral(tier, caller, p, round_)
        hide_stage = tier in (Tier.VILLAGE, Tier.HANDLER) and outcome != "PENDING"
        stage = None if hide_stage else STAGE_NAMES[p.stage]
        out.append(
            CandidateView(
                id=c.id,
                view=tier.value,
                round=c.round_code,
                village=c.village_code,
                township=c.township_code,
                committee=c.committee,
                post=c.post,
                incumbent=c.incumbent,
                created_at=c.created_at.isoformat(),
                chain_id="0x" + c.chain_id.hex(),
                record_id=c.record_id,
                leaf_hash=_hex(leaves.get(c.record_id)),
                status=outcome if outcome != "PENDING" else STAGE_NAMES[p.stage],
                stage=stage,
                outcome=outcome,
                deferred_until=p.deferred_until.isoformat()
                if deferral and p.deferred_until
                else None,
                overdue=p.overdue(ctx.now) if deferral else None,
                resubmits=c.resubmits,
                resubmitted_by=b.resubmitted_by.get(c.id),
                person=_person(ctx, tier, c),
                return_note=_return_note(ctx, tier, p, b.decisions[c.id]),
                decisions=decisions,
                registration_digest=reg_digests[c.id],
                registration_relays=relays.get(("registration", reg_digests[c.id] or ""), []),
                registration_refused=("registration", reg_digests[c.id] or "") in refused,
            )
        )
    return out


def _person(ctx: Context, tier: Tier, c: CandidateInfo) -> PersonView | None:
    if tier == Tier.AUDIT or not ctx.caller.can(Capability.READ_CANDIDATE_PERSONAL):
        return None
    personal = vault.unseal(ctx.conn, ctx.master, c.record_id) or {}
    name, born = personal.get("name"), personal.get("birth_date")
    if tier == Tier.HANDLER:  # what matching needs, and no more (DOMAIN.md §4.2)
        return PersonView(name, c.id_number_masked, born)
    return PersonView(
        name=name,
        id_number_masked=c.id_number_masked,
        birth_date=born,
        gender=personal.get("gender"),
        ethnicity=personal.get("ethnicity"),
        political_status=personal.get("political_status"),
        education=personal.get("education"),
        phone=personal.get("phone"),
        address=personal.get("address"),
    )


def _note(ctx: Context, d: DecisionInfo) -> str | None:
    sealed = vault.unseal(ctx.conn, ctx.master, d.record_id)
    return None if sealed is None else str(sealed.get("note"))


def _return_note(
    ctx: Context, tier: Tier, p: Progress, decisions: Sequence[DecisionInfo]
) -> str | None:
    """The RETURN decision's note: what the village must correct (not a finding)."""
    if p.outcome != v.Outcome.RETURNED or tier not in (Tier.VILLAGE, Tier.TOWNSHIP, Tier.LEAD):
        return None
    returned = [d for d in decisions if is_return(d)]
    return _note(ctx, returned[-1]) if returned else None


def _decision_view(
    ctx: Context,
    tier: Tier,
    d: DecisionInfo,
    leaves: dict[str, bytes],
    relays: dict[tuple[str, str], list[RelayView]],
    refused: set[tuple[str, str]],
) -> DecisionView:
    reasons = reasons_visible(tier, ctx.caller, d)
    note_visible = reasons or (is_return(d) and tier == Tier.TOWNSHIP)
    return DecisionView(
        seq=d.seq,
        stage=STAGE_NAMES[v.Stage(d.stage)],
        unit=d.unit_code,
        verdict=d.verdict_name,
        decided_at=d.decided_at.isoformat(),
        record_id=d.record_id,
        leaf_hash=_hex(leaves.get(d.record_id)),
        clauses_hash="0x" + d.clauses_hash.hex(),
        digest=d.digest,
        clause_codes=list(d.clause_codes) if reasons else None,
        note=_note(ctx, d) if note_visible else None,
        relays=relays.get(("decision", d.digest), []),
        relay_refused=("decision", d.digest) in refused,
    )


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _leaf_hashes(conn: Connection, record_ids: Sequence[str]) -> dict[str, bytes]:
    if not record_ids:
        return {}
    rows = conn.execute(
        select(log_leaves.c.entry_id, log_leaves.c.leaf_hash).where(
            log_leaves.c.entry_id.in_(list(record_ids))
        )
    )
    return {r.entry_id: bytes(r.leaf_hash) for r in rows}


def _registration_digest(ctx: Context, c: CandidateInfo, leaf: bytes | None) -> str | None:
    """The registration message's outbox id, as signed for the connected chain (None when
    no chain is connected: the id depends on the chain's EIP-712 domain)."""
    if leaf is None or ctx.chain is None:
        return None
    registration = v.Registration(
        c.chain_id, round_id(c.round_code), v.unit_id(c.village_code), leaf
    )
    return "0x" + v.digest(registration, ctx.chain.chain_id, ctx.chain.vetting).hex()


def _relays(
    conn: Connection, items: Sequence[tuple[str, str]]
) -> tuple[dict[tuple[str, str], list[RelayView]], set[tuple[str, str]]]:
    """Where each (kind, item id) landed (``chain_relays``), and which the chain refused."""
    landed: dict[tuple[str, str], list[RelayView]] = {}
    if not items:
        return landed, set()
    ids = sorted({i for _, i in items})
    for r in conn.execute(
        select(chain_relays)
        .where(chain_relays.c.item_id.in_(ids))
        .order_by(chain_relays.c.chain_id)
    ):
        landed.setdefault((r.kind, r.item_id), []).append(
            RelayView(int(r.chain_id), r.contract, r.tx_hash, int(r.block_number), r.block_hash)
        )
    refused = {
        (r.kind, r.item_id)
        for r in conn.execute(
            select(chain_relay_failures.c.kind, chain_relay_failures.c.item_id).where(
                chain_relay_failures.c.item_id.in_(ids)
            )
        )
    }
    return landed, refused
