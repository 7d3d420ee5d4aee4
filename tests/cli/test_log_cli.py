"""The ``ledger`` command on the embedded default: init, append, checkpoint, status, prove."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.checkpoint import open_checkpoint, parse_verifier_key
from ledger.cli import app
from ledger.merkle import verify_inclusion

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LEDGER_DATABASE_URL", raising=False)
    monkeypatch.delenv("LEDGER_LOG_KEY_FILE", raising=False)
    return tmp_path / "var"


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


def test_init_makes_a_private_key_and_is_idempotent(data_dir: Path) -> None:
    first = runner.invoke(app, ["init", "--no-chain", "--json"])
    assert first.exit_code == 0, first.output
    info = json.loads(first.output)
    key_file = Path(info["key_file"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = runner.invoke(app, ["init", "--no-chain", "--json"])
    assert json.loads(again.output)["verifier_key"] == info["verifier_key"]


def test_append_checkpoint_prove(data_dir: Path, tmp_path: Path) -> None:
    verifier = parse_verifier_key(
        json.loads(runner.invoke(app, ["init", "--no-chain", "--json"]).output)["verifier_key"]
    )
    # init logged the platform unit and its administrator: the log starts at n.
    n = json.loads(runner.invoke(app, ["log", "status", "--json"]).output)["sequenced_size"]
    appended = runner.invoke(
        app, ["log", "append", str(_entries(tmp_path / "e.jsonl", ["a", "b", "c"])), "--json"]
    )
    assert appended.exit_code == 0, appended.output
    assert json.loads(appended.output) == {"count": 3, "indices": f"[{n}, {n + 3})", "first": n}

    signed = runner.invoke(app, ["log", "checkpoint", "--json"])
    assert signed.exit_code == 0, signed.output
    checkpoint = open_checkpoint(json.loads(signed.output)["note"], verifier)
    assert checkpoint.size == n + 3

    proved = json.loads(runner.invoke(app, ["log", "prove", str(n + 2), "--json"]).output)
    verify_inclusion(
        n + 2,
        n + 3,
        bytes.fromhex(proved["leaf_hash"]),
        [bytes.fromhex(h) for h in proved["inclusion_proof"]],
        checkpoint.root_hash,
    )
    status = json.loads(runner.invoke(app, ["log", "status", "--json"]).output)
    assert status["sequenced_size"] == status["integrated_size"] == status["checkpoint_size"]
    assert status["checkpoint_size"] == n + 3


def test_errors_exit_1_with_a_code_and_write_nothing(data_dir: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["init", "--no-chain"])
    n = json.loads(runner.invoke(app, ["log", "status", "--json"]).output)["sequenced_size"]
    runner.invoke(app, ["log", "append", str(_entries(tmp_path / "e.jsonl", ["a"]))])

    duplicate = runner.invoke(
        app, ["log", "append", str(_entries(tmp_path / "d.jsonl", ["b", "a"])), "--json"]
    )
    assert duplicate.exit_code == 1
    assert json.loads(duplicate.stderr)["error"]["code"] == "duplicate_entry"

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"v": 1}\n', encoding="utf-8")
    invalid = runner.invoke(app, ["log", "append", str(bad)])
    assert invalid.exit_code == 1
    assert "error [invalid_entry]: line 1:" in invalid.stderr

    not_yet = runner.invoke(app, ["log", "prove", str(n)])
    assert not_yet.exit_code == 1
    assert "tree_size_out_of_range" in not_yet.stderr

    status = json.loads(runner.invoke(app, ["log", "status", "--json"]).output)
    assert status["sequenced_size"] == n + 1  # neither failed append wrote anything


def test_usage_errors_exit_2(data_dir: Path) -> None:
    assert runner.invoke(app, ["log", "prove", "-1"]).exit_code == 2
    assert runner.invoke(app, ["nonsense"]).exit_code == 2


def test_a_lost_log_key_is_not_silently_replaced(data_dir: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["init", "--no-chain"])
    runner.invoke(app, ["log", "append", str(_entries(tmp_path / "e.jsonl", ["a"]))])
    assert runner.invoke(app, ["log", "checkpoint"]).exit_code == 0
    (data_dir / "log-signer.key").unlink()
    again = runner.invoke(app, ["init", "--no-chain"])
    assert again.exit_code == 1
    assert "error [invalid_configuration]: no log key at" in again.stderr
    assert not (data_dir / "log-signer.key").exists()
