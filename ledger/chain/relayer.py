"""Relaying signed messages to the registries, in batches, and recording where each landed.

Units sign (EIP-712); the relayer only pays for the transaction, so it needs no
authority of its own: the contracts check every signature. Each batch is one
transaction, all or nothing; each message of it gets a ``chain_relays`` row with
the transaction and block, keyed by the message's digest (a grant by its id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Engine
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from ledger.chain import grants as g
from ledger.chain import vetting as v
from ledger.chain.client import Chain
from ledger.log.bulk import insert_rows
from ledger.store.models import chain_relays

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
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.chain = chain
        self.engine = engine
        self.vetting = vetting
        self.grants = grants
        self.batch_size = batch_size

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
    ) -> list[Relayed]:
        out: list[Relayed] = []
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            receipt = self.chain.transact(call(batch))
            landed = [
                Relayed(
                    kind,
                    item_id,
                    receipt["transactionHash"].to_0x_hex(),
                    int(receipt["blockNumber"]),
                    receipt["blockHash"].to_0x_hex(),
                )
                for item_id in ids[start : start + self.batch_size]
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
