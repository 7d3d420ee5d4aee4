"""The vetting rules that need no API: the negative list, the ids, the replay of decisions
with the DEFERRED time box, and what each tier is shown."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from eth_utils.crypto import keccak

from ledger.auth import Caller, Role
from ledger.chain import vetting as v
from ledger.store.domain import negative_list
from ledger.vetting import candidate_chain_id, round_id
from ledger.vetting.negative_list import (
    CLAUSES,
    UnknownClauseError,
    check_clauses,
    ensure_negative_list,
    list_clauses,
)
from ledger.vetting.state import CandidateInfo, DecisionInfo, RoundInfo, replay
from ledger.vetting.visibility import Tier, shown_outcome, tier_of

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
ROUND = RoundInfo(
    code="R2026",
    name="round",
    kind="GENERAL",
    election_day=date(2026, 3, 15),
    lead_department="ORG",
    departments=("MZ", "GA", "FY"),
    deferral_days=10,
    created_at=T0,
    record_id="r",
)
CANDIDATE = CandidateInfo(
    id="c-1",
    round_code="R2026",
    village_code="DEMO-MENGLING",
    township_code="222404102",
    committee="VILLAGERS_CMTE",
    post="主任",
    incumbent=False,
    id_number_masked="222404********1573",
    chain_id=candidate_chain_id("c-1"),
    resubmits=None,
    created_at=T0,
    record_id="rec-c-1",
)


def _decision(seq: int, stage: v.Stage, unit: str, verdict: int, at: datetime) -> DecisionInfo:
    clauses = bytes(31) + b"\x01" if verdict == v.Opinion.RECORD_FOUND else bytes(32)
    return DecisionInfo(
        id=f"d{seq}",
        seq=seq,
        stage=int(stage),
        unit_code=unit,
        verdict=int(verdict),
        clause_codes=(),
        clauses_hash=clauses,
        digest=f"0x{seq:064x}",
        decided_at=at,
        record_id=f"rec-d{seq}",
    )


def _through_township() -> list[DecisionInfo]:
    return [
        _decision(0, v.Stage.PRE_REVIEW, "DEMO-MENGLING", v.Verdict.PASS, T0),
        _decision(1, v.Stage.PRELIMINARY_REVIEW, "222404102", v.Verdict.PASS, T0),
    ]


def test_the_negative_list_has_the_ten_clauses_of_2021() -> None:
    assert [c.code for c in CLAUSES] == [f"N{i}" for i in range(1, 11)]
    assert {c.severity for c in CLAUSES} == {"BAR", "UNSUITABLE"}
    assert {c.code for c in CLAUSES if c.severity == "UNSUITABLE"} == {"N7", "N10"}
    assert {c.code: c.lookback_years for c in CLAUSES if c.lookback_years} == {"N7": 3, "N9": 5}
    assert all(c.text for c in CLAUSES)


def test_ensure_negative_list_is_idempotent_and_codes_are_checked(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        assert ensure_negative_list(conn) == 10
        assert ensure_negative_list(conn) == 0
        assert [c.code for c in list_clauses(conn)] == [c.code for c in CLAUSES]
        assert [c.code for c in list_clauses(conn, after="N8")] == ["N9", "N10"]
        assert check_clauses(conn, ["N10", "N2", "N2"]) == ["N2", "N10"]
        assert check_clauses(conn, []) == []
        with pytest.raises(UnknownClauseError, match="N11") as refused:
            check_clauses(conn, ["N2", "N11"])
        assert refused.value.code == "unknown_clause"
        count = conn.execute(sa.select(sa.func.count()).select_from(negative_list)).scalar()
        assert count == 10


def test_ids_are_keccak_of_the_code_and_of_the_random_candidate_id() -> None:
    assert round_id("R2026") == keccak(b"R2026") == v.unit_id("R2026")
    assert candidate_chain_id("abc") == keccak(b"civic-ledger/candidate/v1:abc")
    assert candidate_chain_id("abc") != candidate_chain_id("abd")


def test_a_deferral_runs_from_the_earliest_outstanding_needs_info() -> None:
    steps = [
        *_through_township(),
        _decision(2, v.Stage.JOINT_REVIEW, "MZ", v.Opinion.NEEDS_INFO, T0),
        _decision(3, v.Stage.JOINT_REVIEW, "GA", v.Opinion.NO_RECORD, T0 + timedelta(days=1)),
    ]
    pending = replay(CANDIDATE, ROUND, steps)
    assert (pending.outcome, pending.deferred_until) == (v.Outcome.NONE, None)

    steps.append(
        _decision(4, v.Stage.JOINT_REVIEW, "FY", v.Opinion.NEEDS_INFO, T0 + timedelta(days=2))
    )
    deferred = replay(CANDIDATE, ROUND, steps)
    assert deferred.outcome == v.Outcome.DEFERRED
    assert deferred.deferred_until == T0 + timedelta(days=10)
    assert not deferred.overdue(T0 + timedelta(days=10))
    assert deferred.overdue(T0 + timedelta(days=10, seconds=1))

    # MZ resolves; FY's question, asked two days later, is the one left.
    steps.append(
        _decision(5, v.Stage.JOINT_REVIEW, "MZ", v.Opinion.NO_RECORD, T0 + timedelta(days=3))
    )
    still = replay(CANDIDATE, ROUND, steps)
    assert still.outcome == v.Outcome.DEFERRED
    assert still.deferred_until == T0 + timedelta(days=12)

    steps.append(
        _decision(6, v.Stage.JOINT_REVIEW, "FY", v.Opinion.RECORD_FOUND, T0 + timedelta(days=4))
    )
    failed = replay(CANDIDATE, ROUND, steps)
    assert (failed.outcome, failed.deferred_until) == (v.Outcome.FAILED, None)
    assert not failed.overdue(T0 + timedelta(days=100))


def _caller(unit: str, role: Role) -> Caller:
    return Caller("p", unit, role, "k", None)


def test_tiers_and_the_outcome_each_one_is_shown() -> None:
    steps = [
        *_through_township(),
        _decision(2, v.Stage.JOINT_REVIEW, "MZ", v.Opinion.NO_RECORD, T0),
        _decision(3, v.Stage.JOINT_REVIEW, "GA", v.Opinion.NO_RECORD, T0),
        _decision(4, v.Stage.JOINT_REVIEW, "FY", v.Opinion.NEEDS_INFO, T0),
    ]
    deferred = replay(CANDIDATE, ROUND, steps)
    early = replay(CANDIDATE, ROUND, steps[:1])
    cases = [
        (_caller("DEMO-MENGLING", Role.VILLAGE_CLERK), Tier.VILLAGE, "PENDING"),
        (_caller("DEMO-MENGLING", Role.VILLAGE_PARTY_SEC), Tier.VILLAGE, "PENDING"),
        (_caller("222404102", Role.TOWNSHIP_REVIEWER), Tier.TOWNSHIP, "DEFERRED"),
        (_caller("ORG", Role.LEAD_ORG_ADMIN), Tier.LEAD, "DEFERRED"),
        (_caller("FY", Role.UNIT_HANDLER), Tier.HANDLER, "DEFERRED"),
        (_caller("GA", Role.UNIT_HANDLER), Tier.HANDLER, "PENDING"),
        (_caller("JW", Role.AUDITOR), Tier.AUDIT, "DEFERRED"),
    ]
    for caller, tier, outcome in cases:
        assert tier_of(caller, CANDIDATE, ROUND, deferred) == tier, caller
        assert shown_outcome(tier, caller, deferred, ROUND) == outcome, caller
    for caller in (
        _caller("DEMO-FANGCHUAN", Role.VILLAGE_CLERK),
        _caller("222404101", Role.TOWNSHIP_REVIEWER),
        _caller("SWD", Role.LEAD_ORG_ADMIN),  # not the round's lead department
        _caller("ZF", Role.UNIT_HANDLER),  # not required by the round
        _caller("SZ", Role.PLATFORM_ADMIN),
        _caller("GA", Role.REQUESTER),
    ):
        assert tier_of(caller, CANDIDATE, ROUND, deferred) is None, caller
    # A handler's task begins with the joint review.
    assert tier_of(_caller("GA", Role.UNIT_HANDLER), CANDIDATE, ROUND, early) is None
