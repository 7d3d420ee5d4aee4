"""What the audit reports: findings as data, each naming the records and leaves involved.

A :class:`Finding` has a stable ``code`` (one of :data:`CODES`), a human message, the
record ids and leaf indices it is about, and its evidence (got/want values, roots,
ranges). Its ``severity`` is ``error`` (something is wrong: ``ledger audit`` exits 1)
or ``notice`` (worth knowing, not wrong: a message still waiting to be relayed, leaves
not yet covered by a checkpoint, a check that could not run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, Literal

Severity = Literal["error", "notice"]

CODES: Final[Mapping[str, str]] = {
    # -- the log against itself (log_checks)
    "leaf_hash_mismatch": "a leaf's stored hash is not SHA-256(0x00 || its stored data)",
    "leaf_unparsable": "a leaf's data is not a canonical entry (Entry.from_leaf_data refuses it)",
    "leaf_entry_id_mismatch": "a leaf's entry_id column is not the id inside its data",
    "leaf_index_gap": "leaf indices are missing: the log is not gapless",
    "log_counter_mismatch": "the log's sequenced/integrated counters disagree with its leaves",
    "log_unsigned_tail": "leaves not yet covered by a signed checkpoint (notice)",
    "checkpoint_signature_invalid": "a stored checkpoint note does not verify with the log's key",
    "checkpoint_row_mismatch": "a checkpoint row's size or root differs from its signed note",
    "checkpoint_root_mismatch": "the root recomputed from the leaf hashes is not the checkpoint's",
    "checkpoint_beyond_log": "a checkpoint is signed for more leaves than the log holds",
    "tile_mismatch": "a stored tile (node hashes) differs from the tile rebuilt from the leaves",
    # -- records and domain rows against the log (record_checks)
    "record_without_leaf": "a records row has no leaf at its leaf index",
    "record_leaf_mismatch": "a records row's id, kind or unit differs from its leaf's entry",
    "leaf_without_record": "a leaf of a domain kind has no records row",
    "leaf_not_indexed": "a leaf of a non-domain kind has no records row (notice)",
    "domain_row_without_record": "a domain row names a record id that is not in records",
    "record_without_row": "a record of a domain kind has no row in its table (deleted?)",
    "data_key_missing": "a record's data key is gone without an erasure tombstone",
    "sealed_data_missing": "an entry commits to sealed data that is not stored",
    "sealed_commitment_mismatch": "sealed data does not open, or not to the entry's commitment",
    "erasure_without_tombstone": "an erasure names a tombstone record that does not exist",
    "erasure_incomplete": "an erased record's data key is still stored",
    "signed_message_mismatch": "a decision/grant/revocation row differs from its signed message",
    "signature_invalid": "a signed message does not recover to the deciding unit's key",
    "outbox_missing": "a signed decision/grant/revocation was never queued for the chain",
    "message_without_row": "a signed message in the outbox has no database row (deleted?)",
    # -- the chain (chain_checks)
    "chain_unreachable": "no chain node answered: nothing was compared with the chain",
    "chain_not_checked": "the audit ran without a chain (notice)",
    "contract_not_deployed": "no deployment of a contract the audit needs is recorded",
    "contract_code_mismatch": "the code at a recorded contract address is not what we deployed",
    "anchor_root_mismatch": "the chain holds another root for an anchored tree size",
    "anchor_not_on_chain": "the database records an anchor the chain does not hold",
    "anchor_missing_from_db": "the chain has an Anchored event the database does not record",
    "anchor_without_checkpoint": "an anchored tree size has no stored checkpoint",
    "anchor_pending": "an anchor was sent and is not mined yet (notice)",
    "chain_head_unknown": "the chain's head is not a tree size and root of our log",
    "anchors_inconsistent": "consecutive anchors are not consistent (proof from the store fails)",
    # -- vetting and grant state against the contracts (state_checks)
    "vetting_rule_violation": "stored decisions break the vetting rules the contract enforces",
    "vetting_state_mismatch": "a candidate's stage/outcome on chain differs from the DB replay",
    "vetting_not_on_chain": "a candidate relayed per the database is unknown on chain",
    "grant_mismatch": "a grant's terms on chain differ from the database",
    "grant_not_on_chain": "a grant relayed per the database is unknown on chain",
    "grant_revocation_mismatch": "revoked on chain but not in the database, or the reverse",
    "relay_refused": "the chain refused a relayed message (chain_relay_failures)",
    "relay_pending": "messages still wait in the outbox for the chain (notice)",
    # -- access (access_checks)
    "access_outside_grant": "an access entry has no grant active at its time for its unit",
    # -- the audit itself
    "check_failed": "a check stopped on the stored data (e.g. a value of the wrong type)",
}
"""Every finding code, with what it means (stable: scripts match on them)."""

NOTICE_CODES: Final = frozenset(
    {
        "log_unsigned_tail",
        "leaf_not_indexed",
        "chain_not_checked",
        "anchor_pending",
        "relay_pending",
    }
)


def _plain(value: Any) -> Any:
    """Evidence as JSON: bytes become hex, times ISO 8601, containers recursively."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    return value


@dataclass(frozen=True)
class Finding:
    """One thing the audit found, with the record ids and leaf indices it is about."""

    code: str
    message: str
    record_ids: Sequence[str] = ()
    leaf_indices: Sequence[int] = ()
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}")
        object.__setattr__(self, "record_ids", tuple(self.record_ids))
        object.__setattr__(self, "leaf_indices", tuple(sorted(set(self.leaf_indices))))

    @property
    def severity(self) -> Severity:
        return "notice" if self.code in NOTICE_CODES else "error"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "record_ids": list(self.record_ids),
            "leaf_indices": list(self.leaf_indices),
            "evidence": _plain(self.evidence),
        }


class Findings:
    """The findings of one run, in the order found. Caps repeats of one code, so a
    wholesale corruption gives a readable report, and counts what it dropped."""

    def __init__(self, *, limit_per_code: int = 1000) -> None:
        self.items: list[Finding] = []
        self.dropped: dict[str, int] = {}
        self._per_code: dict[str, int] = {}
        self._limit = limit_per_code

    def add(
        self,
        code: str,
        message: str,
        *,
        record_ids: Iterable[str | None] = (),
        leaf_indices: Iterable[int | None] = (),
        **evidence: Any,
    ) -> None:
        count = self._per_code.get(code, 0) + 1
        self._per_code[code] = count
        if count > self._limit:
            self.dropped[code] = self.dropped.get(code, 0) + 1
            return
        self.items.append(
            Finding(
                code,
                message,
                [r for r in record_ids if r is not None],
                [i for i in leaf_indices if i is not None],
                evidence,
            )
        )

    def codes(self) -> set[str]:
        return {f.code for f in self.items}


ProgressCallback = Callable[[str, int, "int | None"], None]
"""``progress(stage, done, total)``: how far a stage is (total None: unknown)."""


def no_progress(stage: str, done: int, total: int | None) -> None:
    """The default progress callback: says nothing."""


@dataclass
class AuditReport:
    """The result of :func:`ledger.audit.run_audit`."""

    findings: list[Finding]
    checked: dict[str, int]
    chain: dict[str, Any] | None
    elapsed: float
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def notices(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "notice"]

    @property
    def ok(self) -> bool:
        """True when nothing is wrong (notices allowed)."""
        return not self.errors and not any(c not in NOTICE_CODES for c in self.dropped)

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "findings": [f.to_json() for f in self.errors],
            "notices": [f.to_json() for f in self.notices],
            "dropped": dict(self.dropped),
            "checked": dict(self.checked),
            "chain": self.chain,
            "elapsed_seconds": round(self.elapsed, 3),
        }
