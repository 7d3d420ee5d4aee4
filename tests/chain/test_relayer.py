"""Relaying signed decisions and grants: batched transactions, and a record of where each
message landed, on eth-tester over SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from relay_flow import relay_rows, run_flow

from ledger.chain import vetting as v
from ledger.chain.client import Chain
from ledger.chain.deploy import ensure_contracts


def test_flow_is_relayed_in_batches_and_recorded(engine: sa.Engine, tester_chain: Chain) -> None:
    result = run_flow(tester_chain, engine, batch_size=3)
    # Four decisions in batches of three: two transactions, each decision recorded once.
    assert len({d.tx_hash for d in result.decisions}) == 2
    assert len({d.item_id for d in result.decisions}) == 4
    state = result.contracts.vetting.functions.candidate(result.candidate_id).call()
    outcome = state[3] if isinstance(state, (list, tuple)) else state["outcome"]
    assert v.Outcome(outcome) == v.Outcome.PASSED

    rows = relay_rows(engine)
    assert [kind for kind, *_ in rows].count("decision") == 4
    assert {kind for kind, *_ in rows} == {"registration", "decision", "grant", "revocation"}
    for kind, item_id, tx_hash, block in rows:
        receipt = tester_chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        assert receipt["status"] == 1 and receipt["blockNumber"] == block, (kind, item_id)
    assert ("grant", "0x" + result.grant_id.hex()) in {(k, i) for k, i, _, _ in rows}

    grants = result.contracts.grants.functions
    revoked_at = tester_chain.w3.eth.get_block(result.revocation.block_number)["timestamp"]
    assert grants.isActive(result.grant_id, revoked_at - 1).call()  # before the revocation
    assert not grants.isActive(result.grant_id, revoked_at).call()


def test_contracts_are_deployed_once_and_found_again(
    engine: sa.Engine, tester_chain: Chain
) -> None:
    first = ensure_contracts(engine, tester_chain)
    again = ensure_contracts(engine, tester_chain)
    assert first.deployments == again.deployments
    assert set(first.deployments) == {
        "LogAnchor",
        "UnitRegistry",
        "VettingRegistry",
        "GrantRegistry",
    }
    assert first.vetting.functions.unitRegistry().call() == first.units.address
