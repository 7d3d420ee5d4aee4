"""``ledger init`` (the administrator), ``ledger units`` and ``ledger keys`` on the
embedded default database, through Typer's runner."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.cli import app
from ledger.config import Settings
from ledger.runtime import Ledger
from ledger.units.service import authenticate

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path / "var"))
    for name in ("LEDGER_DATABASE_URL", "LEDGER_LOG_KEY_FILE", "LEDGER_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "var"


def _json(args: list[str]) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.output)
    return out


def test_init_creates_the_administrator_once_and_keeps_its_key_private(data_dir: Path) -> None:
    first = _json(["init", "--no-chain"])
    key = str(first["admin_api_key"])
    key_file = Path(str(first["admin_key_file"]))
    assert key_file == data_dir / "admin-api-key"
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "master.key").stat().st_mode) == 0o600
    ledger = Ledger.open(Settings.from_env(), create=False)
    try:
        with ledger.engine.connect() as conn:
            caller = authenticate(conn, key)
        assert (caller.unit_code, caller.role.value) == ("SZ", "platform_admin")
    finally:
        ledger.close()
    again = _json(["init", "--no-chain"])
    assert again["admin_api_key"] is None  # shown once, never again
    assert key_file.read_text().strip() == key


def test_units_and_keys(data_dir: Path) -> None:
    _json(["init", "--no-chain"])
    _json(["units", "add", "222404101", "敬信镇", "--level", "township"])
    village = _json(
        ["units", "add", "DEMO-FANGCHUAN", "防川村", "--level", "village", "--parent", "222404101"]
    )
    assert village["parent"] == "222404101"
    listed = runner.invoke(app, ["units", "list", "--json"])
    codes = [u["code"] for u in json.loads(listed.output)]
    assert codes == ["222404101", "DEMO-FANGCHUAN", "SZ"]

    made = _json(["keys", "create", "DEMO-FANGCHUAN", "village_clerk", "--label", "clerk 1"])
    assert str(made["api_key"]).startswith("cl_")
    revoked = _json(["keys", "revoke", str(made["key_id"])])
    assert revoked["key_id"] == made["key_id"]

    again = runner.invoke(app, ["keys", "revoke", str(made["key_id"]), "--json"])
    assert again.exit_code == 1
    assert json.loads(again.stderr)["error"]["code"] == "conflict"
    bad = runner.invoke(app, ["units", "add", "X1", "x", "--level", "province"])
    assert bad.exit_code == 1 and "level 'province'" in bad.stderr
    wrong_role = runner.invoke(app, ["keys", "create", "222404101", "village_clerk"])
    assert wrong_role.exit_code == 1 and "invalid_input" in wrong_role.stderr


def test_production_refuses_to_start_without_a_master_key(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_ENV", "production")
    result = runner.invoke(app, ["init", "--no-chain"])
    assert result.exit_code == 1
    assert "LEDGER_MASTER_KEY is required" in result.stderr
    monkeypatch.setenv("LEDGER_MASTER_KEY", "A" * 43 + "=")  # base64 of 32 zero bytes
    weak = runner.invoke(app, ["init", "--no-chain"])
    assert weak.exit_code == 1 and "invalid_configuration" in weak.stderr
