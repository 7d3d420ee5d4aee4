"""``ledger audit --rpc URL`` on a real anvil node over JSON-RPC (both databases).

A ledger whose records were checkpointed and anchored twice audits clean against the
chain. Then history is rewritten in the database by someone holding the log's key: a
leaf's entry changed, its hash, every checkpoint after it recomputed and re-signed, and
the anchorer's memory of the anchored roots. The database is consistent with itself, so
``--no-chain`` finds nothing; against the chain the audit names the rewritten tree sizes,
whose roots the chain holds otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ledger import records
from ledger.chain.client import Chain
from ledger.chain.node import Anvil, free_port
from ledger.chain.session import session_on
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.cli import app
from ledger.config import Settings
from ledger.context import ChainDomain, Context
from ledger.merkle import InMemoryTree, hash_leaf
from ledger.runtime import Ledger
from ledger.units.service import authenticate, bootstrap

NOW = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
runner = CliRunner()


@dataclass
class Anchored:
    settings: Settings
    ledger: Ledger
    env: dict[str, str]
    url: str
    sizes: list[int]

    def audit(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = runner.invoke(app, ["audit", "--json", *args], env=self.env)
        return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def anchored(
    anvil: Anvil, database_url: str, tmp_path: Path, fund: Callable[[str], Chain]
) -> Iterator[Anchored]:
    env = {
        "LEDGER_DATA_DIR": str(tmp_path / "var"),
        "LEDGER_DATABASE_URL": database_url,
        "LEDGER_CHAIN_URL": anvil.url,
    }
    settings = Settings.from_env(env)
    ledger = Ledger.open(settings)
    session = session_on(
        fund(anvil.url),
        ledger.engine,
        settings,
        ledger.signer.verifier(),
        url=anvil.url,
        confirmations=0,
    )
    domain = ChainDomain(
        session.chain.chain_id,
        session.contracts.vetting.address,
        session.contracts.grants.address,
    )
    with ledger.engine.begin() as conn:
        issued = bootstrap(conn, ledger.master, now=NOW)
    assert issued is not None
    sizes = []
    for batch in range(2):
        with ledger.engine.begin() as conn:
            ctx = Context(conn, authenticate(conn, issued.token), NOW, ledger.master, domain)
            records.create(
                ctx,
                [records.NewRecord("record", {"n": batch * 10 + i}) for i in range(10)],
            )
        session.relayer.relay_outbox()
        sizes.append(ledger.checkpoint().checkpoint.size)
        record = session.anchorer.anchor_latest()
        assert record is not None and record.status == "final"
    try:
        yield Anchored(settings, ledger, env, anvil.url, sizes)
    finally:
        ledger.close()


def test_an_anchored_ledger_audits_clean_against_anvil(anchored: Anchored) -> None:
    exit_code, out = anchored.audit("--rpc", anchored.url)
    assert exit_code == 0, out
    assert out["ok"] is True and out["findings"] == [] and out["notices"] == []
    assert out["chain"]["rpc"] == anchored.url and out["chain"]["anchored_events"] == 2
    assert out["chain"]["head"][0] == anchored.sizes[-1]
    assert out["checked"]["anchored_sizes"] == 2
    # LEDGER_CHAIN_URL is the default node.
    assert anchored.audit()[0] == 0


def test_history_rewritten_with_the_log_key_is_caught_by_the_chain(anchored: Anchored) -> None:
    engine = anchored.ledger.engine
    victim = 5
    with engine.connect() as conn:
        leaves = conn.execute(
            sa.text("SELECT leaf_data, leaf_hash FROM log_leaves ORDER BY leaf_index")
        ).all()
    data = bytes(leaves[victim].leaf_data).replace(b'"n":3', b'"n":4')
    assert data != bytes(leaves[victim].leaf_data)
    hashes = [bytes(h) for _, h in leaves]
    hashes[victim] = hash_leaf(data)
    tree = InMemoryTree(hashes)
    origin = anchored.settings.log_origin
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name in list(
                conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type='trigger'"
                ).scalars()
            ):
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(
            sa.text("UPDATE log_leaves SET leaf_data = :d, leaf_hash = :h WHERE leaf_index = :i"),
            {"d": data, "h": hashes[victim], "i": victim},
        )
        for size in anchored.sizes:
            root = tree.root(size)
            note = sign_checkpoint(Checkpoint(origin, size, root), anchored.ledger.signer)
            conn.execute(
                sa.text(
                    "UPDATE log_checkpoints SET root_hash = :r, note = :n WHERE tree_size = :s"
                ),
                {"r": root, "n": note, "s": size},
            )
            # ... and the anchorer's memory of what it anchored.
            conn.execute(
                sa.text("UPDATE chain_anchors SET root_hash = :r WHERE tree_size = :s"),
                {"r": root, "s": size},
            )

    # The database agrees with itself: without the chain, nothing is found.
    exit_code, out = anchored.audit("--no-chain")
    assert exit_code == 0 and out["findings"] == [], out["findings"]

    exit_code, out = anchored.audit("--rpc", anchored.url)
    assert exit_code == 1
    codes = {f["code"] for f in out["findings"]}
    assert {"anchor_root_mismatch", "chain_head_unknown"} <= codes
    mismatched = [f for f in out["findings"] if f["code"] == "anchor_root_mismatch"]
    assert {f["evidence"]["tree_size"] for f in mismatched} == set(anchored.sizes)
    for f in mismatched:
        roots = f["evidence"]["roots"]
        # Only the chain keeps the true root.
        rewritten = {v for k, v in roots.items() if k != "chain"}
        assert len(rewritten) == 1 and roots["chain"] not in rewritten


def test_an_unreachable_node_is_a_finding(anchored: Anchored) -> None:
    exit_code, out = anchored.audit("--rpc", f"http://127.0.0.1:{free_port()}")
    assert exit_code == 1
    (finding,) = out["findings"]
    assert finding["code"] == "chain_unreachable"
