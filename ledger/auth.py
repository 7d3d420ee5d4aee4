"""Who may do what: roles, capabilities, jurisdictions, and API keys. Pure rules, no storage.

Roles follow DOMAIN.md §6.4 (management, audit and operator roles kept apart, per
GB/T 39477). A principal acts for one unit with one role. A *capability* is one
thing the API lets callers do; :data:`GRANTED` says, once, which roles hold each.
The API declares the capability an endpoint needs; services check the
*jurisdiction* (which units' data a principal may touch) with :meth:`Caller.covers`.

API keys are ``cl_<key id>_<secret>``: the key id (12 hex digits) finds the row,
the secret (32 random bytes, base64url) is compared by its SHA-256. A secret of
256 random bits needs no slow hash: nobody can guess it, and the hash keeps a
database reader from using it.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

from ledger.errors import LedgerError


class Role(enum.StrEnum):
    PLATFORM_ADMIN = (
        "platform_admin"  # 市政数局 系统管理: units, principals, keys, datasets' registry
    )
    LEAD_ORG_ADMIN = "lead_org_admin"  # 市委组织部: rounds; sees every decision and its reasons
    VILLAGE_CLERK = "village_clerk"  # 村(社区)经办: registers candidates, own village
    VILLAGE_PARTY_SEC = "village_party_sec"  # 村党组织: the pre-review (预审)
    TOWNSHIP_REVIEWER = "township_reviewer"  # 乡镇组织委员: the preliminary review (初审)
    UNIT_HANDLER = "unit_handler"  # 联审单位: its department's joint-review opinion (联审)
    PROVIDER_APPROVER = "provider_approver"  # 提供部门: publishes datasets, answers requests
    REQUESTER = "requester"  # 使用部门/单位: requests grants, reads under them
    AUDITOR = "auditor"  # 审计/纪检: reads the log, the trail and states; no personal data


class Capability(enum.StrEnum):
    MANAGE_UNITS = "units.manage"
    READ_UNITS = "units.read"
    MANAGE_PRINCIPALS = "principals.manage"
    WRITE_RECORDS = "records.write"
    READ_RECORDS = "records.read"
    ERASE_RECORDS = "records.erase"
    MANAGE_ROUNDS = "rounds.manage"
    READ_ROUNDS = "rounds.read"
    REGISTER_CANDIDATES = "candidates.register"
    READ_CANDIDATES = "candidates.read"
    READ_CANDIDATE_PERSONAL = "candidates.read_personal"
    DECIDE_PRE_REVIEW = "vetting.pre_review"
    DECIDE_PRELIMINARY_REVIEW = "vetting.preliminary_review"
    GIVE_OPINION = "vetting.joint_review"
    READ_REASONS = "vetting.read_reasons"
    PUBLISH_DATASETS = "datasets.publish"
    READ_DATASETS = "datasets.read"
    REQUEST_GRANTS = "grants.request"
    ANSWER_GRANTS = "grants.answer"
    READ_GRANTS = "grants.read"
    READ_SHARED_DATA = "shared_data.read"
    READ_ACCESS_TRAIL = "access_trail.read"


_EVERYONE_READS = {Capability.READ_UNITS, Capability.READ_RECORDS, Capability.READ_ROUNDS}

GRANTED: Final[dict[Role, frozenset[Capability]]] = {
    Role.PLATFORM_ADMIN: frozenset(
        _EVERYONE_READS
        | {
            Capability.MANAGE_UNITS,
            Capability.MANAGE_PRINCIPALS,
            Capability.WRITE_RECORDS,
            Capability.ERASE_RECORDS,
            Capability.READ_DATASETS,
            Capability.READ_GRANTS,
            Capability.READ_ACCESS_TRAIL,
        }
    ),
    Role.LEAD_ORG_ADMIN: frozenset(
        _EVERYONE_READS
        | {
            Capability.WRITE_RECORDS,
            Capability.MANAGE_ROUNDS,
            Capability.READ_CANDIDATES,
            Capability.READ_CANDIDATE_PERSONAL,
            Capability.READ_REASONS,
            Capability.REQUEST_GRANTS,
            Capability.READ_GRANTS,
            Capability.READ_DATASETS,
            Capability.READ_SHARED_DATA,
        }
    ),
    Role.VILLAGE_CLERK: frozenset(
        _EVERYONE_READS
        | {
            Capability.WRITE_RECORDS,
            Capability.REGISTER_CANDIDATES,
            Capability.READ_CANDIDATES,
            Capability.READ_CANDIDATE_PERSONAL,
        }
    ),
    Role.VILLAGE_PARTY_SEC: frozenset(
        _EVERYONE_READS
        | {
            Capability.DECIDE_PRE_REVIEW,
            Capability.READ_CANDIDATES,
            Capability.READ_CANDIDATE_PERSONAL,
        }
    ),
    Role.TOWNSHIP_REVIEWER: frozenset(
        _EVERYONE_READS
        | {
            Capability.WRITE_RECORDS,
            Capability.DECIDE_PRELIMINARY_REVIEW,
            Capability.READ_CANDIDATES,
            Capability.READ_CANDIDATE_PERSONAL,
            Capability.REQUEST_GRANTS,
            Capability.READ_GRANTS,
            Capability.READ_DATASETS,
            Capability.READ_SHARED_DATA,
        }
    ),
    Role.UNIT_HANDLER: frozenset(
        _EVERYONE_READS
        | {
            Capability.GIVE_OPINION,
            Capability.READ_CANDIDATES,
            Capability.READ_CANDIDATE_PERSONAL,
        }
    ),
    Role.PROVIDER_APPROVER: frozenset(
        _EVERYONE_READS
        | {
            Capability.WRITE_RECORDS,
            Capability.PUBLISH_DATASETS,
            Capability.READ_DATASETS,
            Capability.ANSWER_GRANTS,
            Capability.READ_GRANTS,
        }
    ),
    Role.REQUESTER: frozenset(
        _EVERYONE_READS
        | {
            Capability.WRITE_RECORDS,
            Capability.READ_DATASETS,
            Capability.REQUEST_GRANTS,
            Capability.READ_GRANTS,
            Capability.READ_SHARED_DATA,
        }
    ),
    Role.AUDITOR: frozenset(
        _EVERYONE_READS
        | {
            Capability.READ_CANDIDATES,
            Capability.READ_DATASETS,
            Capability.READ_GRANTS,
            Capability.READ_ACCESS_TRAIL,
        }
    ),
}


class AuthError(LedgerError):
    """Base of the authentication and authorisation errors (HTTP 401/403)."""


class UnauthenticatedError(AuthError):
    code = "unauthenticated"


class ForbiddenError(AuthError):
    code = "forbidden"


class OutOfJurisdictionError(ForbiddenError):
    code = "out_of_jurisdiction"


@dataclass(frozen=True)
class Caller:
    """An authenticated principal: who, for which unit, in which role, and that unit's reach.

    ``reach`` is the set of unit codes whose data the caller's unit may touch: a village
    itself; a township itself and its villages; a county-level unit every unit (None).
    """

    principal_id: str
    unit_code: str
    role: Role
    key_id: str
    reach: frozenset[str] | None

    def can(self, capability: Capability) -> bool:
        return capability in GRANTED[self.role]

    def require(self, capability: Capability) -> None:
        if not self.can(capability):
            raise ForbiddenError(
                f"role {self.role.value} may not {capability.value}",
                role=self.role.value,
                capability=capability.value,
            )

    def covers(self, unit_code: str) -> bool:
        """Whether ``unit_code``'s data is within the caller's jurisdiction."""
        return self.reach is None or unit_code in self.reach

    def require_covers(self, unit_code: str) -> None:
        if not self.covers(unit_code):
            raise OutOfJurisdictionError(
                f"unit {unit_code} is outside the jurisdiction of unit {self.unit_code}",
                unit=unit_code,
            )


# ---- API keys --------------------------------------------------------------------------------

_KEY = re.compile(r"cl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})", re.ASCII)


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    secret_hash: bytes
    token: str  # shown to its holder once, never stored


def new_api_key() -> NewApiKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(key_id, _hash(secret), f"cl_{key_id}_{secret}")


def parse_api_key(token: str) -> tuple[str, bytes]:
    """``(key id, SHA-256 of the secret)`` of a bearer token; UnauthenticatedError if malformed."""
    match = _KEY.fullmatch(token)
    if match is None:
        raise UnauthenticatedError("malformed API key, want cl_<12 hex>_<43 base64url>")
    return match.group(1), _hash(match.group(2))


def secret_matches(stored_hash: bytes, presented_hash: bytes) -> bool:
    return hmac.compare_digest(stored_hash, presented_hash)


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()
