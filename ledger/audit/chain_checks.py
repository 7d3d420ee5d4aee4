"""The log against the chain: what LogAnchor holds, what ``chain_anchors`` remembers, and
what the stored checkpoints and the leaves say, at every anchored tree size.

For each anchored size (an ``Anchored`` event on chain, or a mined/final
``chain_anchors`` row) the roots from every source must agree: the chain's
``rootAt(size)``, the database's anchor row, the signed checkpoint, and the root
recomputed from the leaves. The chain's ``head()`` must be a size and root of our log;
consecutive anchored sizes must be consistent by a proof built from the store
(:func:`ledger.merkle.verify_consistency`); events the database does not record, and
anchors the database records but the chain does not hold, are reported.

The chain is read through a :class:`ChainView` (``ledger.chain.reads.ChainReads``), so
this module needs no web3.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, select

from ledger.audit.findings import Findings
from ledger.audit.log_checks import LogScan
from ledger.errors import LedgerError
from ledger.log import LogReader
from ledger.merkle import verify_consistency
from ledger.store.models import chain_anchors, chain_deployments

if TYPE_CHECKING:
    from ledger.chain.reads import AnchoredEvent, CandidateOnChain, GrantOnChain

# The contract names ``chain_deployments`` rows carry (``ledger.chain.deploy``, which this
# package does not import: it loads web3, and the audit needs none without a chain).
LOG_ANCHOR = "LogAnchor"
VETTING_REGISTRY = "VettingRegistry"
GRANT_REGISTRY = "GrantRegistry"
ZERO = bytes(32)


class ChainView(Protocol):
    """The chain reads the audit needs (``ledger.chain.reads.ChainReads``). A read the
    node cannot answer raises :class:`ledger.errors.UnavailableError`."""

    source: str

    def chain_id(self) -> int: ...
    def code_hash(self, address: str) -> bytes: ...
    def head(self, log_anchor: str) -> tuple[int, bytes]: ...
    def root_at(self, log_anchor: str, tree_size: int) -> bytes: ...
    def anchored_events(self, log_anchor: str, *, from_block: int = 0) -> list[AnchoredEvent]: ...
    def candidate(self, vetting: str, candidate_id: bytes) -> CandidateOnChain: ...
    def grant(self, grants: str, grant_id: bytes) -> GrantOnChain | None: ...


@dataclass
class ChainFacts:
    """What the chain said, read before the database snapshot (so the snapshot is newer)."""

    view: ChainView
    chain_id: int
    contracts: dict[str, str]  # contract name -> address, from chain_deployments
    head: tuple[int, bytes] | None = None
    events: list[AnchoredEvent] = field(default_factory=list)
    roots: dict[int, bytes] = field(default_factory=dict)  # rootAt(size) answers

    @property
    def log_anchor(self) -> str | None:
        return self.contracts.get(LOG_ANCHOR)

    def root_at(self, size: int) -> bytes:
        if size not in self.roots:
            assert self.log_anchor is not None
            self.roots[size] = self.view.root_at(self.log_anchor, size)
        return self.roots[size]

    def sizes(self) -> set[int]:
        """Every tree size the chain speaks of."""
        sizes = {e.tree_size for e in self.events}
        if self.head is not None:
            sizes.add(self.head[0])
        return sizes

    def describe(self) -> dict[str, Any]:
        return {
            "rpc": self.view.source,
            "chain_id": self.chain_id,
            "contracts": dict(self.contracts),
            "head": None if self.head is None else [self.head[0], self.head[1].hex()],
            "anchored_events": len(self.events),
        }


def gather_chain(conn: Connection, view: ChainView, findings: Findings) -> ChainFacts:
    """Read the chain's side: our deployments there (and their code), LogAnchor's head and
    its ``Anchored`` events, and the root of every size they name."""
    chain_id = view.chain_id()
    rows = conn.execute(
        select(chain_deployments).where(chain_deployments.c.chain_id == chain_id)
    ).all()
    facts = ChainFacts(view, chain_id, {r.contract: r.address for r in rows})
    for row in rows:
        code = view.code_hash(row.address)
        if code != bytes(row.code_hash):
            findings.add(
                "contract_code_mismatch",
                f"{row.contract} at {row.address} on chain {chain_id}: the code there is not "
                "the code we deployed (or there is none)",
                contract=row.contract,
                address=row.address,
                recorded=bytes(row.code_hash),
                found=code,
            )
    deployment = next((r for r in rows if r.contract == LOG_ANCHOR), None)
    if deployment is None:
        findings.add(
            "contract_not_deployed",
            f"no LogAnchor of ours is recorded on chain {chain_id} ({view.source}): is this "
            "the ledger's chain?",
            chain_id=chain_id,
        )
        return facts
    facts.head = view.head(deployment.address)
    facts.events = view.anchored_events(deployment.address, from_block=int(deployment.block_number))
    for event in facts.events:
        facts.root_at(event.tree_size)
    return facts


@dataclass(frozen=True)
class StoredAnchor:
    """A ``chain_anchors`` row: what the anchorer remembers of one anchor."""

    chain_id: int
    contract: str
    tree_size: int
    root_hash: bytes
    status: str
    tx_hash: str | None


def db_anchors(conn: Connection) -> list[StoredAnchor]:
    rows = conn.execute(select(chain_anchors).order_by(chain_anchors.c.tree_size))
    return [
        StoredAnchor(
            int(r.chain_id), r.contract, int(r.tree_size), bytes(r.root_hash), r.status, r.tx_hash
        )
        for r in rows
    ]


def check_anchors(
    conn: Connection,
    findings: Findings,
    *,
    scan: LogScan,
    signed: dict[int, bytes],
    stored_sizes: set[int],
    anchors: Sequence[StoredAnchor],
    facts: ChainFacts | None,
) -> int:
    """Compare the roots of every anchored size across the sources; returns how many sizes."""
    ours = facts is not None and facts.log_anchor is not None

    def on_this_chain(a: StoredAnchor) -> bool:
        return (
            ours
            and facts is not None
            and (a.chain_id, a.contract)
            == (
                facts.chain_id,
                facts.log_anchor,
            )
        )

    sources: dict[int, dict[str, bytes]] = {}
    for a in anchors:
        if a.status == "dropped":
            continue
        if a.status == "sent":
            if not (on_this_chain(a) and facts is not None and facts.root_at(a.tree_size) != ZERO):
                findings.add(
                    "anchor_pending",
                    f"tree size {a.tree_size} was sent to chain {a.chain_id} and is not mined yet",
                    tree_size=a.tree_size,
                    tx_hash=a.tx_hash,
                )
            continue
        sources.setdefault(a.tree_size, {})[f"db_anchor[{a.chain_id}]"] = a.root_hash
        if on_this_chain(a) and facts is not None and facts.root_at(a.tree_size) == ZERO:
            findings.add(
                "anchor_not_on_chain",
                f"chain_anchors says tree size {a.tree_size} is anchored ({a.status}, tx "
                f"{a.tx_hash}), but LogAnchor holds no root for it",
                tree_size=a.tree_size,
                tx_hash=a.tx_hash,
                db_root=a.root_hash,
            )
    if facts is not None and ours:
        recorded = {a.tree_size for a in anchors if on_this_chain(a)}
        for event in facts.events:
            sources.setdefault(event.tree_size, {})["chain"] = facts.root_at(event.tree_size)
            if event.tree_size not in recorded:
                findings.add(
                    "anchor_missing_from_db",
                    f"the chain anchored tree size {event.tree_size} (tx {event.tx_hash}, block "
                    f"{event.block_number}), which chain_anchors does not record",
                    tree_size=event.tree_size,
                    tx_hash=event.tx_hash,
                    root=event.root_hash,
                )
        for size in list(sources):
            if "chain" not in sources[size] and facts.root_at(size) != ZERO:
                sources[size]["chain"] = facts.root_at(size)
    for size, found in sorted(sources.items()):
        _compare_roots(findings, size, found, scan, signed, stored_sizes)
    if facts is not None and ours:
        _check_head(findings, facts, scan, stored_sizes)
        _check_consistency(conn, findings, facts, scan)
    return len(sources)


def _compare_roots(
    findings: Findings,
    size: int,
    found: dict[str, bytes],
    scan: LogScan,
    signed: dict[int, bytes],
    stored_sizes: set[int],
) -> None:
    if size not in stored_sizes:
        findings.add(
            "anchor_without_checkpoint",
            f"tree size {size} is anchored, but no checkpoint of that size is stored (removed?)",
            tree_size=size,
            anchored_roots=found,
        )
    if size in signed:
        found = {**found, "checkpoint": signed[size]}
    if size <= scan.size:
        found = {**found, "leaves": scan.roots[size]}
    if len(set(found.values())) > 1:
        findings.add(
            "anchor_root_mismatch",
            f"the roots of anchored tree size {size} differ: "
            + ", ".join(f"{k} {v.hex()[:16]}…" for k, v in found.items()),
            leaf_indices=[i for i in scan.bad_hashes if i < size],
            tree_size=size,
            roots=found,
        )
    elif size > scan.size and scan.gap_at is None:
        findings.add(
            "anchor_root_mismatch",
            f"tree size {size} is anchored, but the log holds only {scan.size} leaves",
            leaf_indices=[scan.size],
            tree_size=size,
            roots=found,
            leaves=scan.size,
        )


def _check_head(
    findings: Findings, facts: ChainFacts, scan: LogScan, stored_sizes: set[int]
) -> None:
    if facts.head is None or facts.head[0] == 0:
        return
    size, root = facts.head
    ours = scan.roots.get(size) if size <= scan.size else None
    if size not in stored_sizes or ours != root:
        findings.add(
            "chain_head_unknown",
            f"the chain's head is tree size {size} with root {root.hex()}; our log "
            + (
                f"has {scan.size} leaves"
                if size > scan.size
                else f"gives root {ours.hex() if ours else '-'}"
                + ("" if size in stored_sizes else ", and no checkpoint of that size")
            ),
            tree_size=size,
            chain_root=root,
            log_root=ours,
            checkpoint_stored=size in stored_sizes,
        )


def _check_consistency(
    conn: Connection, findings: Findings, facts: ChainFacts, scan: LogScan
) -> None:
    """Each anchored size extends the one before it, by a proof served from the store."""
    reader = LogReader()
    try:
        integrated = reader.integrated_size(conn)
    except LedgerError:
        return
    sizes = sorted(s for s in {e.tree_size for e in facts.events} if s <= integrated)
    for small, big in itertools.pairwise(sizes):
        r1, r2 = facts.root_at(small), facts.root_at(big)
        try:
            proof = reader.consistency_proof(conn, small, big, integrated=integrated)
            verify_consistency(small, big, proof, r1, r2)
        except LedgerError as exc:  # a ProofError, or tiles the store cannot serve
            findings.add(
                "anchors_inconsistent",
                f"the anchored sizes {small} and {big} are not consistent by the proof the "
                f"store gives: {exc.message}",
                leaf_indices=[i for i in scan.bad_hashes if i < big],
                sizes=[small, big],
                roots=[r1, r2],
            )
