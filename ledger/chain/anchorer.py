"""Publishing signed checkpoints on the LogAnchor contract, idempotently and crash-safely.

One transaction per checkpoint, whatever its size. The chain is the truth and
``chain_anchors`` the anchorer's memory of it, rebuilt from the contract's
state and ``Anchored`` events by :meth:`Anchorer.reconcile` — so a crash
between broadcasting and recording neither loses the anchor (the event is
found) nor doubles it (the contract treats the same size and root as a no-op).

Before anchoring, the anchorer checks the checkpoint against the chain's head
itself: our root at the head's size must be the head's root, and the
consistency proof it is about to send must verify. Otherwise it refuses, with
both heads and the proof as evidence.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hexbytes import HexBytes
from sqlalchemy import Engine, and_, select, text, update
from web3.contract import Contract
from web3.exceptions import TimeExhausted, TransactionNotFound

from ledger.chain.client import Chain
from ledger.checkpoint import Verifier, open_checkpoint
from ledger.errors import LedgerError
from ledger.failpoints import failpoint
from ledger.log import LogReader, latest_checkpoint
from ledger.merkle import ProofError, verify_consistency
from ledger.store.models import chain_anchors

SENT, MINED, FINAL, DROPPED = "sent", "mined", "final", "dropped"


class AnchorRefusedError(LedgerError):
    """The log does not extend what the chain holds: nothing was sent."""

    code = "anchor_refused"


class AnchorPendingError(LedgerError):
    """An anchor we sent is still waiting to be mined: nothing new was sent."""

    code = "anchor_pending"


@contextlib.contextmanager
def leader_lock(engine: Engine) -> Iterator[bool]:
    """Whether this process may anchor now: one anchorer at a time per database.

    PostgreSQL: a session advisory lock, so any number of API workers and
    ``ledger anchor`` runs can share one database. SQLite: an exclusive ``flock``
    on a file beside the database. Yields False (without waiting) when another
    process holds it.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}).scalar()
            )
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield True
        return
    with open(f"{database}.anchor-lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_LOCK_KEY = 0x63697669636C6564  # "civicled": the anchoring leader's advisory lock


@dataclass(frozen=True)
class AnchorRecord:
    tree_size: int
    root_hash: bytes
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    status: str


class Anchorer:
    """Anchors the newest checkpoint of one log on one LogAnchor contract."""

    def __init__(
        self,
        chain: Chain,
        log_anchor: Contract,
        engine: Engine,
        *,
        origin: str,
        verifier: Verifier,
        deployed_at_block: int = 0,
        confirmations: int = 2,
        receipt_timeout: float = 120.0,
    ) -> None:
        self.chain = chain
        self.contract = log_anchor
        self.engine = engine
        self.origin = origin
        self.verifier = verifier
        self.deployed_at_block = deployed_at_block
        self.confirmations = confirmations
        self.receipt_timeout = receipt_timeout
        self.reader = LogReader()

    # -- reading the chain ------------------------------------------------------------

    def chain_head(self) -> tuple[int, bytes]:
        size, root = self.contract.functions.head().call()
        return int(size), bytes(root)

    def root_on_chain(self, size: int) -> bytes:
        return bytes(self.contract.functions.rootAt(size).call())

    # -- anchoring --------------------------------------------------------------------

    def anchor_latest(self) -> AnchorRecord | None:
        """Make sure the newest signed checkpoint is anchored; send it if it is not.

        Returns the record of that checkpoint's anchor; None when nothing is signed,
        when the chain is already past it, or when another anchorer holds the lead.
        """
        with leader_lock(self.engine) as leading:
            if not leading:
                return None
            return self._anchor_latest()

    def _anchor_latest(self) -> AnchorRecord | None:
        self.reconcile()
        if self._wait_for_pending():
            self.reconcile()
        with self.engine.connect() as conn:
            signed = latest_checkpoint(conn, self.origin)
        if signed is None or signed.checkpoint.size == 0:
            return None
        # Anchor what the log's key signed, not what a table row says.
        checkpoint = open_checkpoint(signed.note, self.verifier, origin=self.origin)
        size, root = checkpoint.size, checkpoint.root_hash
        head_size, head_root = self.chain_head()

        if size <= head_size:
            on_chain = self.root_on_chain(size)
            if on_chain == root:
                return self.record(size)
            if on_chain != bytes(32):
                raise AnchorRefusedError(
                    f"the chain holds root {on_chain.hex()} for size {size}; "
                    f"our checkpoint says {root.hex()}",
                    tree_size=size,
                    chain_root=on_chain,
                    our_root=root,
                )
            # The chain is already past this checkpoint: check it extends our history.
            self._check_extends(head_size, head_root, size, root, chain_is_ahead=True)
            return None

        proof = self._check_extends(head_size, head_root, size, root, chain_is_ahead=False)
        self._write(size, root, status=SENT)
        tx_hash = self.chain.send(self.contract.functions.anchor(size, root, proof))
        failpoint("anchor.after_broadcast")
        self._write(size, root, status=SENT, tx_hash=tx_hash.to_0x_hex())
        receipt = self.chain.w3.eth.wait_for_transaction_receipt(
            tx_hash, timeout=self.receipt_timeout
        )
        if receipt["status"] != 1:
            raise AnchorRefusedError(
                f"anchor transaction {tx_hash.to_0x_hex()} reverted", tx_hash=tx_hash.to_0x_hex()
            )
        self.reconcile()
        return self.record(size)

    def _wait_for_pending(self) -> bool:
        """Wait for our sent, not yet mined anchors before sending anything new.

        A new anchor's proof starts from the chain's head; sent while an older one is
        still pending, it would start from a head that is about to move, and revert.
        """
        with self.engine.connect() as conn:
            pending = (
                conn.execute(
                    select(chain_anchors.c.tx_hash).where(
                        *self._ours(),
                        chain_anchors.c.status == SENT,
                        chain_anchors.c.tx_hash.is_not(None),
                    )
                )
                .scalars()
                .all()
            )
        for tx_hash in pending:
            try:
                self.chain.w3.eth.wait_for_transaction_receipt(
                    HexBytes(tx_hash), timeout=self.receipt_timeout
                )
            except TimeExhausted as exc:
                raise AnchorPendingError(
                    f"anchor transaction {tx_hash} is still pending after "
                    f"{self.receipt_timeout} s; not sending another",
                    tx_hash=tx_hash,
                ) from exc
            except TransactionNotFound:
                continue  # dropped: reconcile will mark it so
        return bool(pending)

    def _check_extends(
        self, head_size: int, head_root: bytes, size: int, root: bytes, *, chain_is_ahead: bool
    ) -> list[bytes]:
        """Prove locally that the smaller of (head, checkpoint) is a prefix of the larger."""
        if head_size == 0:
            return []
        small, small_root, big, big_root = (
            (size, root, head_size, head_root)
            if chain_is_ahead
            else (head_size, head_root, size, root)
        )
        with self.engine.connect() as conn:
            integrated = self.reader.integrated_size(conn)
            if big > integrated:
                raise AnchorRefusedError(
                    f"the chain's head has size {head_size}, beyond our log's {integrated}",
                    chain_size=head_size,
                    log_size=integrated,
                )
            ours = self.reader.root(conn, head_size, integrated=integrated)
            proof = self.reader.consistency_proof(conn, small, big, integrated=integrated)
        if ours != head_root:
            raise AnchorRefusedError(
                f"the chain's head at size {head_size} has root {head_root.hex()}, "
                f"our log has {ours.hex()} at that size",
                chain_size=head_size,
                chain_root=head_root,
                our_root=ours,
            )
        try:
            verify_consistency(small, big, proof, small_root, big_root)
        except ProofError as exc:
            raise AnchorRefusedError(
                f"checkpoint {size} does not extend the chain's head {head_size}: {exc.message}",
                chain_size=head_size,
                chain_root=head_root,
                tree_size=size,
                root=root,
                proof=[h.hex() for h in proof],
            ) from exc
        return proof

    # -- the anchorer's memory --------------------------------------------------------

    def reconcile(self) -> None:
        """Rebuild ``chain_anchors`` from the contract's events on the canonical chain.

        Every ``Anchored`` event becomes a mined record, final once ``confirmations``
        blocks are on top of it; a record whose transaction is no longer on the chain
        (dropped, re-orged) becomes ``dropped`` so that the next :meth:`anchor_latest`
        sends it again. The chain is asked first; the database is written after, in a
        short transaction.
        """
        latest = int(self.chain.w3.eth.block_number)
        events = self.contract.events.Anchored.get_logs(
            from_block=self.deployed_at_block, to_block=latest
        )
        seen: dict[int, dict[str, Any]] = {}
        for event in events:
            size = int(event["args"]["treeSize"])
            block = int(event["blockNumber"])
            seen[size] = {
                "root_hash": bytes(event["args"]["rootHash"]),
                "tx_hash": event["transactionHash"].to_0x_hex(),
                "block_number": block,
                "block_hash": event["blockHash"].to_0x_hex(),
                "status": FINAL if latest - block >= self.confirmations else MINED,
            }
        with self.engine.connect() as conn:
            known = {
                int(r.tree_size): r
                for r in conn.execute(select(chain_anchors).where(*self._ours()))
            }
        changes: dict[int, dict[str, Any]] = {}
        for size, found in seen.items():
            row = known.get(size)
            if row is None or (row.status, row.block_hash) != (
                found["status"],
                found["block_hash"],
            ):
                changes[size] = found
        for size, row in known.items():
            if size in seen:
                continue
            # Mined once but no longer on the canonical chain (re-orged out), or sent and
            # no longer known to the node (dropped): send it again.
            gone = row.status in (MINED, FINAL) or (
                row.status == SENT
                and row.tx_hash is not None
                and self._transaction_gone(row.tx_hash)
            )
            if gone:
                changes[size] = {"root_hash": bytes(row.root_hash), "status": DROPPED}
        if changes:
            with self.engine.begin() as conn:
                for size, values in changes.items():
                    self._upsert(conn, size, **values)

    def _transaction_gone(self, tx_hash: str) -> bool:
        try:
            self.chain.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return True
        return False

    def _ours(self) -> tuple[Any, ...]:
        return (
            chain_anchors.c.chain_id == self.chain.chain_id,
            chain_anchors.c.contract == self.contract.address,
        )

    def record(self, size: int) -> AnchorRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(chain_anchors).where(*self._ours(), chain_anchors.c.tree_size == size)
            ).first()
        if row is None:
            return None
        return AnchorRecord(
            int(row.tree_size),
            bytes(row.root_hash),
            row.tx_hash,
            row.block_number,
            row.block_hash,
            row.status,
        )

    def _write(self, size: int, root: bytes, *, status: str, tx_hash: str | None = None) -> None:
        with self.engine.begin() as conn:
            self._upsert(conn, size, root_hash=root, status=status, tx_hash=tx_hash)

    def _upsert(self, conn: Any, size: int, **values: Any) -> None:
        values["updated_at"] = datetime.now(UTC)
        key = and_(*self._ours(), chain_anchors.c.tree_size == size)
        if conn.execute(select(chain_anchors.c.tree_size).where(key)).first() is None:
            conn.execute(
                chain_anchors.insert().values(
                    chain_id=self.chain.chain_id,
                    tree_size=size,
                    contract=self.contract.address,
                    **values,
                )
            )
        else:
            conn.execute(update(chain_anchors).where(key).values(**values))
