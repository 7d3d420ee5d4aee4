"""The domain's tables: units and their keys, principals and API keys, records, sealed
personal data, two-committee vetting, data sharing, and the chain outbox.

Rules of the schema (migration 0004 installs them):

- Facts are written once. Every table here refuses UPDATE (a trigger), and every
  table but the three *erasable* ones refuses DELETE: a state change is a new row
  (a revocation, a decision, an answer), never an edit, so no request can change or
  remove a stored record. Current state is computed from the facts.
- The erasable tables hold what crypto-shredding destroys: ``data_keys`` (the key
  and salt that open and commit a record's personal data) and ``blind_indexes``.
  Deleting a record's rows there is erasure (PIPL Art. 47); the ciphertext in
  ``sealed_data`` and the leaf in the log stay and still verify, unreadable.
- Personal data (names, ID numbers, phones, addresses, dataset rows) lives only in
  ``sealed_data`` / ``dataset_rows`` ciphertext, under AES-256-GCM data keys wrapped
  by the master key (``ledger.sealing``). Other columns hold no personal data: an
  ID number appears only masked (``222404********0316``) and as a keyed blind index.
- Each business fact names the log record (``record_id``) that commits to it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.store.models import Base, BigInt, _table

UnitCode = String(32)
RecordId = String(64)
Hex32 = String(66)  # "0x" + 64 hex digits


class Unit(Base):
    """A village/community, a township/street, or a county/city department (DOMAIN.md §7)."""

    __tablename__ = "units"

    # A division code (222404101) or a department code (GA); keccak256 of it is the
    # unit's id on chain.
    code: Mapped[str] = mapped_column(UnitCode, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    # village | township | county (UnitRegistry.Level); the platform unit is a county unit.
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    # A village's township; null for the others.
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("units.code"))
    # The address of the unit's EIP-712 signing key (its private key is in unit_keys).
    signing_address: Mapped[str] = mapped_column(String(42), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    record_id: Mapped[str] = mapped_column(RecordId, nullable=False)

    __table_args__ = (
        CheckConstraint("level IN ('village', 'township', 'county')", name="level_known"),
    )


class UnitKey(Base):
    """A unit's signing key, held by the platform for the unit, sealed under the master key."""

    __tablename__ = "unit_keys"

    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), nullable=False)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    nonce: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class Principal(Base):
    """Someone who acts for a unit with one role (DOMAIN.md §6.4). No personal data: the
    label is a post ("GA handler 1"), not a person's name."""

    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    label: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Null only for the first platform administrator, made by `ledger init`.
    created_by: Mapped[str | None] = mapped_column(String(36))


class ApiKey(Base):
    """An API key: ``cl_<id>_<secret>``. Only SHA-256(secret) is kept; the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), nullable=False)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ApiKeyRevocation(Base):
    """A key's revocation: from ``revoked_at`` on, the key authenticates nobody."""

    __tablename__ = "api_key_revocations"

    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_by: Mapped[str] = mapped_column(String(36), nullable=False)


class Record(Base):
    """Every entry the service wrote to the log, indexed by what it is about."""

    __tablename__ = "records"

    id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(48), nullable=False)
    unit_code: Mapped[str] = mapped_column(UnitCode, nullable=False)
    # The candidate, grant, dataset ... the record is about (its id), if any.
    subject: Mapped[str | None] = mapped_column(String(66))
    leaf_index: Mapped[int] = mapped_column(BigInt, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Who wrote it (null for the service itself, e.g. `ledger init`).
    principal_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (
        Index("ix_records_subject", "subject"),
        Index("ix_records_unit_code_created_at", "unit_code", "created_at"),
    )


class SealedData(Base):
    """A record's personal part, AES-256-GCM encrypted under the record's data key."""

    __tablename__ = "sealed_data"

    record_id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class DataKey(Base):
    """ERASABLE. A record's data key (wrapped by the master key) and its commitment salt."""

    __tablename__ = "data_keys"

    record_id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    salt: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class BlindIndex(Base):
    """ERASABLE. HMAC of a personal value (an ID number), to find a record without decrypting."""

    __tablename__ = "blind_indexes"

    record_id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), nullable=False, index=True)


class Erasure(Base):
    """A record whose personal data was destroyed, and the tombstone entry that says so."""

    __tablename__ = "erasures"

    record_id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    tombstone_record_id: Mapped[str] = mapped_column(RecordId, nullable=False)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    principal_id: Mapped[str] = mapped_column(String(36), nullable=False)


# ---- two-committee vetting ------------------------------------------------------------------


class NegativeListItem(Base):
    """A clause of the negative list (负面清单, DOMAIN.md §1.4)."""

    __tablename__ = "negative_list"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    # BAR (不得, a hard bar) | UNSUITABLE (不宜, a judgement)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    lookback_years: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("severity IN ('BAR', 'UNSUITABLE')", name="severity"),)


class ElectionRound(Base):
    """An election round (换届批次) and the departments its joint review requires."""

    __tablename__ = "election_rounds"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    # GENERAL (换届) | BY_ELECTION (补选)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    election_day: Mapped[date] = mapped_column(Date, nullable=False)
    lead_department: Mapped[str] = mapped_column(ForeignKey("units.code"), nullable=False)
    # Unit codes of the required departments, in the on-chain bitmap order.
    departments: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    # How long a DEFERRED outcome may stay open, in days.
    deferral_days: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    record_id: Mapped[str] = mapped_column(RecordId, nullable=False)


class Candidate(Base):
    """A candidacy (候选人资格审查). Personal data is in sealed_data under ``record_id``."""

    __tablename__ = "candidates"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    round_code: Mapped[str] = mapped_column(ForeignKey("election_rounds.code"), nullable=False)
    village_code: Mapped[str] = mapped_column(ForeignKey("units.code"), nullable=False)
    committee: Mapped[str] = mapped_column(String(32), nullable=False)
    post: Mapped[str] = mapped_column(String(32), nullable=False)
    incumbent: Mapped[bool] = mapped_column(Boolean, nullable=False)
    id_number_masked: Mapped[str] = mapped_column(String(18), nullable=False)
    # keccak256("civic-ledger/candidate/v1:" || id): random, so it reveals nothing.
    chain_id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False, unique=True)
    # The candidacy this one resubmits after a RETURNED outcome, if any.
    resubmits: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    record_id: Mapped[str] = mapped_column(RecordId, nullable=False, unique=True)
    principal_id: Mapped[str] = mapped_column(String(36), nullable=False)


class Decision(Base):
    """One stage decision or joint-review opinion, signed by the deciding unit's key."""

    __tablename__ = "vetting_decisions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    candidate_id: Mapped[str] = mapped_column(ForeignKey("candidates.id"), nullable=False)
    # Order of decisions on one candidate (0, 1, 2, ...): the replay order of the rules.
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    stage: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), nullable=False)
    # Verdict (stages 1-2) or Opinion (stage 3), with the contract's numbering.
    verdict: Mapped[int] = mapped_column(Integer, nullable=False)
    # The reasons: county-level eyes only (DOMAIN.md §1.6); the chain sees the salted hash.
    clause_codes: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    clauses_salt: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    clauses_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary(65), nullable=False)
    digest: Mapped[str] = mapped_column(Hex32, nullable=False, unique=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    record_id: Mapped[str] = mapped_column(RecordId, nullable=False, unique=True)
    principal_id: Mapped[str] = mapped_column(String(36), nullable=False)

    __table_args__ = (
        Index("uq_vetting_decisions_candidate_seq", "candidate_id", "seq", unique=True),
    )


# ---- data sharing ---------------------------------------------------------------------------


class Dataset(Base):
    """A catalogue item (资源目录) of the shared grassroots governance database."""

    __tablename__ = "datasets"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    owner_code: Mapped[str] = mapped_column(ForeignKey("units.code"), nullable=False)
    # UNCONDITIONAL | CONDITIONAL | NOT_SHARED
    sharing_class: Mapped[str] = mapped_column(String(16), nullable=False)
    # [{"name", "type", "sensitivity": GENERAL|SENSITIVE, "personal": bool}, ...]
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    record_id: Mapped[str] = mapped_column(RecordId, nullable=False)


class DatasetRow(Base):
    """One row of a dataset, encrypted under its ingest batch's data key."""

    __tablename__ = "dataset_rows"

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    dataset_code: Mapped[str] = mapped_column(ForeignKey("datasets.code"), nullable=False)
    # The division the row belongs to (a village, township or the city): row scope.
    division_code: Mapped[str] = mapped_column(UnitCode, nullable=False)
    # The ingest batch's log record; its data key opens the row.
    batch_record_id: Mapped[str] = mapped_column(RecordId, nullable=False)
    nonce: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)

    __table_args__ = (Index("ix_dataset_rows_dataset_division", "dataset_code", "division_code"),)


class GrantRequest(Base):
    """A unit's request (共享申请) for fields of a dataset, for a purpose and a window."""

    __tablename__ = "grant_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dataset_code: Mapped[str] = mapped_column(ForeignKey("datasets.code"), nullable=False)
    requester_code: Mapped[str] = mapped_column(ForeignKey("units.code"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    scenario: Mapped[str] = mapped_column(String(128), nullable=False)
    legal_basis: Mapped[str] = mapped_column(String(256), nullable=False)
    fields: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    record_id: Mapped[str] = mapped_column(RecordId, nullable=False)
    principal_id: Mapped[str] = mapped_column(String(36), nullable=False)


class GrantAnswer(Base):
    """The owner's answer to a request, once: approved (in full or in part) or denied."""

    __tablename__ = "grant_answers"

    request_id: Mapped[str] = mapped_column(ForeignKey("grant_requests.id"), primary_key=True)
    # APPROVED | PARTIALLY_APPROVED | DENIED
    decision: Mapped[str] = mapped_column(String(24), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    # Set when granted: the on-chain grant id (EIP-712 struct hash) and its terms.
    grant_id: Mapped[str | None] = mapped_column(Hex32, unique=True)
    fields: Mapped[list[str] | None] = mapped_column(JSON)
    row_scope: Mapped[str | None] = mapped_column(UnitCode)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    scope_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes | None] = mapped_column(LargeBinary(65))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    record_id: Mapped[str] = mapped_column(RecordId, nullable=False)
    principal_id: Mapped[str] = mapped_column(String(36), nullable=False)


class GrantRevocation(Base):
    """A grant's revocation, signed by the owner's key."""

    __tablename__ = "grant_revocations"

    grant_id: Mapped[str] = mapped_column(Hex32, primary_key=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary(65), nullable=False)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    record_id: Mapped[str] = mapped_column(RecordId, nullable=False)
    principal_id: Mapped[str] = mapped_column(String(36), nullable=False)


class AccessEntry(Base):
    """One governed read (DOMAIN.md §2.5): who read what, under which grant, for what."""

    __tablename__ = "access_entries"

    record_id: Mapped[str] = mapped_column(RecordId, primary_key=True)
    grant_id: Mapped[str] = mapped_column(Hex32, nullable=False, index=True)
    dataset_code: Mapped[str] = mapped_column(String(64), nullable=False)
    unit_code: Mapped[str] = mapped_column(UnitCode, nullable=False)
    principal_id: Mapped[str] = mapped_column(String(36), nullable=False)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    query_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    rows_returned: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


# ---- the chain outbox -----------------------------------------------------------------------


class ChainOutbox(Base):
    """A message waiting to be relayed, in the order it was written. It is done when
    ``chain_relays`` (or ``chain_relay_failures``) has its (kind, item_id) for the chain."""

    __tablename__ = "chain_outbox"

    seq: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    # unit | round | dataset | registration | decision | grant | revocation
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    item_id: Mapped[str] = mapped_column(Hex32, nullable=False)
    # The message's fields (hex for bytes), enough to rebuild the call.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary(65))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (Index("uq_chain_outbox_kind_item", "kind", "item_id", unique=True),)


class ChainRelayFailure(Base):
    """A message the chain refused: the outbox moves past it; the audit reports it."""

    __tablename__ = "chain_relay_failures"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    item_id: Mapped[str] = mapped_column(Hex32, primary_key=True)
    error: Mapped[str] = mapped_column(Text, nullable=False)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


units = _table(Unit)
unit_keys = _table(UnitKey)
principals = _table(Principal)
api_keys = _table(ApiKey)
api_key_revocations = _table(ApiKeyRevocation)
records = _table(Record)
sealed_data = _table(SealedData)
data_keys = _table(DataKey)
blind_indexes = _table(BlindIndex)
erasures = _table(Erasure)
negative_list = _table(NegativeListItem)
election_rounds = _table(ElectionRound)
candidates = _table(Candidate)
vetting_decisions = _table(Decision)
datasets = _table(Dataset)
dataset_rows = _table(DatasetRow)
grant_requests = _table(GrantRequest)
grant_answers = _table(GrantAnswer)
grant_revocations = _table(GrantRevocation)
access_entries = _table(AccessEntry)
chain_outbox = _table(ChainOutbox)
chain_relay_failures = _table(ChainRelayFailure)

ERASABLE_TABLES = ("data_keys", "blind_indexes")
"""Tables whose rows erasure deletes (crypto-shredding); nothing else deletes them."""

DOMAIN_TABLES = tuple(
    t.name
    for t in (
        units,
        unit_keys,
        principals,
        api_keys,
        api_key_revocations,
        records,
        sealed_data,
        data_keys,
        blind_indexes,
        erasures,
        negative_list,
        election_rounds,
        candidates,
        vetting_decisions,
        datasets,
        dataset_rows,
        grant_requests,
        grant_answers,
        grant_revocations,
        access_entries,
        chain_outbox,
        chain_relay_failures,
    )
)
"""Every domain table, in creation order (the migration and the row-count tests use it)."""
