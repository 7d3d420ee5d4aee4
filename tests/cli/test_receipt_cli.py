"""``ledger receipt`` and ``ledger verify`` through Typer's CliRunner, on the embedded
SQLite database and a real anvil node over JSON-RPC.

The log is written with ``ledger log append`` / ``ledger log checkpoint``; the checkpoint
is anchored by the Anchorer itself (as in tests/chain), with no confirmations needed, so
that it is final once mined. ``ledger verify`` as a separate process with no database at
all is in tests/chain/test_receipts_chain.py; each step's failures in
tests/unit/test_receipts.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner
from web3 import Web3
from web3.types import RPCEndpoint

from ledger.chain.anchorer import Anchorer
from ledger.chain.client import Chain
from ledger.chain.deploy import ensure_log_anchor
from ledger.chain.node import Anvil
from ledger.cli import app
from ledger.config import Settings
from ledger.receipts import parse_receipt_text
from ledger.runtime import Ledger

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path / "var"))
    for name in ("LEDGER_DATABASE_URL", "LEDGER_LOG_KEY_FILE", "LEDGER_CHAIN_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "var"


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[Anvil]:
    with Anvil(
        state_file=tmp_path / "anvil" / "state.json", log_file=tmp_path / "anvil.log"
    ) as node:
        yield node


@dataclass
class Anchored:
    url: str
    verifier_key: str
    chain_id: int
    contract: str
    tx_hash: str
    block_number: int


def _anchor(url: str) -> Anchored:
    """Anchor the ledger's newest checkpoint on the node at ``url``; final at once."""
    ledger = Ledger.open(Settings.from_env(), create=False)
    try:
        account = Account.create()
        w3 = Web3(Web3.HTTPProvider(url))
        w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [account.address, hex(10**20)])
        chain = Chain(w3, account)
        contract, deployment = ensure_log_anchor(ledger.engine, chain)
        anchorer = Anchorer(
            chain,
            contract,
            ledger.engine,
            origin=ledger.settings.log_origin,
            verifier=ledger.signer.verifier(),
            deployed_at_block=deployment.block_number,
            confirmations=0,
        )
        record = anchorer.anchor_latest()
        assert record is not None and record.status == "final"
        assert record.tx_hash is not None and record.block_number is not None
        return Anchored(
            url,
            ledger.signer.verifier().to_verifier_key(),
            chain.chain_id,
            str(contract.address),
            record.tx_hash,
            record.block_number,
        )
    finally:
        ledger.close()


def _entries(path: Path, ids: list[str]) -> Path:
    lines = [
        json.dumps(
            {
                "v": 1,
                "id": i,
                "kind": "record",
                "unit": "DEMO-V01",
                "at": "2026-12-01T08:00:00Z",
                "body": {"title": "村务公开"},
                "sealed": None,
            },
            ensure_ascii=False,
        )
        for i in ids
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_no_receipt_before_the_anchor_is_final(data_dir: Path, tmp_path: Path) -> None:
    entries = _entries(tmp_path / "e.jsonl", ["a", "b"])
    assert runner.invoke(app, ["log", "append", str(entries)]).exit_code == 0

    not_integrated = runner.invoke(app, ["receipt", "a", "--json"])
    assert not_integrated.exit_code == 1
    error = json.loads(not_integrated.stderr)["error"]
    assert error["code"] == "not_anchored"
    assert "not yet integrated" in error["message"]

    assert runner.invoke(app, ["log", "checkpoint"]).exit_code == 0
    not_anchored = runner.invoke(app, ["receipt", "b", "-o", str(tmp_path / "b.json")])
    assert not_anchored.exit_code == 1
    assert not_anchored.stderr.startswith("error [not_anchored]: record 'b' (leaf 1) is in ")
    assert not (tmp_path / "b.json").exists()

    unknown = runner.invoke(app, ["receipt", "zzz"])
    assert unknown.exit_code == 1
    assert unknown.stderr == "error [not_found]: no record with id 'zzz' in the log\n"


def test_receipt_and_verify(
    anvil: Anvil, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = _entries(tmp_path / "e.jsonl", ["a", "b", "c"])
    assert runner.invoke(app, ["log", "append", str(entries)]).exit_code == 0
    assert runner.invoke(app, ["log", "checkpoint"]).exit_code == 0
    anchored = _anchor(anvil.url)
    chain_url, verifier_key = anchored.url, anchored.verifier_key

    # To a file (text or JSON summary), or to stdout: the same receipt.
    a_file = tmp_path / "a.json"
    written = runner.invoke(app, ["receipt", "a", "-o", str(a_file)])
    assert written.exit_code == 0, written.stderr
    assert written.output == (
        f"wrote the receipt of a (leaf 0 in tree 3, anchored on chain {anchored.chain_id} "
        f"at block {anchored.block_number}) to {a_file}\n"
    )
    printed = runner.invoke(app, ["receipt", "a"])
    assert printed.exit_code == 0
    assert printed.output == a_file.read_text(encoding="utf-8")
    receipt = parse_receipt_text(printed.output)
    assert receipt.entry["id"] == "a" and receipt.checkpoint.verifier_key == verifier_key
    assert receipt.anchor.contract == anchored.contract
    assert receipt.anchor.tx_hash == anchored.tx_hash
    assert "村务公开" in printed.output  # UTF-8 as it is, not \u escapes

    c_file = tmp_path / "c.json"
    summary = runner.invoke(app, ["receipt", "c", "-o", str(c_file), "--json"])
    assert summary.exit_code == 0
    assert json.loads(summary.output) == {
        "record_id": "c",
        "file": str(c_file),
        "leaf_index": 2,
        "tree_size": 3,
        "chain_id": anchored.chain_id,
        "contract": anchored.contract,
        "block_number": anchored.block_number,
    }

    verified = runner.invoke(
        app, ["verify", str(a_file), str(c_file), "--rpc", chain_url, "--json"]
    )
    assert verified.exit_code == 0, verified.output
    results = json.loads(verified.output)
    assert [(r["file"], r["ok"], r["leaf_index"]) for r in results] == [
        (str(a_file), True, 0),
        (str(c_file), True, 2),
    ]
    assert [s["status"] for s in results[0]["steps"]] == ["ok"] * 5

    # --rpc defaults to LEDGER_CHAIN_URL; the log key may be pinned.
    monkeypatch.setenv("LEDGER_CHAIN_URL", chain_url)
    pinned = runner.invoke(app, ["verify", str(a_file), "--log-key", verifier_key])
    assert pinned.exit_code == 0, pinned.output
    assert pinned.output == (
        f"OK  {a_file}  (leaf 0 in tree 3, anchored at block {anchored.block_number})\n"
    )

    tampered = json.loads(a_file.read_text(encoding="utf-8"))
    tampered["leaf_index"] = 1
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps(tampered), encoding="utf-8")
    failed = runner.invoke(app, ["verify", str(a_file), str(bad_file), "--json"])
    assert failed.exit_code == 1
    good, bad = json.loads(failed.output)
    assert good["ok"] and not bad["ok"]
    assert bad["failed_step"]["step"] == 2 and bad["failed_step"]["name"] == "inclusion proof"
    assert [s["status"] for s in bad["steps"]] == ["ok", "ok", "failed", "skipped", "skipped"]

    text = runner.invoke(app, ["verify", str(bad_file)])
    assert text.exit_code == 1
    assert text.output.startswith(
        f"FAIL {bad_file}: step 2 (inclusion proof): leaf 1 in tree size 3"
    )


def test_verify_usage_errors_exit_2(data_dir: Path) -> None:
    assert runner.invoke(app, ["verify"]).exit_code == 2
    bad_key = runner.invoke(app, ["verify", "x.json", "--log-key", "nope"])
    assert bad_key.exit_code == 2
    assert "--log-key" in bad_key.stderr
