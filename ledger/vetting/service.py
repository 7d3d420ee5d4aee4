"""The two-committee (两委) candidate vetting service, in one place for the API.

The acts, each one transaction (DOMAIN.md §1, §6.2): open a round
(:mod:`ledger.vetting.rounds`), register a candidate (:mod:`ledger.vetting.registration`),
decide at a stage (:mod:`ledger.vetting.decisions`). The reads
(:mod:`ledger.vetting.reads`) are shaped by the caller's role
(:mod:`ledger.vetting.visibility`). The negative list is in
:mod:`ledger.vetting.negative_list`; the state of a candidate is always the replay of
its stored decisions (:mod:`ledger.vetting.state`).
"""

from __future__ import annotations

from ledger.vetting.decisions import STAGE_CAPABILITY, Decided, decide
from ledger.vetting.negative_list import CLAUSES, Clause, ensure_negative_list, list_clauses
from ledger.vetting.reads import OUTCOMES, get_candidate, history, list_candidates, search
from ledger.vetting.registration import COMMITTEE_POSTS, Person, Registered, register_candidate
from ledger.vetting.rounds import get_round, list_rounds, open_round
from ledger.vetting.state import RoundInfo, candidate_chain_id, round_id
from ledger.vetting.views import CandidateView, HistoryView

__all__ = [
    "CLAUSES",
    "COMMITTEE_POSTS",
    "OUTCOMES",
    "STAGE_CAPABILITY",
    "CandidateView",
    "Clause",
    "Decided",
    "HistoryView",
    "Person",
    "Registered",
    "RoundInfo",
    "candidate_chain_id",
    "decide",
    "ensure_negative_list",
    "get_candidate",
    "get_round",
    "history",
    "list_candidates",
    "list_clauses",
    "list_rounds",
    "open_round",
    "register_candidate",
    "round_id",
    "search",
]
