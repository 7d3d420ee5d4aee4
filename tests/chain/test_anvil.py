"""The anchoring flow on a real anvil node over JSON-RPC: a crash of the anchorer process
between broadcast and record, and a restart of anvil from its state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from eth_account import Account
from web3 import Web3
from web3.types import RPCEndpoint

from ledger.chain.anchorer import Anchorer
from ledger.chain.client import Chain, load_or_create_keystore
from ledger.chain.deploy import ensure_log_anchor
from ledger.chain.node import Anvil
from ledger.checkpoint import generate_signer
from ledger.config import Settings
from ledger.failpoints import EXIT_CODE
from ledger.log import LeafInput, MerkleLog
from ledger.merkle import InMemoryTree, hash_leaf


def _entries(path: Path, start: int, count: int) -> Path:
    lines = [
        json.dumps(
            {
                "v": 1,
                "id": f"rec-{i}",
                "kind": "record",
                "unit": "DEMO-V01",
                "at": "2026-12-01T08:00:00Z",
                "body": {"n": i},
                "sealed": None,
            }
        )
        for i in range(start, start + count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ledger_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_flow_over_json_rpc(anvil: Anvil, engine: sa.Engine, fund: Callable[[str], Chain]) -> None:
    chain = fund(anvil.url)
    contract, deployment = ensure_log_anchor(engine, chain)
    key = generate_signer("t/anvil")
    anchorer = Anchorer(
        chain,
        contract,
        engine,
        origin="t/anvil",
        verifier=key.verifier(),
        deployed_at_block=deployment.block_number,
    )
    log, ref = MerkleLog(engine, origin="t/anvil"), InMemoryTree()
    for count in (1, 255, 2, 1000):
        start = ref.size
        data = [f"leaf {i}".encode() for i in range(start, start + count)]
        log.append([LeafInput(f"id-{i + start}", d) for i, d in enumerate(data)])
        ref.extend(hash_leaf(d) for d in data)
        log.integrate_all()
        log.sign(key)
        record = anchorer.anchor_latest()
        assert record is not None and record.tree_size == ref.size
    assert anchorer.chain_head() == (ref.size, ref.root())
    sizes = [int(e["args"]["treeSize"]) for e in contract.events.Anchored.get_logs(from_block=0)]
    assert sizes == [1, 256, 258, 1258]


def test_crashed_anchorer_process_restarts_to_exactly_one_anchor(
    anvil: Anvil, tmp_path: Path
) -> None:
    # The embedded default database: what is tested here is the process dying between
    # broadcast and record, and the chain-side reconciliation after it (the anchorer's
    # storage is covered on both databases in test_anchorer.py).
    env = {
        "LEDGER_DATA_DIR": str(tmp_path / "var"),
        "LEDGER_CHAIN_URL": anvil.url,
        "LEDGER_CONFIRMATIONS": "1",
    }
    settings = Settings.from_env(env)
    account = load_or_create_keystore(settings.chain_key_file, settings.chain_key_password_file)
    Web3(Web3.HTTPProvider(anvil.url)).provider.make_request(
        RPCEndpoint("anvil_setBalance"), [account.address, hex(10**20)]
    )
    assert _ledger_cli(env, "init").returncode == 0
    assert (
        _ledger_cli(env, "log", "append", str(_entries(tmp_path / "a.jsonl", 0, 3))).returncode == 0
    )
    # First run: anchors n + 3 (init logged n entries: the platform unit and its
    # administrator). Second: dies right after broadcasting n + 5.
    first = _ledger_cli(env, "anchor", "--json")
    assert first.returncode == 0, first.stderr
    n = json.loads(first.stdout)["tree_size"] - 3
    assert (
        _ledger_cli(env, "log", "append", str(_entries(tmp_path / "b.jsonl", 3, 2))).returncode == 0
    )
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    nonce_before = w3.eth.get_transaction_count(account.address)
    crashed = _ledger_cli({**env, "LEDGER_FAILPOINTS": "anchor.after_broadcast"}, "anchor")
    assert crashed.returncode == EXIT_CODE, crashed.stderr

    restarted = _ledger_cli(env, "anchor", "--json")
    assert restarted.returncode == 0, restarted.stderr
    result = json.loads(restarted.stdout)
    assert result["tree_size"] == n + 5 and result["tx_hash"] is not None

    contract = Chain(Web3(Web3.HTTPProvider(anvil.url)), Account.create()).contract(
        "LogAnchor", result["contract"]
    )
    sizes = [int(e["args"]["treeSize"]) for e in contract.events.Anchored.get_logs(from_block=0)]
    assert sizes == [n + 3, n + 5]  # the crashed broadcast landed once
    # and the restart sent no transaction at all (not even a no-op re-send)
    assert w3.eth.get_transaction_count(account.address) == nonce_before + 1


def test_anvil_restarted_from_its_state_file_keeps_every_anchor(
    tmp_path: Path, engine: sa.Engine, fund: Callable[[str], Chain]
) -> None:
    state = tmp_path / "state.json"
    key = generate_signer("t/restart")
    log, ref = MerkleLog(engine, origin="t/restart"), InMemoryTree()
    roots = {}
    with Anvil(state_file=state) as node:
        chain = fund(node.url)
        contract, deployment = ensure_log_anchor(engine, chain)
        anchorer = Anchorer(chain, contract, engine, origin="t/restart", verifier=key.verifier())
        for count in (10, 20):
            start = ref.size
            data = [f"leaf {i}".encode() for i in range(start, start + count)]
            log.append([LeafInput(f"id-{i + start}", d) for i, d in enumerate(data)])
            ref.extend(hash_leaf(d) for d in data)
            log.integrate_all()
            log.sign(key)
            anchorer.anchor_latest()
            roots[ref.size] = ref.root()
        account = chain.account
        port = node.port
    with Anvil(state_file=state, port=port) as node:
        chain = Chain(Web3(Web3.HTTPProvider(node.url)), account)
        contract, again = ensure_log_anchor(engine, chain)  # found, not redeployed
        assert again == deployment
        for size, root in roots.items():
            assert bytes(contract.functions.rootAt(size).call()) == root
        anchorer = Anchorer(chain, contract, engine, origin="t/restart", verifier=key.verifier())
        data = [b"after restart"]
        log.append([LeafInput("after", data[0])])
        ref.extend(hash_leaf(d) for d in data)
        log.integrate_all()
        log.sign(key)
        record = anchorer.anchor_latest()
        assert record is not None and record.tree_size == 31
        assert anchorer.chain_head() == (31, ref.root())


def test_vetting_and_grants_relayed_over_json_rpc(
    anvil: Anvil, engine: sa.Engine, fund: Callable[[str], Chain]
) -> None:
    from relay_flow import relay_rows, run_flow

    from ledger.chain import vetting as v

    chain = fund(anvil.url)
    result = run_flow(chain, engine)
    state = result.contracts.vetting.functions.candidate(result.candidate_id).call()
    assert v.Outcome(state[3]) == v.Outcome.PASSED
    assert len({d.tx_hash for d in result.decisions}) == 1  # one batch
    rows = relay_rows(engine)
    assert len(rows) == 7  # registration, four decisions, grant, revocation
    for _, _, tx_hash, block in rows:
        assert chain.w3.eth.get_transaction_receipt(tx_hash)["blockNumber"] == block  # type: ignore[arg-type]
