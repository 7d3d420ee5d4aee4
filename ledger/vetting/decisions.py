"""Deciding on a candidate: the stage-1 and stage-2 verdicts and the stage-3 opinions.

The candidate's stored decisions are replayed through
:func:`ledger.chain.vetting.apply_decision` (the contract's rules) with the new one
appended, under the candidate's row lock, so the API refuses exactly what the contract
would refuse, before anything is written, and two concurrent opinions cannot both pass.
The clause codes stay in the database (county eyes only, DOMAIN.md §1.6); the entry and
the chain get their salted hash (:func:`ledger.chain.vetting.clauses_hash`). A free-text
note is personal data: it is sealed under the decision's record, never in the entry.
The decision is signed with the deciding unit's key and put in the chain outbox.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from sqlalchemy import insert

from ledger import journal, vault
from ledger.auth import Capability, OutOfJurisdictionError
from ledger.chain import vetting as v
from ledger.context import Context
from ledger.outbox import enqueue
from ledger.store.domain import vetting_decisions
from ledger.units.service import unit_private_key
from ledger.vetting.errors import ClausesNotAllowedError
from ledger.vetting.negative_list import check_clauses
from ledger.vetting.state import (
    STAGE_NAMES,
    DecisionInfo,
    Progress,
    load_decisions,
    replay,
    require_candidate,
    require_round,
)

__all__ = ["STAGE_CAPABILITY", "Decided", "decide"]

STAGE_CAPABILITY: Final = {
    v.Stage.PRE_REVIEW: Capability.DECIDE_PRE_REVIEW,
    v.Stage.PRELIMINARY_REVIEW: Capability.DECIDE_PRELIMINARY_REVIEW,
    v.Stage.JOINT_REVIEW: Capability.GIVE_OPINION,
}
_NO_CLAUSES: Final = {
    (v.Stage.PRE_REVIEW, int(v.Verdict.PASS)),
    (v.Stage.PRELIMINARY_REVIEW, int(v.Verdict.PASS)),
    (v.Stage.JOINT_REVIEW, int(v.Opinion.NO_RECORD)),
    (v.Stage.JOINT_REVIEW, int(v.Opinion.NOT_APPLICABLE)),
}


@dataclass(frozen=True)
class Decided:
    decision: DecisionInfo
    written: journal.Written
    progress: Progress


def decide(
    ctx: Context,
    candidate_id: str,
    *,
    stage: v.Stage,
    verdict: int,
    clause_codes: Sequence[str] = (),
    note: str | None = None,
) -> Decided:
    """Record the caller's unit's decision at ``stage`` (see the module doc).

    Refuses: an unknown candidate (404); at stage 1 a unit other than the candidate's
    village, at stage 2 one other than its township (403 ``out_of_jurisdiction``); an
    unknown clause code (400 ``unknown_clause``), clause codes on a PASS, NO_RECORD or
    NOT_APPLICABLE (400 ``clauses_not_allowed``); and whatever the contract's rules
    refuse (409 ``vetting_*``: out of order, a department the round does not require, a
    second opinion, after the conclusion, a verdict the stage does not take, a FAIL or
    RECORD_FOUND without clauses).
    """
    domain = ctx.signing_domain()  # before any write: 503 without a chain
    ctx.caller.require(STAGE_CAPABILITY[stage])
    conn = ctx.conn
    candidate = require_candidate(conn, candidate_id, lock=True)
    unit = ctx.caller.unit_code
    reviewer = {
        v.Stage.PRE_REVIEW: candidate.village_code,
        v.Stage.PRELIMINARY_REVIEW: candidate.township_code,
    }.get(stage)
    if reviewer is not None and unit != reviewer:
        raise OutOfJurisdictionError(
            f"unit {unit} may not decide stage {STAGE_NAMES[stage]} of candidate "
            f"{candidate_id}: it is the candidate's "
            + ("village's" if stage == v.Stage.PRE_REVIEW else "township's")
            + " to decide",
            candidate=candidate_id,
        )
    codes = check_clauses(conn, clause_codes)
    if codes and (stage, verdict) in _NO_CLAUSES:
        raise ClausesNotAllowedError(
            "a PASS, NO_RECORD or NOT_APPLICABLE relies on no negative-list clause; "
            "send clause_codes: []"
        )
    round_ = require_round(conn, candidate.round_code)
    stored = load_decisions(conn, [candidate_id])[candidate_id]
    before = replay(candidate, round_, stored)
    salt = secrets.token_bytes(32)
    clauses_hash = v.clauses_hash(codes, salt)
    message = v.Decision(
        candidate_id=candidate.chain_id,
        stage=int(stage),
        unit_id=v.unit_id(unit),
        verdict=verdict,
        clauses_hash=clauses_hash,
        leaf_hash=bytes(32),
    )
    v.apply_decision(before.state, message)  # raises what the contract would raise

    record_id = journal.new_id()
    sealed = vault.seal(conn, ctx.master, record_id, {"note": note}) if note else None
    decision = DecisionInfo(
        id=str(uuid.uuid4()),
        seq=len(stored),
        stage=int(stage),
        unit_code=unit,
        verdict=verdict,
        clause_codes=tuple(codes),
        clauses_hash=clauses_hash,
        digest="",
        decided_at=ctx.now,
        record_id=record_id,
    )
    written = journal.write_one(
        conn,
        journal.Draft(
            kind="vetting.decision",
            unit=unit,
            body={
                "candidate": candidate_id,
                "stage": STAGE_NAMES[stage],
                "unit": unit,
                "verdict": decision.verdict_name,
                "clauses_hash": clauses_hash.hex(),
            },
            sealed=sealed,
            subject=candidate_id,
            entry_id=record_id,
        ),
        now=ctx.now,
        principal_id=ctx.caller.principal_id,
    )
    message = replace(message, leaf_hash=written.leaf_hash)
    digest = "0x" + v.digest(message, domain.chain_id, domain.vetting).hex()
    signature = v.sign_decision(
        unit_private_key(conn, ctx.master, unit),
        message,
        domain.chain_id,
        domain.vetting,
    )
    decision = replace(decision, digest=digest)
    conn.execute(
        insert(vetting_decisions).values(
            id=decision.id,
            candidate_id=candidate_id,
            seq=decision.seq,
            stage=decision.stage,
            unit_code=unit,
            verdict=verdict,
            clause_codes=list(codes),
            clauses_salt=salt,
            clauses_hash=clauses_hash,
            signature=signature,
            digest=digest,
            decided_at=ctx.now,
            record_id=record_id,
            principal_id=ctx.caller.principal_id,
        )
    )
    enqueue(
        conn,
        "decision",
        digest,
        {
            "abi": [
                "0x" + message.candidate_id.hex(),
                message.stage,
                "0x" + message.unit_id.hex(),
                message.verdict,
                "0x" + message.clauses_hash.hex(),
                "0x" + message.leaf_hash.hex(),
            ]
        },
        now=ctx.now,
        signature=signature,
    )
    return Decided(decision, written, replay(candidate, round_, [*stored, decision]))
