"""Two-committee (两委) candidate vetting: the negative list, rounds, candidates, the three
stages (预审 → 初审 → 联审) and the role-shaped views (DOMAIN.md §1, §6.2, §6.4).

Personal data travels in request bodies only, never in a path or a query string: a
candidate is named by its random id, a person is searched for with
``POST /v1/candidates/search``. Every candidate view is shaped by the caller's role
(``view``: village, township, lead, handler or audit); see :mod:`ledger.vetting.views`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    DecidePreliminaryReview,
    DecidePreReview,
    GiveOpinion,
    ManageRounds,
    ReadCandidates,
    ReadRounds,
    RegisterCandidates,
    Service,
)
from api.routers.common import ERRORS, After, Limit, Page, Strict, page
from ledger.chain import vetting as v
from ledger.vetting import service
from ledger.vetting.negative_list import MAX_CLAUSES

router = APIRouter(prefix="/v1", tags=["vetting"], responses=ERRORS)

CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
RoundCodePath = Annotated[str, Path(pattern=CODE)]
CandidateIdPath = Annotated[str, Path(min_length=1, max_length=64)]
ClauseCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,16}$")]
Committee = Literal["PARTY_BRANCH", "VILLAGERS_CMTE", "RESIDENTS_CMTE", "SUPERVISION_CMTE"]
Post = Literal["书记", "副书记", "委员", "主任", "副主任"]
Outcome = Literal["PENDING", "PASSED", "FAILED", "DEFERRED", "RETURNED"]


# ---- the negative list -------------------------------------------------------------------


class ClausePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    text: str
    severity: Literal["BAR", "UNSUITABLE"]
    lookback_years: int | None


@router.get("/negative-list")
def list_negative_list(
    svc: ReadRounds, limit: Limit = 100, after: After = None
) -> Page[ClausePublic]:
    """The negative list (负面清单, the 2021 "十不选"): the clause codes decisions cite."""
    with svc.reading() as ctx:
        clauses = service.list_clauses(ctx.conn, after=after, limit=limit + 1)
    items = [ClausePublic.model_validate(c) for c in clauses]
    return page(items, limit, lambda c: c.code)


# ---- rounds ------------------------------------------------------------------------------


class RoundCreate(Strict):
    code: str = Field(pattern=CODE, examples=["R2026"])
    name: str = Field(min_length=1, max_length=128)
    kind: Literal["GENERAL", "BY_ELECTION"] = "GENERAL"
    election_day: Annotated[date, Field(strict=False, examples=["2026-03-15"])]
    departments: list[Annotated[str, Field(pattern=CODE)]] = Field(
        min_length=1,
        max_length=v.MAX_DEPARTMENTS,
        description="The joint-review departments, county-level unit codes, in bitmap order.",
    )
    deferral_days: int = Field(default=10, ge=1, le=90)


class RoundPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    round_id: str = Field(description="keccak256 of the code: the round's id on chain.")
    name: str
    kind: str
    election_day: date
    lead_department: str
    departments: list[str]
    deferral_days: int
    created_at: str
    record_id: str


def _round(r: service.RoundInfo) -> RoundPublic:
    return RoundPublic(
        code=r.code,
        round_id="0x" + r.chain_id.hex(),
        name=r.name,
        kind=r.kind,
        election_day=r.election_day,
        lead_department=r.lead_department,
        departments=list(r.departments),
        deferral_days=r.deferral_days,
        created_at=r.created_at.isoformat(),
        record_id=r.record_id,
    )


@router.post("/rounds", status_code=201)
def open_round(body: RoundCreate, svc: ManageRounds) -> RoundPublic:
    """Open an election round led by the caller's unit; relayed to VettingRegistry."""
    with svc.transaction() as ctx:
        opened = service.open_round(
            ctx,
            code=body.code,
            name=body.name,
            kind=body.kind,
            election_day=body.election_day,
            departments=body.departments,
            deferral_days=body.deferral_days,
        )
    return _round(opened)


@router.get("/rounds")
def list_rounds(svc: ReadRounds, limit: Limit = 100, after: After = None) -> Page[RoundPublic]:
    """Election rounds by code."""
    with svc.reading() as ctx:
        rounds = service.list_rounds(ctx, after=after, limit=limit + 1)
    return page([_round(r) for r in rounds], limit, lambda r: r.code)


@router.get("/rounds/{code}")
def get_round(code: RoundCodePath, svc: ReadRounds) -> RoundPublic:
    """One election round."""
    with svc.reading() as ctx:
        return _round(service.get_round(ctx, code))


# ---- candidates --------------------------------------------------------------------------


class PersonCreate(Strict):
    """The candidate's details: sealed at rest, never logged, never on chain."""

    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=1, max_length=32, description="GB 11643-1999, 18 chars.")
    gender: Literal["M", "F"]
    ethnicity: str = Field(min_length=1, max_length=32)
    political_status: str = Field(min_length=1, max_length=32)
    education: str = Field(min_length=1, max_length=32)
    phone: str | None = Field(default=None, pattern=r"^[0-9+() -]{5,20}$")
    address: str | None = Field(default=None, min_length=1, max_length=256)


class CandidateCreate(Strict):
    round: str = Field(pattern=CODE)
    committee: Committee
    post: Post
    incumbent: bool = False
    resubmits: str | None = Field(
        default=None, max_length=64, description="The RETURNED candidacy this one corrects."
    )
    person: PersonCreate


class RelayPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_hash: str


class PersonPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str | None
    id_number_masked: str
    birth_date: str | None
    gender: str | None
    ethnicity: str | None
    political_status: str | None
    education: str | None
    phone: str | None
    address: str | None


class DecisionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    stage: str
    unit: str
    verdict: str
    decided_at: str
    record_id: str
    leaf_hash: str | None
    clauses_hash: str
    digest: str = Field(description="The EIP-712 digest the unit signed (the outbox id).")
    clause_codes: list[str] | None = Field(description="Null where the caller may not see them.")
    note: str | None
    relays: list[RelayPublic]
    relay_refused: bool


class CandidatePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    view: Literal["village", "township", "lead", "handler", "audit"]
    round: str
    village: str
    township: str
    committee: str
    post: str
    incumbent: bool
    created_at: str
    chain_id: str = Field(description="The candidateId on VettingRegistry.")
    record_id: str
    leaf_hash: str | None
    status: str = Field(description="The open stage while pending, else the outcome.")
    stage: str | None
    outcome: Outcome
    deferred_until: str | None
    overdue: bool | None
    resubmits: str | None
    resubmitted_by: str | None
    person: PersonPublic | None
    return_note: str | None = Field(description="What a RETURNED file must correct.")
    decisions: list[DecisionPublic]


class EventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: Literal["registered", "decision"]
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
    relays: list[RelayPublic]
    relay_refused: bool


class HistoryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    candidate: str
    view: str
    round: str
    chain_id: str
    events: list[EventPublic]


class CandidateSearch(Strict):
    id_number: str = Field(min_length=1, max_length=32)


def _candidate(view: service.CandidateView) -> CandidatePublic:
    return CandidatePublic.model_validate(view)


@router.post("/candidates", status_code=201)
def register_candidate(body: CandidateCreate, svc: RegisterCandidates) -> CandidatePublic:
    """Register a candidate of the caller's village; the person's details are sealed and
    the village's signed registration is relayed to VettingRegistry."""
    p = body.person
    person = service.Person(
        name=p.name,
        id_number=p.id_number,
        gender=p.gender,
        ethnicity=p.ethnicity,
        political_status=p.political_status,
        education=p.education,
        phone=p.phone,
        address=p.address,
    )
    with svc.transaction() as ctx:
        registered = service.register_candidate(
            ctx,
            round_code=body.round,
            committee=body.committee,
            post=body.post,
            incumbent=body.incumbent,
            person=person,
            resubmits=body.resubmits,
        )
        return _candidate(service.get_candidate(ctx, registered.candidate.id))


@router.get("/candidates")
def list_candidates(
    svc: ReadCandidates,
    round: Annotated[str | None, Query(pattern=CODE)] = None,
    village: Annotated[str | None, Query(pattern=CODE)] = None,
    outcome: Outcome | None = None,
    limit: Limit = 100,
    after: After = None,
) -> Page[CandidatePublic]:
    """The candidates within the caller's reach, oldest first, as its role may see them."""
    with svc.reading() as ctx:
        views = service.list_candidates(
            ctx, round_code=round, village=village, outcome=outcome, after=after, limit=limit + 1
        )
    return page([_candidate(c) for c in views], limit, lambda c: c.id)


@router.post("/candidates/search")
def search_candidates(body: CandidateSearch, svc: ReadCandidates) -> Page[CandidatePublic]:
    """The candidacies of the person with this ID number, within the caller's reach (the
    number travels in the body and is matched by its blind index)."""
    with svc.reading() as ctx:
        views = service.search(ctx, body.id_number)
    return Page[CandidatePublic](items=[_candidate(c) for c in views], next=None)


@router.get("/candidates/{candidate_id}")
def get_candidate(candidate_id: CandidateIdPath, svc: ReadCandidates) -> CandidatePublic:
    """One candidate as the caller's role may see it."""
    with svc.reading() as ctx:
        return _candidate(service.get_candidate(ctx, candidate_id))


@router.get("/candidates/{candidate_id}/history")
def candidate_history(candidate_id: CandidateIdPath, svc: ReadCandidates) -> HistoryPublic:
    """The candidate's trail: registration and decisions with their log records, leaf
    hashes, signed-message digests and relay transactions."""
    with svc.reading() as ctx:
        return HistoryPublic.model_validate(service.history(ctx, candidate_id))


# ---- decisions ---------------------------------------------------------------------------


class StageDecisionCreate(Strict):
    verdict: Literal["PASS", "FAIL", "RETURN"]
    clause_codes: list[ClauseCode] = Field(
        default_factory=list,
        max_length=MAX_CLAUSES,
        description="Negative-list codes a FAIL relies on (required for FAIL).",
    )
    note: str | None = Field(
        default=None, min_length=1, max_length=2000, description="Sealed; never logged."
    )


class OpinionCreate(Strict):
    opinion: Literal["NO_RECORD", "RECORD_FOUND", "NEEDS_INFO", "NOT_APPLICABLE"]
    clause_codes: list[ClauseCode] = Field(
        default_factory=list,
        max_length=MAX_CLAUSES,
        description="Negative-list codes a RECORD_FOUND relies on (required for it).",
    )
    note: str | None = Field(
        default=None, min_length=1, max_length=2000, description="Sealed; never logged."
    )


class DecisionCreated(BaseModel):
    decision: DecisionPublic
    candidate: CandidatePublic


def _decide(
    svc: Service,
    candidate_id: str,
    stage: v.Stage,
    verdict: int,
    clause_codes: list[str],
    note: str | None,
) -> DecisionCreated:
    with svc.transaction() as ctx:
        decided = service.decide(
            ctx, candidate_id, stage=stage, verdict=verdict, clause_codes=clause_codes, note=note
        )
        view = service.get_candidate(ctx, candidate_id)
    (mine,) = [d for d in view.decisions if d.seq == decided.decision.seq]
    return DecisionCreated(decision=DecisionPublic.model_validate(mine), candidate=_candidate(view))


@router.post("/candidates/{candidate_id}/pre-review", status_code=201)
def pre_review(
    candidate_id: CandidateIdPath, body: StageDecisionCreate, svc: DecidePreReview
) -> DecisionCreated:
    """Stage 1, the pre-review (预审), by the candidate's village Party organisation."""
    return _decide(
        svc,
        candidate_id,
        v.Stage.PRE_REVIEW,
        int(v.Verdict[body.verdict]),
        body.clause_codes,
        body.note,
    )


@router.post("/candidates/{candidate_id}/preliminary-review", status_code=201)
def preliminary_review(
    candidate_id: CandidateIdPath, body: StageDecisionCreate, svc: DecidePreliminaryReview
) -> DecisionCreated:
    """Stage 2, the preliminary review (初审), by the village's township; RETURN sends an
    incomplete file back to the village (退回补正)."""
    return _decide(
        svc,
        candidate_id,
        v.Stage.PRELIMINARY_REVIEW,
        int(v.Verdict[body.verdict]),
        body.clause_codes,
        body.note,
    )


@router.post("/candidates/{candidate_id}/opinions", status_code=201)
def give_opinion(
    candidate_id: CandidateIdPath, body: OpinionCreate, svc: GiveOpinion
) -> DecisionCreated:
    """Stage 3, the joint review (联审): one opinion per required department; while the
    candidate is DEFERRED, a department that said NEEDS_INFO gives its resolving one."""
    return _decide(
        svc,
        candidate_id,
        v.Stage.JOINT_REVIEW,
        int(v.Opinion[body.opinion]),
        body.clause_codes,
        body.note,
    )
