"""The vetting service's own errors, each with a stable code.

The rules the contract enforces (order of stages, jurisdiction at stage 3, one opinion
per department, nothing after the conclusion, verdicts, clauses) raise the
:class:`ledger.chain.vetting.VettingRuleError` subclasses (409, ``vetting_*``). The
errors here are the API's own: input the contract never sees (ID numbers, posts,
clause codes), and state only the database holds (rounds, duplicates, resubmissions).

Jurisdiction is reported two ways, on purpose:

- 403 ``out_of_jurisdiction`` (:class:`ledger.auth.OutOfJurisdictionError`): *not your
  candidate* — another village's clerk or party secretary, another township's reviewer,
  a handler whose department the candidate's round does not require (for reads);
- 409 ``vetting_wrong_jurisdiction`` (the contract's rule): a department that is not in
  the round's required set gives an opinion.

No message here contains personal data: candidates are named by their random id.
"""

from __future__ import annotations

from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.idcard import IdNumberError


class RoundNotFoundError(NotFoundError):
    code = "round_not_found"


class RoundExistsError(ConflictError):
    code = "round_exists"


class RoundClosedError(ConflictError):
    """Registration after the round's election day."""

    code = "round_closed"


class InvalidDepartmentError(InvalidInputError):
    """A round's department is not a registered county-level unit, or is listed twice."""

    code = "invalid_department"


class InvalidElectionDayError(InvalidInputError):
    code = "invalid_election_day"


class CandidateNotFoundError(NotFoundError):
    code = "candidate_not_found"


class CandidateExistsError(ConflictError):
    """The same person (by ID number) already has a live candidacy in the round."""

    code = "candidate_exists"


class IdNumberSexMismatchError(IdNumberError):
    """The declared gender is not the sex the ID number's 17th digit encodes."""

    code = "id_number_sex_mismatch"


class PostNotInCommitteeError(InvalidInputError):
    code = "post_not_in_committee"


class ClausesNotAllowedError(InvalidInputError):
    """Clause codes on a PASS, NO_RECORD or NOT_APPLICABLE, which rely on none."""

    code = "clauses_not_allowed"


class ResubmissionError(ConflictError):
    """``resubmits`` names a candidacy that cannot be resubmitted (see the message)."""

    code = "invalid_resubmission"


class NotAVillageError(InvalidInputError):
    code = "not_a_village"
