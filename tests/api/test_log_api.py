"""The read-only log API on both backends: checkpoint, leaves, proofs and the error shape."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.checkpoint import open_checkpoint
from ledger.config import Settings
from ledger.entries import Entry
from ledger.merkle import verify_consistency, verify_inclusion
from ledger.runtime import Ledger


def _entry(i: int) -> Entry:
    return Entry.from_json(
        {
            "v": 1,
            "id": f"rec-{i}",
            "kind": "record",
            "unit": "DEMO-V01",
            "at": "2026-12-01T08:00:00Z",
            "body": {"title": f"村务公开 第{i}期", "n": i},
            "sealed": None,
        }
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    base = Settings.from_env({"LEDGER_DATA_DIR": str(tmp_path / "var")})
    return dataclasses.replace(base, database_url=database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, checkpoint_in_background=False)
    with TestClient(app) as c:
        yield c


def _ledger(client: TestClient) -> Ledger:
    ledger: Ledger = client.app.state.ledger  # type: ignore[attr-defined]
    return ledger


def test_no_checkpoint_is_a_404_in_the_error_shape(client: TestClient) -> None:
    r = client.get("/v1/log/checkpoint")
    assert r.status_code == 404
    assert r.json() == {
        "error": {"code": "not_found", "message": "no checkpoint has been signed yet"}
    }


def test_checkpoint_and_proofs_verify_with_nothing_but_the_responses(client: TestClient) -> None:
    ledger = _ledger(client)
    ledger.append([_entry(i) for i in range(5)])
    first = ledger.checkpoint()
    ledger.append([_entry(i) for i in range(5, 300)])
    ledger.checkpoint()

    cp = client.get("/v1/log/checkpoint").json()
    checkpoint = open_checkpoint(cp["note"], ledger.signer.verifier(), origin=cp["origin"])
    assert checkpoint.size == cp["tree_size"] == 300
    assert checkpoint.root_hash.hex() == cp["root_hash"]

    leaf = client.get("/v1/log/leaves/257").json()
    assert leaf["entry"] == _entry(257).to_json()
    assert leaf["leaf_hash"] == _entry(257).leaf_hash().hex()

    p = client.get("/v1/log/proofs/inclusion", params={"leaf_index": 257, "tree_size": 300}).json()
    verify_inclusion(
        257,
        300,
        bytes.fromhex(leaf["leaf_hash"]),
        [bytes.fromhex(h) for h in p["inclusion_proof"]],
        checkpoint.root_hash,
    )

    c = client.get("/v1/log/proofs/consistency", params={"first": 5, "second": 300}).json()
    assert c["first_root_hash"] == first.checkpoint.root_hash.hex()
    verify_consistency(
        5,
        300,
        [bytes.fromhex(h) for h in c["consistency_proof"]],
        first.checkpoint.root_hash,
        checkpoint.root_hash,
    )


def test_bad_requests_get_their_codes(client: TestClient) -> None:
    ledger = _ledger(client)
    ledger.append([_entry(i) for i in range(3)])
    ledger.checkpoint()
    beyond = client.get("/v1/log/proofs/inclusion", params={"leaf_index": 0, "tree_size": 4})
    assert beyond.status_code == 400
    assert beyond.json()["error"]["code"] == "tree_size_out_of_range"
    assert "4" in beyond.json()["error"]["message"]

    index_beyond = client.get("/v1/log/proofs/inclusion", params={"leaf_index": 3, "tree_size": 3})
    assert index_beyond.status_code == 400
    assert index_beyond.json()["error"]["code"] == "invalid_proof"

    backwards = client.get("/v1/log/proofs/consistency", params={"first": 3, "second": 2})
    assert backwards.status_code == 400

    negative = client.get("/v1/log/proofs/inclusion", params={"leaf_index": -1, "tree_size": 3})
    assert negative.status_code == 422
    assert negative.json()["error"]["code"] == "invalid_request"

    not_a_number = client.get("/v1/log/leaves/abc")
    assert not_a_number.status_code == 422
    assert client.get("/v1/log/leaves/3").json()["error"]["code"] == "not_found"
    assert client.get("/nowhere").json()["error"]["code"] == "not_found"


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready == {"status": "ready", "tree_size": 0}
    assert "/v1/log/proofs/inclusion" in client.get("/openapi.json").json()["paths"]


def test_a_leaf_whose_data_was_changed_is_not_served(client: TestClient) -> None:
    ledger = _ledger(client)
    ledger.append([_entry(i) for i in range(2)])
    ledger.checkpoint()
    with ledger.engine.begin() as conn:  # an attacker: triggers dropped, data rewritten
        if ledger.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP TRIGGER log_leaves_append_only ON log_leaves")
        else:
            conn.exec_driver_sql("DROP TRIGGER log_leaves_no_update")
        data = conn.execute(sa.text("SELECT leaf_data FROM log_leaves WHERE leaf_index = 1"))
        changed = bytes(data.scalar_one()).replace(b"1", b"7")
        conn.execute(
            sa.text("UPDATE log_leaves SET leaf_data = :d WHERE leaf_index = 1"), {"d": changed}
        )
    r = client.get("/v1/log/leaves/1")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "log_corrupt"
    assert client.get("/v1/log/leaves/0").status_code == 200
