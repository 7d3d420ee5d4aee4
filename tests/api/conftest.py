"""API fixtures: ``api`` is the app on both databases and eth-tester, with a platform
administrator; ``city`` adds the demo's units and principals (DOMAIN.md §7)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.chain.client import Chain
from ledger.chain.session import session_on
from ledger.config import Settings
from ledger.runtime import Ledger
from tests.api.env import ApiEnv, bootstrap_admin, chain_opener

#: The demo's "today": inside the joint review of the 2026 round.
DEMO_NOW = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    base = Settings.from_env({"LEDGER_DATA_DIR": str(tmp_path / "var")})
    return dataclasses.replace(base, database_url=database_url)


@pytest.fixture
def api(settings: Settings, tester_chain: Chain) -> Iterator[ApiEnv]:
    def session(ledger: Ledger):  # type: ignore[no-untyped-def]
        return session_on(
            tester_chain,
            ledger.engine,
            settings,
            ledger.signer.verifier(),
            url="eth-tester",
            confirmations=0,
        )

    app = create_app(
        settings,
        checkpoint_in_background=False,
        chain=chain_opener(session),
        clock=lambda: DEMO_NOW,
    )
    with TestClient(app) as client:
        ledger: Ledger = client.app.state.ledger  # type: ignore[attr-defined]
        env = ApiEnv(client, bootstrap_admin(ledger, DEMO_NOW), DEMO_NOW)
        env.set_time(DEMO_NOW)
        yield env


@pytest.fixture
def city(api: ApiEnv) -> ApiEnv:
    api.load_demo_units()
    return api
