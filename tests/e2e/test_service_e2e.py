"""The real service end to end: ``ledger serve`` as a subprocess with its embedded anvil,
records over HTTP, receipts, ``ledger verify`` in a separate process with only the RPC
URL, a restart on the same data dir, and ``ledger audit`` catching a tampered database.

1. ``ledger serve`` starts on a fresh data dir (free ports, anchoring every second),
   spawns its anvil, deploys the contracts and writes the admin key file.
2. Over HTTP: a township and a village unit, a clerk for the village, four records
   (one with sealed personal data, two in a batch); each receipt is fetched once its
   checkpoint is anchored (``GET /v1/records/{id}/receipt`` turns 200).
3. ``ledger verify --rpc <anvil>`` in a process with no database, no data dir and no
   ``LEDGER_*`` settings verifies every receipt file; ``ledger audit`` finds nothing.
4. The service stops on SIGINT and stops its anvil; started again on the same data
   dir, the records are there, the old receipts still verify, new records get receipts.
5. The service stops (SIGTERM); the SQLite file is tampered with (a byte of one leaf
   changed, the append-only triggers dropped as an attacker would): ``ledger audit``
   (which starts the embedded anvil from its state file for the audit) exits 1 and
   names that leaf and its record.

No process outlives the test: the service is stopped in ``finally``, and any anvil still
listening on the test's port is killed by its process id.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.node import free_port
from tests.e2e.service import Service, http, kill_anvil_on, ledger_cli, rpc_answers

pytestmark = pytest.mark.slow

RECEIPT_TIMEOUT = 90.0


def _ok(response: tuple[int, Any], status: int = 200) -> Any:
    got, body = response
    assert got == status, body
    return body


def _wait_receipt(service: Service, token: str, record_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + RECEIPT_TIMEOUT
    last: Any = None
    while time.monotonic() < deadline:
        status, body = http("GET", f"{service.url}/v1/records/{record_id}/receipt", token=token)
        if status == 200:
            receipt: dict[str, Any] = body
            return receipt
        assert status == 409, body  # not anchored yet
        last = body
        time.sleep(0.5)
    raise AssertionError(
        f"no receipt for {record_id} in {RECEIPT_TIMEOUT} s: {last}\n{service.tail()}"
    )


def _write_records(service: Service, token: str, tag: str) -> list[str]:
    one = _ok(
        http(
            "POST",
            f"{service.url}/v1/records",
            {"kind": "record.village_notice", "body": {"title": f"村务公开 {tag}", "n": 1}},
            token=token,
        ),
        201,
    )
    sealed = _ok(
        http(
            "POST",
            f"{service.url}/v1/records",
            {
                "kind": "record.service_log",
                "body": {"service": "低保走访", "n": 2},
                "personal": {"name": "金明哲", "phone": "0433-7500000"},
            },
            token=token,
        ),
        201,
    )
    batch = _ok(
        http(
            "POST",
            f"{service.url}/v1/records/batch",
            {"records": [{"body": {"n": 3, "tag": tag}}, {"body": {"n": 4, "tag": tag}}]},
            token=token,
        ),
        201,
    )
    return [one["id"], sealed["id"], *(r["id"] for r in batch["records"])]


def _receipts(service: Service, token: str, ids: list[str], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for record_id in ids:
        receipt = _wait_receipt(service, token, record_id)
        assert receipt["entry"]["id"] == record_id
        path = folder / f"{record_id}.json"
        path.write_text(json.dumps(receipt, ensure_ascii=False, indent=2), encoding="utf-8")
        files.append(path)
    return files


def _verify(service: Service, files: list[Path], tmp_path: Path) -> dict[str, Any]:
    """``ledger verify`` knowing nothing but the receipts and the node's URL."""
    cwd = tmp_path / "auditor"
    cwd.mkdir(exist_ok=True)
    env = {
        "LEDGER_DATA_DIR": str(cwd / "no-data-dir"),
        "LEDGER_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/nothing",
    }
    done = ledger_cli("verify", "--json", "--rpc", service.rpc, *map(str, files), env=env, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout)
    assert [r["ok"] for r in results] == [True] * len(files)
    assert not (cwd / "no-data-dir").exists()
    return {"results": results}


def _audit(service: Service) -> tuple[int, dict[str, Any]]:
    env = {"LEDGER_DATA_DIR": str(service.data_dir), "LEDGER_ANVIL_PORT": str(service.anvil_port)}
    done = ledger_cli("audit", "--json", env=env)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report


def _setup_units(service: Service) -> str:
    admin = service.admin_key()
    _ok(
        http(
            "POST",
            f"{service.url}/v1/units",
            {"code": "222404101", "name": "敬信镇", "level": "township"},
            token=admin,
        ),
        201,
    )
    _ok(
        http(
            "POST",
            f"{service.url}/v1/units",
            {"code": "DEMO-FANGCHUAN", "name": "防川村", "level": "village", "parent": "222404101"},
            token=admin,
        ),
        201,
    )
    clerk = _ok(
        http(
            "POST",
            f"{service.url}/v1/principals",
            {"unit": "DEMO-FANGCHUAN", "role": "village_clerk", "label": "clerk 1"},
            token=admin,
        ),
        201,
    )
    token: str = clerk["api_key"]
    return token


def _tamper_leaf(database: Path, record_id: str) -> int:
    """Change one byte of the record's leaf in the SQLite file; returns its leaf index."""
    conn = sqlite3.connect(database)
    try:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            conn.execute(f'DROP TRIGGER "{name}"')
        index, data = conn.execute(
            "SELECT leaf_index, leaf_data FROM log_leaves WHERE entry_id = ?", (record_id,)
        ).fetchone()
        forged = bytes(data).replace("村务公开".encode(), "村务隐藏".encode())
        assert forged != bytes(data)
        conn.execute("UPDATE log_leaves SET leaf_data = ? WHERE leaf_index = ?", (forged, index))
        conn.commit()
    finally:
        conn.close()
    return int(index)


def test_serve_receipts_verify_restart_and_audit(tmp_path: Path) -> None:
    port = free_port()
    anvil_port = free_port()
    while anvil_port == port:
        anvil_port = free_port()
    service = Service(
        data_dir=tmp_path / "var", port=port, anvil_port=anvil_port, log=tmp_path / "service.log"
    )
    try:
        # 1-2. Start, units and a clerk, records, receipts.
        service.start()
        assert rpc_answers(service.anvil_port), "the service did not start its anvil"
        token = _setup_units(service)
        first = _write_records(service, token, "first")
        files = _receipts(service, token, first, tmp_path / "receipts")
        # 3. Independent verification and a clean audit, the service still running.
        _verify(service, files, tmp_path)
        code, report = _audit(service)
        assert code == 0 and report["findings"] == [], report
        assert report["chain"]["rpc"] == service.rpc

        # 4. Stop; the anvil goes with the service. Start again on the same data.
        service.stop_cleanly(signal.SIGINT)
        assert not rpc_answers(service.anvil_port), "the service left its anvil running"
        assert kill_anvil_on(service.anvil_port) == []
        service.start()
        for record_id in first:
            got = _ok(http("GET", f"{service.url}/v1/records/{record_id}", token=token))
            assert got["id"] == record_id
        _verify(service, files, tmp_path)
        second = _write_records(service, token, "second")
        more = _receipts(service, token, second, tmp_path / "receipts")
        _verify(service, files + more, tmp_path)

        # 5. Stop, tamper with the database file, audit.
        service.stop_cleanly(signal.SIGTERM)
        assert not rpc_answers(service.anvil_port)
        victim = first[0]
        leaf = _tamper_leaf(service.data_dir / "ledger.db", victim)
        code, report = _audit(service)
        assert code == 1, report
        mismatches = [f for f in report["findings"] if f["code"] == "leaf_hash_mismatch"]
        assert [(f["record_ids"], f["leaf_indices"]) for f in mismatches] == [([victim], [leaf])]
        # The audit started the embedded anvil from its state file, and stopped it.
        assert report["chain"]["rpc"] == service.rpc
        assert not rpc_answers(service.anvil_port), "the audit left its anvil running"
    finally:
        service.stop(signal.SIGKILL)
        leftover = kill_anvil_on(service.anvil_port)
    assert leftover == [], f"anvil processes were left running: {leftover}"
