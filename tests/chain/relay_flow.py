"""A small Hunchun vetting and sharing flow relayed through ``Relayer`` (shared by the
eth-tester and anvil tests): units with their own keys, a round, one candidate through
all three stages, a grant and its revocation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain import grants as g
from ledger.chain import vetting as v
from ledger.chain.client import Chain
from ledger.chain.deploy import Contracts, ensure_contracts
from ledger.chain.relayer import Relayed, Relayer
from ledger.store.models import chain_relays

# code -> (level, parent)
UNITS = {
    "222404101": (v.Level.TOWNSHIP, None),  # 敬信镇
    "DEMO-FANGCHUAN": (v.Level.VILLAGE, "222404101"),  # 防川村
    "ORG": (v.Level.COUNTY, None),
    "GA": (v.Level.COUNTY, None),
    "FY": (v.Level.COUNTY, None),
}


def _word(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


@dataclass
class FlowResult:
    contracts: Contracts
    decisions: list[Relayed]
    registration: Relayed
    grant: Relayed
    revocation: Relayed
    candidate_id: bytes
    grant_id: bytes


def run_flow(chain: Chain, engine: sa.Engine, *, batch_size: int = 100) -> FlowResult:
    contracts = ensure_contracts(engine, chain)
    keys: dict[str, LocalAccount] = {code: Account.create() for code in UNITS}
    for code, (level, parent) in UNITS.items():
        chain.transact(
            contracts.units.functions.registerUnit(
                v.unit_id(code),
                int(level),
                v.unit_id(parent) if parent else bytes(32),
                keys[code].address,
            )
        )
    round_id = _word("R2026")
    chain.transact(
        contracts.vetting.functions.openRound(round_id, [v.unit_id("GA"), v.unit_id("FY")])
    )
    relayer = Relayer(
        chain, engine, vetting=contracts.vetting, grants=contracts.grants, batch_size=batch_size
    )
    chain_id, vetting_at = chain.chain_id, str(contracts.vetting.address)

    candidate = _word("commitment to C1")
    registration = v.Registration(candidate, round_id, v.unit_id("DEMO-FANGCHUAN"), _word("l0"))
    (registered,) = relayer.register_candidates(
        [
            (
                registration,
                v.sign_registration(keys["DEMO-FANGCHUAN"].key, registration, chain_id, vetting_at),
            )
        ]
    )
    steps = [
        (v.Stage.PRE_REVIEW, "DEMO-FANGCHUAN", int(v.Verdict.PASS)),
        (v.Stage.PRELIMINARY_REVIEW, "222404101", int(v.Verdict.PASS)),
        (v.Stage.JOINT_REVIEW, "GA", int(v.Opinion.NO_RECORD)),
        (v.Stage.JOINT_REVIEW, "FY", int(v.Opinion.NO_RECORD)),
    ]
    signed = []
    for i, (stage, code, verdict) in enumerate(steps):
        decision = v.Decision(
            candidate, int(stage), v.unit_id(code), verdict, bytes(32), _word(f"l{i + 1}")
        )
        signed.append((decision, v.sign_decision(keys[code].key, decision, chain_id, vetting_at)))
    decisions = relayer.submit_decisions(signed)

    grants_at = str(contracts.grants.address)
    dataset = g.dataset_id("违法犯罪记录核验")
    chain.transact(
        contracts.grants.functions.registerDataset(
            dataset, v.unit_id("GA"), int(g.SharingClass.CONDITIONAL)
        )
    )
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    grant = g.Grant(
        dataset_id=dataset,
        grantee_unit_id=v.unit_id("ORG"),
        scope_hash=g.scope_hash(["has_record", "clause_code"], {"round": "R2026"}),
        # A window around the chain's present, so that revoking it changes isActive.
        valid_from=now - 86_400,
        valid_until=now + 365 * 86_400,
        request_id=_word("request G1"),
        leaf_hash=_word("grant leaf"),
    )
    (issued,) = relayer.issue_grants(
        [(grant, g.sign_grant(keys["GA"].key, grant, chain_id=chain_id, contract=grants_at))]
    )
    revocation = g.Revocation(grant_id=g.grant_id(grant), leaf_hash=_word("revocation leaf"))
    revoked = relayer.revoke_grant(
        revocation,
        g.sign_revocation(keys["GA"].key, revocation, chain_id=chain_id, contract=grants_at),
    )
    return FlowResult(
        contracts, decisions, registered, issued, revoked, candidate, g.grant_id(grant)
    )


def relay_rows(engine: sa.Engine) -> list[tuple[str, str, str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                chain_relays.c.kind,
                chain_relays.c.item_id,
                chain_relays.c.tx_hash,
                chain_relays.c.block_number,
            ).order_by(chain_relays.c.block_number, chain_relays.c.kind)
        ).all()
    return [(r.kind, r.item_id, r.tx_hash, int(r.block_number)) for r in rows]
