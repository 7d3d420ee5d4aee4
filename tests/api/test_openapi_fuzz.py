"""Schemathesis against the app's own OpenAPI document, with authenticated requests.

The real app is served by uvicorn on loopback (SQLite, an eth-tester chain, the demo
city), and schemathesis generates requests for every operation from /openapi.json:
valid ones and broken ones. Whatever it sends, the service must never answer 5xx, and
every response must match the document (status code, content type, body schema).
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis import checks

from api.main import create_app
from ledger.chain.client import Chain
from ledger.chain.session import session_on
from ledger.config import Settings
from ledger.runtime import Ledger
from tests.api.conftest import DEMO_NOW
from tests.api.env import ApiEnv, bootstrap_admin, chain_opener

#: Who schemathesis calls as: the platform administrator and a few domain roles, so
#: operations run past their authorisation check into validation and the services.
ROLES = ("admin", "org_admin", "clerk_DEMO-FANGCHUAN", "approver_GA", "auditor")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Served:
    url: str
    env: ApiEnv


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from eth_account import Account
    from eth_tester import EthereumTester, PyEVMBackend
    from fastapi.testclient import TestClient
    from web3 import EthereumTesterProvider, Web3

    tmp: Path = tmp_path_factory.mktemp("fuzz")
    settings_ = Settings.from_env({"LEDGER_DATA_DIR": str(tmp / "var")})
    w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
    account = Account.create()
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction(
            {"from": w3.eth.accounts[0], "to": account.address, "value": 10**20}
        )
    )
    chain = Chain(w3, account)

    def session(ledger: Ledger) -> Any:
        return session_on(
            chain,
            ledger.engine,
            settings_,
            ledger.signer.verifier(),
            url="eth-tester",
            confirmations=0,
        )

    app = create_app(
        settings_,
        checkpoint_in_background=False,
        chain=chain_opener(session),
        clock=lambda: DEMO_NOW,
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        ledger: Ledger = app.state.ledger
        # The TestClient only borrows the running app's state to set up the demo city.
        env = ApiEnv(TestClient(app), bootstrap_admin(ledger, DEMO_NOW), DEMO_NOW)
        env.load_demo_units()
        yield Served(f"http://127.0.0.1:{port}", env)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# The document is the app's own (building the app touches no database); the requests go
# to the served instance. (schemathesis.pytest.from_fixture fails under pytest 9.)
schema = schemathesis.openapi.from_dict(
    create_app(Settings.from_env({}), checkpoint_in_background=False).openapi()
)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_5xx_and_every_response_matches_the_document(
    case: schemathesis.Case, served: Served
) -> None:
    for role in ROLES:
        case.call_and_validate(
            base_url=served.url,
            headers=served.env.headers(role),
            checks=[
                checks.not_a_server_error,
                checks.status_code_conformance,
                checks.content_type_conformance,
                checks.response_schema_conformance,
            ],
        )


def test_the_document_is_complete(served: Served) -> None:
    """The bearer scheme is declared, every operation has a summary and a documented
    success response, and the docs page is served."""
    import httpx2 as httpx

    doc = httpx.get(f"{served.url}/openapi.json").json()
    assert doc["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            assert op.get("summary") or op.get("description"), f"{method} {path}: no summary"
            assert any(code.startswith("2") for code in op["responses"]), f"{method} {path}"
    assert httpx.get(f"{served.url}/docs").status_code == 200
