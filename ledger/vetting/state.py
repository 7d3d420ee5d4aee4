"""A candidate's state, computed from the stored facts: its row, its round, its decisions.

Nothing about a candidate is ever updated: its stage and outcome are the replay of its
decisions, in ``seq`` order, through :func:`ledger.chain.vetting.apply_decision`, the
mirror of the contract. The service replays before it writes (so it refuses what the
contract would refuse) and the views replay to show the state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from eth_utils.crypto import keccak
from sqlalchemy import Connection, select

from ledger.chain import vetting as v
from ledger.store.domain import candidates, election_rounds, records, units, vetting_decisions
from ledger.vetting.errors import CandidateNotFoundError, RoundNotFoundError

CANDIDATE_ID_PREFIX = b"civic-ledger/candidate/v1:"

STAGE_NAMES = {
    v.Stage.PRE_REVIEW: "PRE_REVIEW",
    v.Stage.PRELIMINARY_REVIEW: "PRELIMINARY_REVIEW",
    v.Stage.JOINT_REVIEW: "JOINT_REVIEW",
}


def round_id(code: str) -> bytes:
    """``keccak256(bytes(code))``: a round's id on chain (like :func:`v.unit_id`)."""
    return v.unit_id(code)


def candidate_chain_id(candidate_id: str) -> bytes:
    """``keccak256("civic-ledger/candidate/v1:" || id)``: the on-chain candidateId.

    The id is a random UUID, so the chain id reveals nothing about the person.
    """
    return keccak(CANDIDATE_ID_PREFIX + candidate_id.encode("ascii"))


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (SQLite hands back naive ones)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class RoundInfo:
    code: str
    name: str
    kind: str
    election_day: date
    lead_department: str
    departments: tuple[str, ...]
    deferral_days: int
    created_at: datetime
    record_id: str

    @property
    def chain_id(self) -> bytes:
        return round_id(self.code)


@dataclass(frozen=True)
class CandidateInfo:
    id: str
    round_code: str
    village_code: str
    township_code: str
    committee: str
    post: str
    incumbent: bool
    id_number_masked: str
    chain_id: bytes
    resubmits: str | None
    created_at: datetime
    record_id: str


@dataclass(frozen=True)
class DecisionInfo:
    id: str
    seq: int
    stage: int
    unit_code: str
    verdict: int
    clause_codes: tuple[str, ...]
    clauses_hash: bytes
    digest: str
    decided_at: datetime
    record_id: str

    @property
    def verdict_name(self) -> str:
        if self.stage == v.Stage.JOINT_REVIEW:
            return v.Opinion(self.verdict).name
        return v.Verdict(self.verdict).name


@dataclass(frozen=True)
class Progress:
    """The replayed state, and what the time box of a DEFERRED outcome says."""

    state: v.VettingState
    deferred_until: datetime | None  # set while DEFERRED

    @property
    def stage(self) -> v.Stage:
        return self.state.stage

    @property
    def outcome(self) -> v.Outcome:
        return self.state.outcome

    def overdue(self, now: datetime) -> bool:
        return self.deferred_until is not None and now > self.deferred_until


# ---- loading ---------------------------------------------------------------------------


def _round(row: Any) -> RoundInfo:
    return RoundInfo(
        code=row.code,
        name=row.name,
        kind=row.kind,
        election_day=row.election_day,
        lead_department=row.lead_department,
        departments=tuple(row.departments),
        deferral_days=int(row.deferral_days),
        created_at=utc(row.created_at),
        record_id=row.record_id,
    )


def find_round(conn: Connection, code: str, *, lock: bool = False) -> RoundInfo | None:
    query = select(election_rounds).where(election_rounds.c.code == code)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else _round(row)


def require_round(conn: Connection, code: str, *, lock: bool = False) -> RoundInfo:
    found = find_round(conn, code, lock=lock)
    if found is None:
        raise RoundNotFoundError(f"no election round {code}", round=code)
    return found


def load_rounds(conn: Connection, codes: Iterable[str] | None = None) -> dict[str, RoundInfo]:
    query = select(election_rounds).order_by(election_rounds.c.code)
    if codes is not None:
        query = query.where(election_rounds.c.code.in_(sorted(set(codes))))
    return {r.code: r for r in (_round(row) for row in conn.execute(query))}


def candidate_query() -> Any:
    """``SELECT`` of candidates with their village's township and the leaf index of their
    registration record (the order in which they were registered)."""
    return (
        select(
            candidates,
            units.c.parent_code.label("township_code"),
            records.c.leaf_index.label("leaf_index"),
        )
        .join(units, units.c.code == candidates.c.village_code)
        .join(records, records.c.id == candidates.c.record_id)
    )


def candidate_from_row(row: Any) -> CandidateInfo:
    return CandidateInfo(
        id=row.id,
        round_code=row.round_code,
        village_code=row.village_code,
        township_code=row.township_code,
        committee=row.committee,
        post=row.post,
        incumbent=bool(row.incumbent),
        id_number_masked=row.id_number_masked,
        chain_id=bytes(row.chain_id_hash),
        resubmits=row.resubmits,
        created_at=utc(row.created_at),
        record_id=row.record_id,
    )


def require_candidate(conn: Connection, candidate_id: str, *, lock: bool = False) -> CandidateInfo:
    """The candidate, or CandidateNotFoundError. ``lock`` takes its row lock (PostgreSQL
    ``SELECT ... FOR UPDATE``; SQLite transactions are serialised by ``BEGIN IMMEDIATE``)."""
    if lock:
        conn.execute(
            select(candidates.c.id).where(candidates.c.id == candidate_id).with_for_update()
        ).first()
    row = conn.execute(candidate_query().where(candidates.c.id == candidate_id)).first()
    if row is None:
        raise CandidateNotFoundError(f"no candidate {candidate_id}", candidate=candidate_id)
    return candidate_from_row(row)


def load_decisions(conn: Connection, candidate_ids: Sequence[str]) -> dict[str, list[DecisionInfo]]:
    """Each candidate's decisions in ``seq`` order (an empty list for none)."""
    out: dict[str, list[DecisionInfo]] = {c: [] for c in candidate_ids}
    if not candidate_ids:
        return out
    rows = conn.execute(
        select(vetting_decisions)
        .where(vetting_decisions.c.candidate_id.in_(list(candidate_ids)))
        .order_by(vetting_decisions.c.candidate_id, vetting_decisions.c.seq)
    )
    for r in rows:
        out[r.candidate_id].append(
            DecisionInfo(
                id=r.id,
                seq=int(r.seq),
                stage=int(r.stage),
                unit_code=r.unit_code,
                verdict=int(r.verdict),
                clause_codes=tuple(r.clause_codes),
                clauses_hash=bytes(r.clauses_hash),
                digest=r.digest,
                decided_at=utc(r.decided_at),
                record_id=r.record_id,
            )
        )
    return out


def resubmissions(conn: Connection, candidate_ids: Sequence[str]) -> dict[str, str]:
    """For each of ``candidate_ids`` that was resubmitted: the id of its resubmission."""
    if not candidate_ids:
        return {}
    rows = conn.execute(
        select(candidates.c.resubmits, candidates.c.id).where(
            candidates.c.resubmits.in_(list(candidate_ids))
        )
    )
    return {r.resubmits: r.id for r in rows}


# ---- replay ----------------------------------------------------------------------------


def initial_state(candidate: CandidateInfo, round_: RoundInfo) -> v.VettingState:
    return v.VettingState(
        candidate_id=candidate.chain_id,
        village_id=v.unit_id(candidate.village_code),
        township_id=v.unit_id(candidate.township_code),
        departments=tuple(v.unit_id(d) for d in round_.departments),
    )


def as_message(candidate: CandidateInfo, d: DecisionInfo, leaf_hash: bytes) -> v.Decision:
    return v.Decision(
        candidate_id=candidate.chain_id,
        stage=d.stage,
        unit_id=v.unit_id(d.unit_code),
        verdict=d.verdict,
        clauses_hash=d.clauses_hash,
        leaf_hash=leaf_hash,
    )


def replay(
    candidate: CandidateInfo, round_: RoundInfo, decisions: Sequence[DecisionInfo]
) -> Progress:
    """The candidate's state after its decisions, with the DEFERRED time box.

    ``deferred_until`` is the earliest ``decided_at`` of the NEEDS_INFO opinions still
    outstanding, plus the round's ``deferral_days``: the verification each of them
    asked for was due from the moment it was asked.
    """
    state = initial_state(candidate, round_)
    asked: dict[bytes, datetime] = {}
    for d in decisions:
        state = v.apply_decision(state, as_message(candidate, d, bytes(32)))
        if d.stage == v.Stage.JOINT_REVIEW and d.verdict == v.Opinion.NEEDS_INFO:
            asked[v.unit_id(d.unit_code)] = d.decided_at
    deferred_until = None
    if state.outcome == v.Outcome.DEFERRED:
        outstanding = [
            at for unit, at in asked.items() if state.opinions().get(unit) == v.Opinion.NEEDS_INFO
        ]
        deferred_until = min(outstanding) + timedelta(days=round_.deferral_days)
    return Progress(state, deferred_until)
