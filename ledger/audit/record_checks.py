"""Records and domain rows against the log, and the personal data each record commits to.

- Every ``records`` row has its leaf (same leaf index, entry id, kind and unit), and every
  leaf of a domain kind has a ``records`` row: merged batch by batch with the log scan.
- Every domain row names a record that exists (``units.record_id``, ``candidates.record_id``
  ... ``access_entries.record_id``, ``dataset_rows.batch_record_id``).
- Every record with personal data still has its data key, unless an erasure with an
  existing tombstone says it was destroyed; an erased record has no key left; an entry's
  ``sealed`` commitment has its ``sealed_data``, which opens (with the master key) to
  exactly that commitment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import Column, Connection, Table, exists, select

from ledger.audit.findings import Findings, ProgressCallback
from ledger.audit.log_checks import ScannedLeaf
from ledger.errors import LedgerError
from ledger.sealing import DataKey, MasterKey, SealedData, commitment, open_sealed
from ledger.store.domain import (
    access_entries,
    candidates,
    data_keys,
    dataset_rows,
    datasets,
    election_rounds,
    erasures,
    grant_answers,
    grant_requests,
    grant_revocations,
    records,
    sealed_data,
    units,
    vetting_decisions,
)

DOMAIN_KINDS: Final = frozenset(
    {"record", "unit", "principal", "key", "vetting", "sharing", "erasure", "access"}
)
"""First segments of the kinds the service writes through ``ledger.journal`` (which always
writes a ``records`` row). Other kinds are raw log entries (``ledger log append``)."""

REFERENCES: Final[tuple[tuple[Table, str], ...]] = (
    (units, "record_id"),
    (election_rounds, "record_id"),
    (candidates, "record_id"),
    (vetting_decisions, "record_id"),
    (datasets, "record_id"),
    (dataset_rows, "batch_record_id"),
    (grant_requests, "record_id"),
    (grant_answers, "record_id"),
    (grant_revocations, "record_id"),
    (access_entries, "record_id"),
    (erasures, "record_id"),
    (sealed_data, "record_id"),
    (data_keys, "record_id"),
)
"""Every column that names the log record committing to its row."""

KIND_ROWS: Final[dict[str, tuple[Table, str]]] = {
    "unit.registered": (units, "record_id"),
    "vetting.round.opened": (election_rounds, "record_id"),
    "vetting.candidate.registered": (candidates, "record_id"),
    "vetting.decision": (vetting_decisions, "record_id"),
    "sharing.dataset.published": (datasets, "record_id"),
    "sharing.rows.ingested": (dataset_rows, "batch_record_id"),
    "sharing.grant.requested": (grant_requests, "record_id"),
    "sharing.grant.answered": (grant_answers, "record_id"),
    "sharing.grant.revoked": (grant_revocations, "record_id"),
    "sharing.access": (access_entries, "record_id"),
    "record.erased": (erasures, "tombstone_record_id"),
}
"""The row each kind of record is written with (the reverse of :data:`REFERENCES`)."""


def is_domain_kind(kind: str) -> bool:
    return kind.split(".", 1)[0] in DOMAIN_KINDS


class RecordsJoin:
    """Merges ``records`` (by leaf index) with the leaves of the log scan, batch by batch."""

    def __init__(self, conn: Connection, findings: Findings) -> None:
        self.conn = conn
        self.findings = findings
        self.sealed: dict[str, str] = {}  # record id -> its entry's sealed commitment
        self.leaf_of: dict[str, int] = {}  # record id -> leaf index, for sealed records
        self.records = 0
        self._done_to: int | None = None  # records with leaf_index <= this are merged
        self._unindexed: list[tuple[str, int]] = []
        self._unindexed_count = 0

    def _records(self, upto: int | None) -> dict[int, Any]:
        query = select(records.c.id, records.c.kind, records.c.unit_code, records.c.leaf_index)
        if self._done_to is not None:
            query = query.where(records.c.leaf_index > self._done_to)
        if upto is not None:
            query = query.where(records.c.leaf_index <= upto)
        rows = self.conn.execute(query).all()
        self.records += len(rows)
        return {int(r.leaf_index): r for r in rows}

    def feed(self, leaves: list[ScannedLeaf]) -> None:
        if not leaves:
            return
        by_index = self._records(leaves[-1].index)
        self._done_to = leaves[-1].index
        for leaf in leaves:
            record = by_index.pop(leaf.index, None)
            entry = leaf.entry
            if record is None:
                if entry is not None and not is_domain_kind(entry.kind):
                    self._unindexed_count += 1
                    if len(self._unindexed) < 20:
                        self._unindexed.append((leaf.entry_id, leaf.index))
                    continue
                self.findings.add(
                    "leaf_without_record",
                    f"leaf {leaf.index} ({leaf.entry_id}"
                    + (f", kind {entry.kind}" if entry else "")
                    + ") has no records row: the record was deleted, or the leaf inserted",
                    record_ids=[leaf.entry_id],
                    leaf_indices=[leaf.index],
                    kind=entry.kind if entry else None,
                )
                continue
            differs: dict[str, list[str]] = {}
            if record.id != leaf.entry_id:
                differs["id"] = [record.id, leaf.entry_id]
            if entry is not None and record.kind != entry.kind:
                differs["kind"] = [record.kind, entry.kind]
            if entry is not None and record.unit_code != entry.unit:
                differs["unit"] = [record.unit_code, entry.unit]
            if differs:
                self.findings.add(
                    "record_leaf_mismatch",
                    f"records row {record.id} points at leaf {leaf.index}, whose entry differs "
                    f"in {', '.join(differs)} (record, leaf): "
                    + "; ".join(f"{k} {a!r} vs {b!r}" for k, (a, b) in differs.items()),
                    record_ids=dict.fromkeys([record.id, leaf.entry_id]),
                    leaf_indices=[leaf.index],
                    differs=differs,
                )
            if entry is not None and entry.sealed is not None and record.id == entry.id:
                self.sealed[record.id] = entry.sealed
                self.leaf_of[record.id] = leaf.index
        self._without_leaf(by_index.values())

    def finish(self) -> None:
        """Records pointing beyond the last leaf; the count of raw (non-domain) leaves."""
        self._without_leaf(self._records(None).values())
        if self._unindexed_count:
            self.findings.add(
                "leaf_not_indexed",
                f"{self._unindexed_count} leaves of non-domain kinds have no records row "
                "(raw log entries, e.g. from `ledger log append`)",
                record_ids=[i for i, _ in self._unindexed],
                leaf_indices=[n for _, n in self._unindexed],
                count=self._unindexed_count,
            )

    def _without_leaf(self, rows: Iterable[Any]) -> None:
        for r in rows:
            self.findings.add(
                "record_without_leaf",
                f"records row {r.id} says leaf {r.leaf_index}, but the log has no such leaf",
                record_ids=[r.id],
                leaf_indices=[int(r.leaf_index)],
            )


def check_references(conn: Connection, findings: Findings) -> None:
    """Every domain row's record id is in ``records`` (an anti-join per column)."""
    for table, name in REFERENCES:
        column: Column[Any] = table.c[name]
        keys = list(table.primary_key.columns)
        rows = conn.execute(
            select(column, *keys)
            .outerjoin(records, records.c.id == column)
            .where(records.c.id.is_(None))
            .order_by(column)
        )
        for row in rows:
            key = {k.name: _shown(row._mapping[k]) for k in keys}
            findings.add(
                "domain_row_without_record",
                f"{table.name} row {key} names record {row[0]} in {name}, which is not in records",
                record_ids=[row[0]],
                table=table.name,
                column=name,
                key=key,
            )


def check_rows_of_records(conn: Connection, findings: Findings) -> None:
    """Every record of a kind in :data:`KIND_ROWS` still has its row."""
    for kind, (table, name) in KIND_ROWS.items():
        column: Column[Any] = table.c[name]
        rows = conn.execute(
            select(records.c.id, records.c.leaf_index)
            .where(records.c.kind == kind, ~exists().where(column == records.c.id))
            .order_by(records.c.leaf_index)
        )
        for record_id, leaf_index in rows:
            findings.add(
                "record_without_row",
                f"record {record_id} ({kind}, leaf {leaf_index}) has no {table.name} row: the "
                "row was deleted",
                record_ids=[record_id],
                leaf_indices=[int(leaf_index)],
                kind=kind,
                table=table.name,
            )


def _shown(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def check_personal_data(
    conn: Connection,
    findings: Findings,
    join: RecordsJoin,
    *,
    master: MasterKey | None,
    progress: ProgressCallback,
) -> int:
    """Data keys, erasures and sealed commitments (see the module doc). Returns how many
    sealed records were opened and checked against their commitment."""
    keys = set(conn.execute(select(data_keys.c.record_id)).scalars())
    erased = {r.record_id: r for r in conn.execute(select(erasures))}
    stored = set(conn.execute(select(sealed_data.c.record_id)).scalars())
    batches = set(conn.execute(select(dataset_rows.c.batch_record_id).distinct()).scalars())
    known = set(conn.execute(select(records.c.id)).scalars()) if erased else set()

    for record_id in sorted(set(join.sealed) | stored | batches):
        if record_id not in keys and record_id not in erased:
            findings.add(
                "data_key_missing",
                f"the data key of record {record_id} is gone, and no erasure tombstone says "
                "it was destroyed",
                record_ids=[record_id],
                leaf_indices=[join.leaf_of.get(record_id)],
            )
    for record_id, row in sorted(erased.items()):
        if row.tombstone_record_id not in known:
            findings.add(
                "erasure_without_tombstone",
                f"record {record_id} is marked erased, but its tombstone record "
                f"{row.tombstone_record_id} does not exist",
                record_ids=[record_id, row.tombstone_record_id],
            )
        if record_id in keys:
            findings.add(
                "erasure_incomplete",
                f"record {record_id} is marked erased, but its data key is still stored",
                record_ids=[record_id],
                leaf_indices=[join.leaf_of.get(record_id)],
            )
    for record_id in sorted(set(join.sealed) - stored):
        findings.add(
            "sealed_data_missing",
            f"the entry of record {record_id} commits to sealed data that is not stored",
            record_ids=[record_id],
            leaf_indices=[join.leaf_of.get(record_id)],
        )
    if master is None:
        return 0
    return _check_commitments(conn, findings, join, master, progress)


def _check_commitments(
    conn: Connection,
    findings: Findings,
    join: RecordsJoin,
    master: MasterKey,
    progress: ProgressCallback,
) -> int:
    total, done = len(join.sealed), 0
    progress("sealed data", 0, total)
    rows = conn.execute(
        select(
            sealed_data.c.record_id,
            sealed_data.c.nonce,
            sealed_data.c.ciphertext,
            data_keys.c.wrapped_key,
            data_keys.c.salt,
        ).join(data_keys, data_keys.c.record_id == sealed_data.c.record_id)
    )
    for row in rows:
        want = join.sealed.get(row.record_id)
        if want is None:
            continue
        done += 1
        if done % 1000 == 0:
            progress("sealed data", done, total)
        reason = None
        try:
            personal = open_sealed(
                master,
                row.record_id,
                DataKey(bytes(row.wrapped_key)),
                SealedData(bytes(row.nonce), bytes(row.ciphertext)),
            )
            if commitment(personal, bytes(row.salt)) != want:
                reason = "it opens, but not to the data the entry's commitment was made for"
        except LedgerError as exc:
            reason = f"it does not open: {exc.message}"
        if reason is not None:
            findings.add(
                "sealed_commitment_mismatch",
                f"the sealed data of record {row.record_id}: {reason}",
                record_ids=[row.record_id],
                leaf_indices=[join.leaf_of.get(row.record_id)],
                commitment=want,
            )
    progress("sealed data", total, total)
    return done
