"""Relaying signed messages to the registries, in batches, and recording where each landed.

Units sign (EIP-712); the relayer only pays for the transaction, so it needs no
authority of its own: the contracts check every signature. Each batch is one
transaction, all or nothing; each message of it gets a ``chain_relays`` row with
the transaction and block, keyed by the message's digest (a grant by its id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import TypeVar

from sqlalchemy import Engine, insert
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError

from ledger.chain import grants as g
from ledger.chain import vetting as v
from ledger.chain.client import Chain, ChainError
from ledger.log.bulk import insert_rows
from ledger.outbox import Message, pending
from ledger.store.domain import chain_relay_failures
from ledger.store.models import chain_relays

log = logging.getLogger("civic_ledger.relayer")

DEFAULT_BATCH = 100

_Item = TypeVar("_Item")


@dataclass(frozen=True)
class Relayed:
    kind: str
    item_id: str
    tx_hash: str
    block_number: int
    block_hash: str


class Relayer:
    """Sends signed decisions, registrations, grants and revocations for the units."""

    def __init__(
        self,
        chain: Chain,
        engine: Engine,
        *,
        vetting: Contract,
        grants: Contract,
        units: Contract | None = None,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.chain = chain
        self.engine = engine
        self.vetting = vetting
        self.grants = grants
        self.units = units
        self.batch_size = batch_size

    # ---- the outbox ---------------------------------------------------------------------

    def relay_outbox(self, *, limit: int = 1000) -> RelayReport:
        """Send the outbox's pending messages in order; returns what landed and what failed.

        Consecutive messages of one kind go in batches. A batch the contract refuses is
        retried one message at a time, so one bad message cannot hold back the others;
        each refused message gets a ``chain_relay_failures`` row (the audit reports it)
        and the outbox moves on. A node that does not answer raises: nothing is marked,
        and the next call starts where this one stopped.
        """
        with self.engine.connect() as conn:
            messages = pending(conn, self.chain.chain_id, limit=limit)
        report = RelayReport()
        for kind, run in groupby(messages, key=lambda m: m.kind):
            batch = list(run)
            try:
                report.landed.extend(self._send_messages(kind, batch))
            except (ContractLogicError, ChainError):
                for message in batch:
                    try:
                        report.landed.extend(self._send_messages(kind, [message]))
                    except (ContractLogicError, ChainError) as exc:
                        self._record_failure(message, exc)
                        report.failed.append((message, str(exc)))
        return report

    def _record_failure(self, message: Message, exc: Exception) -> None:
        log.error("the chain refused %s %s: %s", message.kind, message.item_id, exc)
        with self.engine.begin() as conn:
            conn.execute(
                insert(chain_relay_failures).values(
                    chain_id=self.chain.chain_id,
                    kind=message.kind,
                    item_id=message.item_id,
                    error=str(exc)[:2000],
                    failed_at=datetime.now(UTC),
                )
            )

    def _send_messages(self, kind: str, batch: Sequence[Message]) -> list[Relayed]:
        ids = [m.item_id for m in batch]

        def b32(value: object) -> bytes:
            return bytes.fromhex(str(value).removeprefix("0x"))

        def signature(m: Message) -> bytes:
            assert m.signature is not None, f"{m.kind} {m.item_id} has no signature"
            return m.signature

        if kind == "unit":
            assert self.units is not None, "relaying units needs the UnitRegistry"
            units = self.units

            def unit_call(items: Sequence[Message]) -> ContractFunction:
                ((m),) = items
                p = m.payload
                return units.functions.registerUnit(
                    b32(p["unit_id"]), int(p["level"]), b32(p["parent_id"]), p["key"]
                )

            return self._relay_each(kind, units, batch, ids, unit_call)
        if kind == "round":

            def round_call(items: Sequence[Message]) -> ContractFunction:
                ((m),) = items
                return self.vetting.functions.openRound(
                    b32(m.payload["round_id"]), [b32(d) for d in m.payload["departments"]]
                )

            return self._relay_each(kind, self.vetting, batch, ids, round_call)
        if kind == "dataset":

            def dataset_call(items: Sequence[Message]) -> ContractFunction:
                ((m),) = items
                p = m.payload
                return self.grants.functions.registerDataset(
                    b32(p["dataset_id"]), b32(p["owner_id"]), int(p["sharing_class"])
                )

            return self._relay_each(kind, self.grants, batch, ids, dataset_call)
        if kind == "registration":
            regs = [
                (v.Registration(*(b32(x) for x in m.payload["abi"])), signature(m)) for m in batch
            ]
            return self._relay(kind, self.vetting, regs, ids, self._registrations_call)
        if kind == "decision":
            decisions = [(_decision(m.payload["abi"]), signature(m)) for m in batch]
            return self._relay(kind, self.vetting, decisions, ids, self._decisions_call)
        if kind == "grant":
            grants = [(_grant(m.payload["abi"]), signature(m)) for m in batch]
            return self._relay(kind, self.grants, grants, ids, self._grants_call)
        if kind == "revocation":
            revocations = [
                (g.Revocation(*(b32(x) for x in m.payload["abi"])), signature(m)) for m in batch
            ]
            return self._relay_each(kind, self.grants, revocations, ids, self._revocation_call)
        raise AssertionError(f"unknown outbox kind {kind!r}")

    def _relay_each(
        self,
        kind: str,
        contract: Contract,
        items: Sequence[_Item],
        ids: Sequence[str],
        call: Callable[[Sequence[_Item]], ContractFunction],
    ) -> list[Relayed]:
        """Like :meth:`_relay` for calls that take one message each."""
        out: list[Relayed] = []
        for item, item_id in zip(items, ids, strict=True):
            out.extend(self._relay(kind, contract, [item], [item_id], call, batch_size=1))
        return out

    def _registrations_call(
        self, batch: Sequence[tuple[v.Registration, bytes]]
    ) -> ContractFunction:
        return self.vetting.functions.registerCandidates(
            [r.as_abi() for r, _ in batch], [s for _, s in batch]
        )

    def _decisions_call(self, batch: Sequence[tuple[v.Decision, bytes]]) -> ContractFunction:
        return self.vetting.functions.submitDecisions(
            [d.as_abi() for d, _ in batch], [s for _, s in batch]
        )

    def _grants_call(self, batch: Sequence[tuple[g.Grant, bytes]]) -> ContractFunction:
        return self.grants.functions.issueGrants([(gr.as_tuple(), s) for gr, s in batch])

    def _revocation_call(self, batch: Sequence[tuple[g.Revocation, bytes]]) -> ContractFunction:
        ((r, s),) = batch
        return self.grants.functions.revokeGrant(r.as_tuple(), s)

    # ---- direct calls (tests, tools) -----------------------------------------------------

    def register_candidates(self, items: Sequence[tuple[v.Registration, bytes]]) -> list[Relayed]:
        def call(batch: Sequence[tuple[v.Registration, bytes]]) -> ContractFunction:
            return self.vetting.functions.registerCandidates(
                [r.as_abi() for r, _ in batch], [s for _, s in batch]
            )

        ids = [self._vetting_digest(r) for r, _ in items]
        return self._relay("registration", self.vetting, items, ids, call)

    def submit_decisions(self, items: Sequence[tuple[v.Decision, bytes]]) -> list[Relayed]:
        def call(batch: Sequence[tuple[v.Decision, bytes]]) -> ContractFunction:
            return self.vetting.functions.submitDecisions(
                [d.as_abi() for d, _ in batch], [s for _, s in batch]
            )

        ids = [self._vetting_digest(d) for d, _ in items]
        return self._relay("decision", self.vetting, items, ids, call)

    def issue_grants(self, items: Sequence[tuple[g.Grant, bytes]]) -> list[Relayed]:
        def call(batch: Sequence[tuple[g.Grant, bytes]]) -> ContractFunction:
            return self.grants.functions.issueGrants([(gr.as_tuple(), s) for gr, s in batch])

        ids = ["0x" + g.grant_id(gr).hex() for gr, _ in items]
        return self._relay("grant", self.grants, items, ids, call)

    def revoke_grant(self, revocation: g.Revocation, signature: bytes) -> Relayed:
        def call(batch: Sequence[tuple[g.Revocation, bytes]]) -> ContractFunction:
            ((r, s),) = batch
            return self.grants.functions.revokeGrant(r.as_tuple(), s)

        digest = g.revocation_digest(
            revocation, chain_id=self.chain.chain_id, contract=str(self.grants.address)
        )
        (relayed,) = self._relay(
            "revocation", self.grants, [(revocation, signature)], ["0x" + digest.hex()], call
        )
        return relayed

    def _vetting_digest(self, message: v.Registration | v.Decision) -> str:
        return "0x" + v.digest(message, self.chain.chain_id, str(self.vetting.address)).hex()

    def _relay(
        self,
        kind: str,
        contract: Contract,
        items: Sequence[_Item],
        ids: Sequence[str],
        call: Callable[[Sequence[_Item]], ContractFunction],
        *,
        batch_size: int | None = None,
    ) -> list[Relayed]:
        out: list[Relayed] = []
        size = batch_size or self.batch_size
        for start in range(0, len(items), size):
            batch = items[start : start + size]
            receipt = self.chain.transact(call(batch))
            landed = [
                Relayed(
                    kind,
                    item_id,
                    receipt["transactionHash"].to_0x_hex(),
                    int(receipt["blockNumber"]),
                    receipt["blockHash"].to_0x_hex(),
                )
                for item_id in ids[start : start + size]
            ]
            with self.engine.begin() as conn:
                insert_rows(
                    conn,
                    chain_relays,
                    [
                        {
                            "chain_id": self.chain.chain_id,
                            "kind": r.kind,
                            "item_id": r.item_id,
                            "contract": str(contract.address),
                            "tx_hash": r.tx_hash,
                            "block_number": r.block_number,
                            "block_hash": r.block_hash,
                            "relayed_at": datetime.now(UTC),
                        }
                        for r in landed
                    ],
                )
            out.extend(landed)
        return out


@dataclass
class RelayReport:
    landed: list[Relayed] = field(default_factory=list)
    failed: list[tuple[Message, str]] = field(default_factory=list)


def _decision(abi: Sequence[object]) -> v.Decision:
    candidate, stage, unit, verdict, clauses, leaf = abi
    return v.Decision(
        bytes.fromhex(str(candidate)[2:]),
        int(str(stage)),
        bytes.fromhex(str(unit)[2:]),
        int(str(verdict)),
        bytes.fromhex(str(clauses)[2:]),
        bytes.fromhex(str(leaf)[2:]),
    )


def _grant(abi: Sequence[object]) -> g.Grant:
    dataset, grantee, scope, valid_from, valid_until, request, leaf = abi
    return g.Grant(
        dataset_id=bytes.fromhex(str(dataset)[2:]),
        grantee_unit_id=bytes.fromhex(str(grantee)[2:]),
        scope_hash=bytes.fromhex(str(scope)[2:]),
        valid_from=int(str(valid_from)),
        valid_until=int(str(valid_until)),
        request_id=bytes.fromhex(str(request)[2:]),
        leaf_hash=bytes.fromhex(str(leaf)[2:]),
    )
