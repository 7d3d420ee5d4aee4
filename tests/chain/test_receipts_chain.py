"""Receipts end to end on a real anvil node over JSON-RPC: entries are appended, signed,
anchored by the anchorer until final, and their receipts are checked by ``ledger verify``
running as a separate process that has nothing but the receipt files and ``--rpc``: no
database, no data dir, no settings (an empty working directory, and LEDGER_* variables
that point nowhere)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from web3.types import RPCEndpoint

from ledger.chain.anchorer import Anchorer
from ledger.chain.client import Chain
from ledger.chain.deploy import ensure_log_anchor
from ledger.chain.lookup import anchored_root_from_rpc
from ledger.chain.node import Anvil, free_port
from ledger.checkpoint import generate_signer
from ledger.entries import Entry
from ledger.log import LeafInput, MerkleLog
from ledger.receipts import AnchorLookupError, Receipt, build_receipt, verify_receipt

ORIGIN = "t/receipts-chain"
KEY = generate_signer(ORIGIN)
VERIFIER_KEY = KEY.verifier().to_verifier_key()


def _entry(i: int) -> Entry:
    body = {"n": i, "title": "村务公开"}
    return Entry(1, f"rec-{i}", "record", "DEMO-V01", "2026-12-01T08:00:00Z", body, None)


def _ledger_verify(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``ledger verify`` in a fresh process that knows no database and no data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["LEDGER_DATA_DIR"] = str(cwd / "no-data-dir")
    env["LEDGER_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", "verify", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _write(path: Path, obj: dict[str, Any]) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def anchored(
    anvil: Anvil, engine: sa.Engine, fund: Callable[[str], Chain]
) -> tuple[Chain, dict[str, Receipt]]:
    """Entries 0..4 in checkpoints of sizes 3 and 5, both anchored and final on anvil."""
    chain = fund(anvil.url)
    contract, deployment = ensure_log_anchor(engine, chain)
    anchorer = Anchorer(
        chain,
        contract,
        engine,
        origin=ORIGIN,
        verifier=KEY.verifier(),
        deployed_at_block=deployment.block_number,
        confirmations=2,
    )
    log = MerkleLog(engine, origin=ORIGIN)
    for first, count in ((0, 3), (3, 2)):
        entries = [_entry(i) for i in range(first, first + count)]
        log.append([LeafInput(e.id, e.leaf_data()) for e in entries])
        log.integrate_all()
        log.sign(KEY)
        record = anchorer.anchor_latest()
        assert record is not None and record.status == "mined"
    chain.w3.provider.make_request(RPCEndpoint("anvil_mine"), [2])
    anchorer.reconcile()
    for size in (3, 5):
        record = anchorer.record(size)
        assert record is not None and record.status == "final"
    receipts = {
        f"rec-{i}": build_receipt(engine, f"rec-{i}", verifier_key=VERIFIER_KEY, origin=ORIGIN)
        for i in range(5)
    }
    assert {r.checkpoint.tree_size for r in receipts.values()} == {3, 5}
    return chain, receipts


def test_ledger_verify_needs_only_the_receipts_and_a_node(
    anvil: Anvil, anchored: tuple[Chain, dict[str, Receipt]], tmp_path: Path
) -> None:
    chain, receipts = anchored
    files = tmp_path / "files"
    files.mkdir()
    good = [_write(files / f"{rid}.json", r.to_json()) for rid, r in receipts.items()]
    cwd = tmp_path / "empty"
    cwd.mkdir()

    verified = _ledger_verify(cwd, "--rpc", anvil.url, *map(str, good))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    lines = verified.stdout.splitlines()
    assert len(lines) == 5
    block = receipts["rec-0"].anchor.block_number
    assert lines[0] == f"OK  {good[0]}  (leaf 0 in tree 3, anchored at block {block})"
    assert lines[4].startswith(f"OK  {good[4]}  (leaf 4 in tree 5, anchored at block ")
    assert list(cwd.iterdir()) == []  # no data dir, no database was made

    pinned = _ledger_verify(
        cwd, "--rpc", anvil.url, "--log-key", VERIFIER_KEY, "--json", *map(str, good)
    )
    assert pinned.returncode == 0, pinned.stderr
    results = json.loads(pinned.stdout)
    assert [(r["file"], r["ok"], r["leaf_index"]) for r in results] == [
        (str(path), True, i) for i, path in enumerate(good)
    ]
    assert all(r["chain_id"] == chain.chain_id for r in results)


def test_ledger_verify_names_each_failing_receipt_and_step(
    anvil: Anvil, anchored: tuple[Chain, dict[str, Receipt]], tmp_path: Path
) -> None:
    chain, receipts = anchored
    base = receipts["rec-1"].to_json()
    good = _write(tmp_path / "good.json", base)

    tampered = json.loads(json.dumps(base))
    tampered["entry"]["body"]["title"] = "村务不公开"
    # A LogAnchor of the same code, deployed by someone else, holding nothing.
    other, _ = chain.deploy("LogAnchor", chain.address)
    elsewhere = json.loads(json.dumps(base))
    elsewhere["anchor"]["contract"] = other.address
    no_contract = json.loads(json.dumps(base))
    no_contract["anchor"]["contract"] = chain.address  # an account, not a contract
    other_chain = json.loads(json.dumps(base))
    other_chain["anchor"]["chain_id"] = 1
    bad = {
        "tampered": (_write(tmp_path / "tampered.json", tampered), 2, "inclusion proof"),
        "elsewhere": (_write(tmp_path / "elsewhere.json", elsewhere), 4, "chain anchor"),
        "no_contract": (_write(tmp_path / "no-contract.json", no_contract), 4, "chain anchor"),
        "other_chain": (_write(tmp_path / "other-chain.json", other_chain), 4, "chain anchor"),
        "garbage": (tmp_path / "garbage.json", 0, "parse"),
        "missing": (tmp_path / "missing.json", 0, "parse"),
    }
    bad["garbage"][0].write_text("not a receipt", encoding="utf-8")
    cwd = tmp_path / "empty"
    cwd.mkdir()

    result = _ledger_verify(
        cwd, "--rpc", anvil.url, str(good), *(str(path) for path, _, _ in bad.values())
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"OK  {good}  (leaf 1 in tree 3, ")
    by_file = dict(zip([str(p) for p, _, _ in bad.values()], lines[1:], strict=True))
    for path, step, name in bad.values():
        assert by_file[str(path)].startswith(f"FAIL {path}: step {step} ({name}): "), by_file
    assert "calculated root" in by_file[str(bad["tampered"][0])]
    assert (
        f"LogAnchor {other.address} on chain {chain.chain_id} holds no root for tree size 3"
        in by_file[str(bad["elsewhere"][0])]
    )
    assert f"no contract at {chain.address}" in by_file[str(bad["no_contract"][0])]
    assert (
        f"the node at {anvil.url} serves chain {chain.chain_id}, the anchor is on chain 1"
        in by_file[str(bad["other_chain"][0])]
    )
    assert "receipt is not JSON" in by_file[str(bad["garbage"][0])]
    assert "cannot read" in by_file[str(bad["missing"][0])]

    # Pinning another log key fails every receipt at step 3, even a good one.
    stranger = generate_signer(ORIGIN).verifier().to_verifier_key()
    pinned = _ledger_verify(cwd, "--rpc", anvil.url, "--log-key", stranger, "--json", str(good))
    assert pinned.returncode == 1
    [only] = json.loads(pinned.stdout)
    assert only["ok"] is False
    assert only["failed_step"]["step"] == 3
    assert only["failed_step"]["name"] == "checkpoint signature"
    assert "want the pinned log key" in only["failed_step"]["reason"]

    # Bad usage: no receipt, or a pinned key that is not a key.
    assert _ledger_verify(cwd, "--rpc", anvil.url).returncode == 2
    assert _ledger_verify(cwd, "--log-key", "nope", str(good)).returncode == 2


def test_the_lookup_over_json_rpc(anvil: Anvil, anchored: tuple[Chain, dict[str, Receipt]]) -> None:
    _, receipts = anchored
    receipt = receipts["rec-3"]
    lookup = anchored_root_from_rpc(anvil.url)
    anchor = receipt.anchor
    assert lookup(anchor.chain_id, anchor.contract, 5) == receipt.checkpoint.root_hash
    assert lookup(anchor.chain_id, anchor.contract.lower(), 5) == receipt.checkpoint.root_hash
    assert lookup(anchor.chain_id, anchor.contract, 4) is None  # never anchored: zero root
    assert verify_receipt(receipt, anchored_root=lookup, log_key=VERIFIER_KEY).ok
    bad_checksum = "0x" + anchor.contract[2:].swapcase()
    if bad_checksum.lower() != bad_checksum:  # has letters: a broken EIP-55 checksum
        with pytest.raises(AnchorLookupError, match="fails its EIP-55 checksum"):
            lookup(anchor.chain_id, bad_checksum, 5)

    nobody = anchored_root_from_rpc(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(AnchorLookupError, match="no chain node answers at"):
        nobody(anchor.chain_id, anchor.contract, 5)
    failure = verify_receipt(receipt, anchored_root=nobody).failure
    assert failure is not None and failure.number == 4
