"""Registering a two-committee (两委) candidate: the first fact of a candidacy.

A village registers a candidate of a round (DOMAIN.md §1.2 stage 0). The person's
details (DOMAIN.md §1.5) are sealed (``ledger.vault``) with a blind index of the
normalised ID number, so the same person is found again without decrypting; the
candidates row keeps the ID number masked only. The entry
``vetting.candidate.registered`` carries ids, the committee and the post; the village's
signed ``Registration`` goes to the chain outbox. The on-chain candidate id is
``keccak256("civic-ledger/candidate/v1:" || id)`` of the random candidate id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from sqlalchemy import insert

from ledger import journal, vault
from ledger.auth import Capability, OutOfJurisdictionError
from ledger.chain import vetting as v
from ledger.context import Context
from ledger.idcard import parse_id_number
from ledger.outbox import enqueue
from ledger.store.domain import candidates
from ledger.units.service import get_unit, unit_private_key
from ledger.vetting.errors import (
    CandidateExistsError,
    IdNumberSexMismatchError,
    NotAVillageError,
    PostNotInCommitteeError,
    ResubmissionError,
    RoundClosedError,
)
from ledger.vetting.state import (
    CandidateInfo,
    Progress,
    candidate_chain_id,
    candidate_from_row,
    candidate_query,
    load_decisions,
    replay,
    require_candidate,
    require_round,
    resubmissions,
    round_id,
)

__all__ = ["COMMITTEE_POSTS", "Person", "Registered", "register_candidate"]

COMMITTEE_POSTS: Final[dict[str, tuple[str, ...]]] = {
    "PARTY_BRANCH": ("书记", "副书记", "委员"),  # 村(社区)党组织
    "VILLAGERS_CMTE": ("主任", "副主任", "委员"),  # 村民委员会
    "RESIDENTS_CMTE": ("主任", "副主任", "委员"),  # 居民委员会
    "SUPERVISION_CMTE": ("主任", "副主任", "委员"),  # 村(居)务监督委员会
}
"""The committees (DOMAIN.md §6.1 Candidacy.committee) and the posts each one has."""


@dataclass(frozen=True)
class Person:
    """The candidate's personal details (候选人资格审查表, DOMAIN.md §1.5), all sealed."""

    name: str
    id_number: str
    gender: str  # M | F
    ethnicity: str
    political_status: str
    education: str
    phone: str | None = None
    address: str | None = None

    def __repr__(self) -> str:  # never print personal data by accident
        return "Person(<sealed>)"


@dataclass(frozen=True)
class Registered:
    candidate: CandidateInfo
    written: journal.Written


def register_candidate(
    ctx: Context,
    *,
    round_code: str,
    committee: str,
    post: str,
    incumbent: bool,
    person: Person,
    resubmits: str | None = None,
) -> Registered:
    """Register a candidate of the caller's village in a round (see the module doc).

    Refuses: a round that is unknown (404) or past its election day (409); a post the
    committee does not have (400); an invalid ID number, a holder under 18 on election
    day, or a declared gender the ID number contradicts (400 ``id_number_*``); the same
    person with another candidacy in the round that was not RETURNED (409
    ``candidate_exists``); a ``resubmits`` that is not a RETURNED candidacy of the same
    village, round and person, not resubmitted before (404/403/409).
    """
    domain = ctx.signing_domain()  # before any write: 503 without a chain
    ctx.caller.require(Capability.REGISTER_CANDIDATES)
    conn = ctx.conn
    village = get_unit(conn, ctx.caller.unit_code)
    if village is None or village.level != "village" or village.parent_code is None:
        raise NotAVillageError(f"unit {ctx.caller.unit_code} is not a village or community")
    # The round's row lock orders concurrent registrations of a round (PostgreSQL), so
    # two of the same person cannot both pass the duplicate check.
    round_ = require_round(conn, round_code, lock=True)
    if ctx.now.date() > round_.election_day:
        raise RoundClosedError(
            f"round {round_code}'s election day {round_.election_day.isoformat()} has passed",
            round=round_code,
        )
    if committee not in COMMITTEE_POSTS:
        raise PostNotInCommitteeError(
            f"committee {committee!r}: want one of {', '.join(COMMITTEE_POSTS)}"
        )
    if post not in COMMITTEE_POSTS[committee]:
        raise PostNotInCommitteeError(
            f"post {post!r} is not a post of {committee}: want one of "
            f"{', '.join(COMMITTEE_POSTS[committee])}"
        )
    id_number = parse_id_number(person.id_number, on=round_.election_day, min_age=18)
    if person.gender != id_number.sex:
        raise IdNumberSexMismatchError(
            "the declared gender does not match the ID number's sex digit (digit 17: "
            "odd for M, even for F)",
            field="person.gender",
        )

    same_person = set(vault.find(conn, ctx.master, "id_number", id_number.value))
    earlier = _candidacies_of(ctx, same_person, round_code)
    live = [c for c, p in earlier if p.outcome != v.Outcome.RETURNED]
    if live:
        raise CandidateExistsError(
            f"this person already has a candidacy in round {round_code} that was not "
            "returned (one person, one candidacy per round)",
            round=round_code,
        )
    if resubmits is not None:
        _check_resubmission(ctx, resubmits, round_code, same_person)

    candidate_id = str(uuid.uuid4())
    record_id = journal.new_id()
    personal = {
        "name": person.name,
        "id_number": id_number.value,
        "gender": person.gender,
        "birth_date": id_number.birth_date.isoformat(),
        "ethnicity": person.ethnicity,
        "political_status": person.political_status,
        "education": person.education,
        "phone": person.phone,
        "address": person.address,
    }
    sealed = vault.seal(conn, ctx.master, record_id, personal, index={"id_number": id_number.value})
    written = journal.write_one(
        conn,
        journal.Draft(
            kind="vetting.candidate.registered",
            unit=village.code,
            body={
                "candidate": candidate_id,
                "round": round_code,
                "village": village.code,
                "committee": committee,
                "post": post,
                "incumbent": incumbent,
                "resubmits": resubmits,
            },
            sealed=sealed,
            subject=candidate_id,
            entry_id=record_id,
        ),
        now=ctx.now,
        principal_id=ctx.caller.principal_id,
    )
    chain_id = candidate_chain_id(candidate_id)
    conn.execute(
        insert(candidates).values(
            id=candidate_id,
            round_code=round_code,
            village_code=village.code,
            committee=committee,
            post=post,
            incumbent=incumbent,
            id_number_masked=id_number.masked,
            chain_id_hash=chain_id,
            resubmits=resubmits,
            created_at=ctx.now,
            record_id=record_id,
            principal_id=ctx.caller.principal_id,
        )
    )
    registration = v.Registration(
        candidate_id=chain_id,
        round_id=round_id(round_code),
        village_id=v.unit_id(village.code),
        leaf_hash=written.leaf_hash,
    )
    signature = v.sign_registration(
        unit_private_key(conn, ctx.master, village.code),
        registration,
        domain.chain_id,
        domain.vetting,
    )
    enqueue(
        conn,
        "registration",
        "0x" + v.digest(registration, domain.chain_id, domain.vetting).hex(),
        {"abi": ["0x" + word.hex() for word in registration.as_abi()]},
        now=ctx.now,
        signature=signature,
    )
    return Registered(require_candidate(conn, candidate_id), written)


def _candidacies_of(
    ctx: Context, record_ids: set[str], round_code: str
) -> list[tuple[CandidateInfo, Progress]]:
    """The candidacies in ``round_code`` registered under ``record_ids``, with their state."""
    if not record_ids:
        return []
    rows = ctx.conn.execute(
        candidate_query().where(
            candidates.c.record_id.in_(sorted(record_ids)), candidates.c.round_code == round_code
        )
    ).all()
    found = [candidate_from_row(r) for r in rows]
    decisions = load_decisions(ctx.conn, [c.id for c in found])
    round_ = require_round(ctx.conn, round_code)
    return [(c, replay(c, round_, decisions[c.id])) for c in found]


def _check_resubmission(
    ctx: Context, resubmits: str, round_code: str, same_person: set[str]
) -> None:
    earlier = require_candidate(ctx.conn, resubmits)
    if earlier.village_code != ctx.caller.unit_code:
        raise OutOfJurisdictionError(
            f"candidate {resubmits} is not of village {ctx.caller.unit_code}",
            candidate=resubmits,
        )
    if earlier.round_code != round_code:
        raise ResubmissionError(
            f"candidate {resubmits} is of round {earlier.round_code}, not {round_code}",
            candidate=resubmits,
        )
    progress = replay(
        earlier,
        require_round(ctx.conn, round_code),
        load_decisions(ctx.conn, [resubmits])[resubmits],
    )
    if progress.outcome != v.Outcome.RETURNED:
        raise ResubmissionError(
            f"candidate {resubmits} was not RETURNED; only a returned file is resubmitted",
            candidate=resubmits,
        )
    if resubmissions(ctx.conn, [resubmits]):
        raise ResubmissionError(
            f"candidate {resubmits} was resubmitted already", candidate=resubmits
        )
    if earlier.record_id not in same_person:
        raise ResubmissionError(
            f"candidate {resubmits} is another person (the ID numbers differ)",
            candidate=resubmits,
        )
