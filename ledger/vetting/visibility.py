"""Who sees which candidates, and how much of each (DOMAIN.md §1.6 and §6.4).

A caller sees a candidate through one :class:`Tier`, or not at all:

========  ===========================================  ==============================
tier      who (and which candidates)                   sees
========  ===========================================  ==============================
village   clerk, party secretary of its village        personal data (ID masked);
                                                       outcome PASSED / FAILED /
                                                       RETURNED / PENDING only (a
                                                       DEFERRED one is PENDING), no
                                                       stage once concluded; its own
                                                       decisions; the return note
township  reviewer of the village's township           + every decision's stage, unit
                                                       and verdict, DEFERRED and its
                                                       time box; no clause codes or
                                                       notes but its own (and the
                                                       return note)
lead      lead_org_admin of the round's lead unit      everything: clause codes, notes
handler   unit_handler of a department the round       name, masked ID, birth date;
          requires, once the candidate reached the     its own unit's opinions (codes,
          joint review                                 notes); outcome as the village,
                                                       DEFERRED while its NEEDS_INFO
                                                       is the outstanding one
audit     auditor                                      ids, stages, verdicts, times,
                                                       record ids, leaf hashes, relay
                                                       transactions; no personal data,
                                                       no clause codes, no notes
========  ===========================================  ==============================

Personal data needs READ_CANDIDATE_PERSONAL as well. ID numbers are shown masked only,
to everyone. A candidate the caller may not see is ``out_of_jurisdiction`` (403) when
named, and left out of lists. Pure rules, except :func:`scope`, which narrows a query.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Connection, select

from ledger.auth import Caller, Role
from ledger.chain import vetting as v
from ledger.store.domain import candidates, election_rounds
from ledger.vetting.state import CandidateInfo, DecisionInfo, Progress, RoundInfo, load_rounds

__all__ = [
    "Tier",
    "decision_visible",
    "is_return",
    "reasons_visible",
    "scope",
    "shown_outcome",
    "shows_deferral",
    "tier_of",
]


class Tier(enum.StrEnum):
    VILLAGE = "village"
    TOWNSHIP = "township"
    LEAD = "lead"
    HANDLER = "handler"
    AUDIT = "audit"


def tier_of(
    caller: Caller, candidate: CandidateInfo, round_: RoundInfo, p: Progress
) -> Tier | None:
    """The tier through which ``caller`` sees ``candidate``, or None (not at all)."""
    role = caller.role
    if role in (Role.VILLAGE_CLERK, Role.VILLAGE_PARTY_SEC):
        return Tier.VILLAGE if caller.unit_code == candidate.village_code else None
    if role == Role.TOWNSHIP_REVIEWER:
        return Tier.TOWNSHIP if caller.unit_code == candidate.township_code else None
    if role == Role.LEAD_ORG_ADMIN:
        return Tier.LEAD if caller.unit_code == round_.lead_department else None
    if role == Role.UNIT_HANDLER:
        assigned = caller.unit_code in round_.departments
        return Tier.HANDLER if assigned and p.stage == v.Stage.JOINT_REVIEW else None
    if role == Role.AUDITOR:
        return Tier.AUDIT
    return None


def shows_deferral(tier: Tier, caller: Caller, p: Progress, round_: RoundInfo) -> bool:
    if p.outcome != v.Outcome.DEFERRED:
        return False
    if tier in (Tier.TOWNSHIP, Tier.LEAD, Tier.AUDIT):
        return True
    if tier == Tier.HANDLER and caller.unit_code in round_.departments:
        return p.state.opinions().get(v.unit_id(caller.unit_code)) == v.Opinion.NEEDS_INFO
    return False


def shown_outcome(tier: Tier, caller: Caller, p: Progress, round_: RoundInfo) -> str:
    if p.outcome == v.Outcome.NONE:
        return "PENDING"
    if p.outcome == v.Outcome.DEFERRED and not shows_deferral(tier, caller, p, round_):
        return "PENDING"
    return p.outcome.name


def decision_visible(tier: Tier, caller: Caller, d: DecisionInfo) -> bool:
    if tier in (Tier.VILLAGE, Tier.HANDLER):
        return d.unit_code == caller.unit_code
    return True


def reasons_visible(tier: Tier, caller: Caller, d: DecisionInfo) -> bool:
    """Clause codes and notes: the lead's, and each unit's own."""
    if tier == Tier.AUDIT:
        return False
    return tier == Tier.LEAD or d.unit_code == caller.unit_code


def is_return(d: DecisionInfo) -> bool:
    return d.stage != v.Stage.JOINT_REVIEW and d.verdict == v.Verdict.RETURN


def scope(conn: Connection, caller: Caller, query: Any) -> Any:
    """Narrow ``query`` to the candidates the caller's role could ever see (SQL side)."""
    role = caller.role
    if role in (Role.VILLAGE_CLERK, Role.VILLAGE_PARTY_SEC):
        return query.where(candidates.c.village_code == caller.unit_code)
    if role == Role.TOWNSHIP_REVIEWER:
        return query.where(candidates.c.village_code.in_(sorted(caller.reach or ())))
    if role == Role.LEAD_ORG_ADMIN:
        led = select(election_rounds.c.code).where(
            election_rounds.c.lead_department == caller.unit_code
        )
        return query.where(candidates.c.round_code.in_(led))
    if role == Role.UNIT_HANDLER:
        required = [r.code for r in load_rounds(conn).values() if caller.unit_code in r.departments]
        return query.where(candidates.c.round_code.in_(required))
    if role == Role.AUDITOR:
        return query
    return query.where(candidates.c.id.is_(None))
