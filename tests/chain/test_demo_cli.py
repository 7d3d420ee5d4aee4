"""``ledger demo`` through Typer's runner, on both databases and a real anvil: the demo's
units, principals (keys in a 0600 file, never printed), the six candidates at their
outcomes in the views and on chain, the six grants active, all relayed and anchored;
and a second load refused with ``demo_loaded``, writing nothing."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from eth_account import Account
from typer.testing import CliRunner
from web3 import Web3
from web3.types import RPCEndpoint

from ledger import demo
from ledger.chain import vetting as v
from ledger.chain.client import Chain, load_or_create_keystore
from ledger.chain.node import Anvil
from ledger.cli import app
from ledger.config import Settings
from ledger.context import ChainDomain, Context
from ledger.runtime import Ledger
from ledger.sharing import service as sharing
from ledger.store.models import chain_deployments
from ledger.units.service import authenticate
from ledger.vetting import service as vetting

runner = CliRunner()


@pytest.fixture
def settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, anvil: Anvil, database_url: str
) -> Settings:
    """The environment ``ledger demo`` runs in: a fresh data dir and database, the anvil,
    and the operator's keystore there, funded (on a real chain it is not made for us)."""
    for name in (
        "LEDGER_LOG_KEY_FILE",
        "LEDGER_MASTER_KEY",
        "LEDGER_MASTER_KEY_FILE",
        "LEDGER_CHAIN_KEY_FILE",
        "LEDGER_CHAIN_KEY_PASSWORD_FILE",
        "LEDGER_ENV",
        "LEDGER_CONFIRMATIONS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEDGER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("LEDGER_CHAIN_URL", anvil.url)
    settings = Settings.from_env()
    account = load_or_create_keystore(settings.chain_key_file, settings.chain_key_password_file)
    Web3(Web3.HTTPProvider(anvil.url)).provider.make_request(
        RPCEndpoint("anvil_setBalance"), [account.address, hex(10**20)]
    )
    return settings


def _counts(settings: Settings) -> dict[str, int]:
    engine = sa.create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return {
                t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in ("log_leaves", "units", "principals", "chain_outbox", "chain_relays")
            }
    finally:
        engine.dispose()


def test_demo_loads_once_through_the_services_and_lands_on_chain(
    settings: Settings, anvil: Anvil
) -> None:
    started = datetime.now(UTC)
    loaded = runner.invoke(app, ["demo"])
    assert loaded.exit_code == 0, loaded.output + loaded.stderr
    keys_file = settings.data_dir / "demo-keys.json"
    assert str(keys_file) in loaded.stdout
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    keys: dict[str, str] = json.loads(keys_file.read_text(encoding="utf-8"))
    assert set(keys) == set(demo.PRINCIPALS)
    for secret in [*keys.values(), *demo.PERSONAL_STRINGS]:
        assert secret not in loaded.stdout + loaded.stderr  # the keys stay in their file

    ledger = Ledger.open(settings, create=False)
    try:
        with ledger.engine.connect() as conn:
            rows = {r.contract: r for r in conn.execute(sa.select(chain_deployments))}
            domain = ChainDomain(
                int(rows["VettingRegistry"].chain_id),
                rows["VettingRegistry"].address,
                rows["GrantRegistry"].address,
            )
            now = datetime.now(UTC)

            def as_(who: str) -> Context:
                return Context(conn, authenticate(conn, keys[who]), now, ledger.master, domain)

            lead = vetting.list_candidates(as_("org_admin"), round_code=demo.ROUND_CODE)
            grants = sharing.list_grants(as_("auditor"), dataset=None, after=None, limit=100)
            round_ = vetting.get_round(as_("auditor"), demo.ROUND_CODE)
        size = ledger.log.size()
    finally:
        ledger.close()

    # The six candidates at their outcomes, as the lead department sees them.
    by_village = {c.village: c for c in lead}
    assert {k: by_village[c.village].outcome for k, c in demo.DEMO_CANDIDATES.items()} == {
        "C1": "PASSED",
        "C2": "PASSED",
        "C3": "DEFERRED",
        "C4": "PASSED",
        "C5": "FAILED",
        "C6": "RETURNED",
    }
    c5 = by_village["DEMO-MAXIN"]
    (ga,) = [d for d in c5.decisions if d.unit == "GA"]
    assert (ga.verdict, ga.clause_codes, ga.note) == ("RECORD_FOUND", ["N2"], demo.GA_NOTE)
    assert by_village["DEMO-SANAN"].return_note == demo.RETURN_NOTE
    c3 = by_village["DEMO-MENGLING"]
    assert c3.deferred_until is not None and c3.person is not None
    assert c3.person.name == demo.DEMO_CANDIDATES["C3"].person["name"]
    # Its dates moved to the load's: the election 100 days on, the acts at the real time.
    assert round_.election_day == (started + timedelta(days=100)).date()
    assert started <= datetime.fromisoformat(c3.created_at) <= now

    # The six grants, each window starting on the day of the load and active now.
    assert len(grants) == 6
    assert {g.status(now).value for g in grants} == {"ACTIVE"}
    assert {(g.dataset, g.grantee) for g in grants} == {
        (g.dataset, g.requester) for g in demo.DEMO_GRANTS.values()
    }
    today = started.replace(hour=0, minute=0, second=0, microsecond=0)
    assert {g.valid_from for g in grants} == {today}

    # On chain: every candidate's stage and outcome, every grant, the log's anchor.
    chain = Chain(Web3(Web3.HTTPProvider(anvil.url)), Account.create())
    registry = chain.contract("VettingRegistry", domain.vetting)
    for c in lead:
        state = registry.functions.candidate(bytes.fromhex(c.chain_id[2:])).call()
        assert c.stage is not None
        assert (v.Stage(state[2]).name, v.Outcome(state[3]).name) == (c.stage, c.outcome)
    on_chain = chain.contract("GrantRegistry", domain.grants)
    for g in grants:
        assert on_chain.functions.isActive(
            bytes.fromhex(g.grant_id[2:]), int(now.timestamp())
        ).call()
    anchor = chain.contract("LogAnchor", rows["LogAnchor"].address)
    assert [e["args"]["treeSize"] for e in anchor.events.Anchored.get_logs(from_block=0)] == [size]

    # Twice: refused, and nothing written.
    before = _counts(settings)
    again = runner.invoke(app, ["demo", "--json"])
    assert again.exit_code == 1
    assert json.loads(again.stderr)["error"]["code"] == "demo_loaded"
    assert _counts(settings) == before
    text = runner.invoke(app, ["demo"])
    assert text.exit_code == 1 and "error [demo_loaded]" in text.stderr
