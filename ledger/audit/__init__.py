"""The tamper audit: the database, the log and the chain, each checked against the others.

:func:`run_audit` is what ``ledger audit`` calls. It reads the chain's side first
(LogAnchor's head and events), then takes one database snapshot and runs, in order:

- :mod:`ledger.audit.log_checks` — every leaf re-hashed and parsed, gapless indices,
  the root recomputed at every checkpoint and anchored size;
- :mod:`ledger.audit.tree_checks` — the signed checkpoints and the stored tiles;
- :mod:`ledger.audit.record_checks` — records and domain rows against the leaves, data
  keys, erasures and sealed commitments;
- :mod:`ledger.audit.message_checks` — signed registrations, decisions, grants and
  revocations against their rows, their leaves and the outbox;
- :mod:`ledger.audit.chain_checks` — anchors, head and consistency against the chain;
- :mod:`ledger.audit.state_checks` — vetting and grant state against the registries,
  refused relays;
- :mod:`ledger.audit.access_checks` — every access entry against the grants.

Findings are data (:class:`~ledger.audit.findings.Finding`), each naming the record ids
and leaf indices involved; the report is ``ok`` when no finding is an error.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from ledger.audit.access_checks import check_access
from ledger.audit.chain_checks import (
    ChainFacts,
    ChainView,
    StoredAnchor,
    check_anchors,
    db_anchors,
    gather_chain,
)
from ledger.audit.findings import (
    CODES,
    AuditReport,
    Finding,
    Findings,
    ProgressCallback,
    no_progress,
)
from ledger.audit.log_checks import BATCH, check_counters, scan_log
from ledger.audit.message_checks import check_messages
from ledger.audit.record_checks import (
    RecordsJoin,
    check_personal_data,
    check_references,
    check_rows_of_records,
)
from ledger.audit.state_checks import check_grants, check_relays, check_vetting
from ledger.audit.tree_checks import (
    StoredCheckpoint,
    check_checkpoints,
    check_tiles,
    read_checkpoints,
    tile_check_size,
    unsigned_tail,
)
from ledger.checkpoint import Verifier
from ledger.errors import UnavailableError
from ledger.log.counters import read_counter
from ledger.sealing import MasterKey
from ledger.store.models import INTEGRATED_SIZE

__all__ = ["CODES", "AuditReport", "ChainView", "Finding", "run_audit"]

T = TypeVar("T")


@contextlib.contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One consistent read of the database. PostgreSQL: a REPEATABLE READ, READ ONLY
    transaction. SQLite: every transaction begins IMMEDIATE (``ledger.store.db``), which
    holds the write lock, so writers wait until the audit has read."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield conn


def run_audit(
    engine: Engine,
    *,
    verifier: Verifier,
    origin: str,
    master: MasterKey | None = None,
    chain: ChainView | None = None,
    chain_error: str | None = None,
    progress: ProgressCallback = no_progress,
    batch: int = BATCH,
) -> AuditReport:
    """Audit the ledger in ``engine`` (see the module doc).

    ``verifier``/``origin`` open the stored checkpoints; ``master`` (optional) opens
    sealed data to check it against its commitments; ``chain`` is the node to compare
    with (None: the database and the log only, reported as ``chain_not_checked``, or as
    ``chain_unreachable`` with ``chain_error`` saying why).
    """
    started = time.monotonic()
    findings = Findings()
    facts: ChainFacts | None = None

    def stage(what: str, action: Callable[[], T], default: T) -> T:
        """Run one check. A chain that stops answering is ``chain_unreachable`` (and the
        rest runs without the chain); anything else that stops a check, such as a stored
        value of the wrong type, is ``check_failed``: never a crash, never silence."""
        nonlocal facts
        try:
            return action()
        except UnavailableError as exc:  # the chain node (ChainView's contract)
            findings.add(
                "chain_unreachable",
                f"reading the chain failed while checking {what}: {exc.message}",
                rpc=chain.source if chain else None,
            )
            facts = None
        except Exception as exc:  # the stored data broke a check: say so, go on
            findings.add(
                "check_failed",
                f"the {what} check stopped: {type(exc).__name__}: {exc}",
                check=what,
                error=type(exc).__name__,
            )
        return default

    if chain is not None:
        progress("chain", 0, None)
        with engine.connect() as conn:
            facts = stage("chain", lambda: gather_chain(conn, chain, findings), None)
        progress("chain", 1, 1)
    elif chain_error is not None:
        findings.add("chain_unreachable", f"the chain was not checked: {chain_error}")
    else:
        findings.add(
            "chain_not_checked",
            "the audit ran without a chain: anchors, vetting and grant state were compared "
            "with the database only",
        )

    checked: dict[str, Any] = {}
    with _snapshot(engine) as conn:
        checkpoints: list[StoredCheckpoint] = stage(
            "checkpoints", lambda: read_checkpoints(conn), []
        )
        anchors: list[StoredAnchor] = stage("anchors", lambda: db_anchors(conn), [])
        integrated = read_counter(conn, INTEGRATED_SIZE)
        sizes = {cp.tree_size for cp in checkpoints} | {a.tree_size for a in anchors}
        sizes |= {tile_check_size(integrated)} | (facts.sizes() if facts else set())

        join = RecordsJoin(conn, findings)
        scan = stage(
            "leaves",
            lambda: scan_log(
                conn, findings, sizes=sizes, on_batch=join.feed, progress=progress, batch=batch
            ),
            None,
        )
        signed: dict[int, bytes] = {}
        if scan is not None:
            stage("records", join.finish, None)
            stage("log counters", lambda: check_counters(conn, findings, scan), None)
            signed = stage(
                "checkpoints",
                lambda: check_checkpoints(
                    findings, scan, checkpoints, verifier=verifier, origin=origin
                ),
                {},
            )
            unsigned_tail(findings, scan, signed)
            progress("tiles", 0, 1)
            stage("tiles", lambda: check_tiles(conn, findings, scan, integrated), None)
            progress("tiles", 1, 1)

        stage("record references", lambda: check_references(conn, findings), None)
        stage("rows of records", lambda: check_rows_of_records(conn, findings), None)
        sealed = stage(
            "personal data",
            lambda: check_personal_data(conn, findings, join, master=master, progress=progress),
            0,
        )
        messages: dict[str, int] = stage(
            "signed messages", lambda: check_messages(conn, findings), {}
        )

        stored_sizes = {cp.tree_size for cp in checkpoints}
        anchored = 0
        if scan is not None:
            anchored = stage(
                "anchors",
                lambda: check_anchors(
                    conn,
                    findings,
                    scan=scan,
                    signed=signed,
                    stored_sizes=stored_sizes,
                    anchors=anchors,
                    facts=facts,
                ),
                0,
            )
        stage(
            "relays", lambda: check_relays(conn, findings, facts.chain_id if facts else None), None
        )
        candidates = stage(
            "vetting state", lambda: check_vetting(conn, findings, facts, progress), 0
        )
        grants = stage("grant state", lambda: check_grants(conn, findings, facts), 0)
        access = stage("access", lambda: check_access(conn, findings, progress), 0)
        checked = {
            "leaves": scan.rows if scan else 0,
            "records": join.records,
            "checkpoints": len(checkpoints),
            "anchored_sizes": anchored,
            "sealed_records_opened": sealed,
            **messages,
            "candidates": candidates,
            "grants_on_chain": grants,
            "access_entries": access,
        }
    return AuditReport(
        findings=findings.items,
        checked=checked,
        chain=facts.describe() if facts else None,
        elapsed=time.monotonic() - started,
        dropped=dict(findings.dropped),
    )
