"""The anchorer on eth-tester, over SQLite and PostgreSQL: anchoring, idempotence, crash
between broadcast and record, re-orgs, confirmations, and refusing a chain head that our
log does not extend."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from eth_tester import EthereumTester

from ledger.chain import anchorer as anchorer_module
from ledger.chain.anchorer import Anchorer, AnchorRefusedError, leader_lock
from ledger.chain.client import Chain
from ledger.chain.deploy import deployed, ensure_log_anchor
from ledger.checkpoint import generate_signer
from ledger.log import LeafInput, MerkleLog
from ledger.merkle import InMemoryTree, hash_leaf
from ledger.store.models import chain_anchors

ORIGIN = "test.civic-ledger/anchor"


class Crash(Exception):
    pass


def _grow(log: MerkleLog, ref: InMemoryTree, count: int) -> None:
    start = ref.size
    data = [f"entry {i}".encode() for i in range(start, start + count)]
    log.append([LeafInput(f"e{start + i}", d) for i, d in enumerate(data)])
    ref.extend(hash_leaf(d) for d in data)
    log.integrate_all()
    log.sign(SIGNER)


SIGNER = generate_signer(ORIGIN)


def _anchored_events(anchorer: Anchorer) -> list[int]:
    events = anchorer.contract.events.Anchored.get_logs(from_block=0)
    return [int(e["args"]["treeSize"]) for e in events]


@pytest.fixture
def setup(engine: sa.Engine, tester_chain: Chain) -> tuple[MerkleLog, InMemoryTree, Anchorer]:
    contract, deployment = ensure_log_anchor(engine, tester_chain)
    anchorer = Anchorer(
        tester_chain,
        contract,
        engine,
        origin=ORIGIN,
        verifier=SIGNER.verifier(),
        deployed_at_block=deployment.block_number,
        confirmations=2,
    )
    return MerkleLog(engine, origin=ORIGIN), InMemoryTree(), anchorer


def test_nothing_signed_nothing_sent(setup: tuple[MerkleLog, InMemoryTree, Anchorer]) -> None:
    _, _, anchorer = setup
    assert anchorer.anchor_latest() is None
    assert _anchored_events(anchorer) == []


def test_anchors_each_checkpoint_once_with_a_consistency_proof(
    setup: tuple[MerkleLog, InMemoryTree, Anchorer],
) -> None:
    log, ref, anchorer = setup
    _grow(log, ref, 5)
    first = anchorer.anchor_latest()
    assert first is not None and first.tree_size == 5 and first.root_hash == ref.root()
    assert anchorer.chain_head() == (5, ref.root())

    again = anchorer.anchor_latest()  # nothing new: no transaction
    assert again == anchorer.record(5)
    assert _anchored_events(anchorer) == [5]

    _grow(log, ref, 300)
    second = anchorer.anchor_latest()
    assert second is not None and second.tree_size == 305
    assert anchorer.chain_head() == (305, ref.root())
    assert anchorer.root_on_chain(5) == ref.root(5)
    assert _anchored_events(anchorer) == [5, 305]


def test_confirmations_make_an_anchor_final(
    setup: tuple[MerkleLog, InMemoryTree, Anchorer], tester: EthereumTester
) -> None:
    log, ref, anchorer = setup
    anchorer.confirmations = 3
    _grow(log, ref, 3)
    record = anchorer.anchor_latest()
    assert record is not None and record.status == "mined"
    tester.mine_blocks(2)
    anchorer.reconcile()
    not_yet = anchorer.record(3)
    assert not_yet is not None and not_yet.status == "mined"  # two blocks on top, want three
    tester.mine_blocks(1)
    anchorer.reconcile()
    final = anchorer.record(3)
    assert final is not None and final.status == "final"
    assert (
        final.block_hash == anchorer.chain.w3.eth.get_block(final.block_number)["hash"].to_0x_hex()
    )


def test_crash_between_broadcast_and_record_neither_loses_nor_doubles(
    setup: tuple[MerkleLog, InMemoryTree, Anchorer],
    engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log, ref, anchorer = setup
    _grow(log, ref, 7)

    def crash(name: str) -> None:
        if name == "anchor.after_broadcast":
            raise Crash(name)

    monkeypatch.setattr(anchorer_module, "failpoint", crash)
    w3, address = anchorer.chain.w3, anchorer.chain.address
    nonce_before = w3.eth.get_transaction_count(address)
    with pytest.raises(Crash):
        anchorer.anchor_latest()
    with engine.connect() as conn:
        row = conn.execute(sa.select(chain_anchors)).one()
    assert (row.status, row.tx_hash) == ("sent", None)  # the hash was never recorded

    monkeypatch.undo()
    restarted = Anchorer(
        anchorer.chain,
        anchorer.contract,
        engine,
        origin=ORIGIN,
        verifier=SIGNER.verifier(),
        confirmations=2,
    )
    record = restarted.anchor_latest()
    assert record is not None and record.tx_hash is not None and record.status in ("mined", "final")
    assert _anchored_events(restarted) == [7]
    # Exactly one transaction left our account: the restart sent nothing more.
    assert w3.eth.get_transaction_count(address) == nonce_before + 1


def test_a_reorged_anchor_is_sent_again(
    setup: tuple[MerkleLog, InMemoryTree, Anchorer], tester: EthereumTester
) -> None:
    log, ref, anchorer = setup
    _grow(log, ref, 4)
    snapshot = tester.take_snapshot()
    first = anchorer.anchor_latest()
    assert first is not None and first.status == "mined"
    tester.revert_to_snapshot(snapshot)  # the block holding the anchor is gone
    assert anchorer.chain_head() == (0, bytes(32))

    anchorer.reconcile()
    dropped = anchorer.record(4)
    assert dropped is not None and dropped.status == "dropped"
    again = anchorer.anchor_latest()
    assert again is not None and again.status == "mined"
    assert again.tx_hash != first.tx_hash or again.block_hash != first.block_hash
    assert anchorer.chain_head() == (4, ref.root())


def test_refuses_when_the_chain_head_is_not_ours(
    setup: tuple[MerkleLog, InMemoryTree, Anchorer],
) -> None:
    log, ref, anchorer = setup
    # Someone with the anchorer role anchored a root our log never had.
    foreign = bytes.fromhex("ab" * 32)
    anchorer.chain.transact(anchorer.contract.functions.anchor(3, foreign, []))
    _grow(log, ref, 5)
    with pytest.raises(AnchorRefusedError) as refused:
        anchorer.anchor_latest()
    assert refused.value.code == "anchor_refused"
    assert f"has root {foreign.hex()}" in refused.value.message
    assert refused.value.evidence["our_root"] == ref.root(3)
    assert anchorer.chain_head() == (3, foreign)  # nothing more was sent


def test_deployment_is_remembered_and_checked(engine: sa.Engine, tester_chain: Chain) -> None:
    contract, deployment = ensure_log_anchor(engine, tester_chain)
    again, same = ensure_log_anchor(engine, tester_chain)
    assert again.address == contract.address and same == deployment
    assert deployed(engine, tester_chain, "LogAnchor") == deployment
    role = contract.functions.ANCHORER_ROLE().call()
    assert contract.functions.hasRole(role, tester_chain.address).call()


def test_only_one_anchorer_leads_at_a_time(
    setup: tuple[MerkleLog, InMemoryTree, Anchorer], engine: sa.Engine
) -> None:
    log, ref, anchorer = setup
    _grow(log, ref, 3)
    with leader_lock(engine) as leading:
        assert leading
        assert anchorer.anchor_latest() is None  # another process leads: nothing sent
        assert _anchored_events(anchorer) == []
    record = anchorer.anchor_latest()
    assert record is not None and record.tree_size == 3
