"""The API under test: the real app on a real database (SQLite or PostgreSQL) and a real
EVM (eth-tester, in process), with the clock in the test's hands.

``ApiEnv`` wraps a TestClient with what the tests keep doing: calling as a principal,
relaying the outbox to the chain, signing and anchoring, moving the clock, and counting
every table's rows (a refused request must leave them all unchanged).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ledger import demo
from ledger.chain.relayer import RelayReport
from ledger.chain.session import ChainSession
from ledger.context import Context
from ledger.runtime import Ledger
from ledger.store.domain import DOMAIN_TABLES
from ledger.store.models import APPEND_ONLY_TABLES
from ledger.units import service as units_service
from ledger.units.service import PLATFORM_UNIT, bootstrap

#: Every table a request could write to.
ALL_TABLES = (*APPEND_ONLY_TABLES, *DOMAIN_TABLES, "log_counters", "chain_relays")

#: The demo's principals: name -> (unit, role). Names are how tests call as someone.
DEMO_PRINCIPALS: dict[str, tuple[str, str]] = {
    "org_admin": ("ORG", "lead_org_admin"),
    "auditor": ("JW", "auditor"),
    "requester_org": ("ORG", "requester"),
    "requester_mz": ("MZ", "requester"),
    "requester_swd": ("SWD", "requester"),
    "requester_jingxin": ("222404101", "requester"),
    **{f"clerk_{code}": (code, "village_clerk") for code in demo.VILLAGES},
    **{f"sec_{code}": (code, "village_party_sec") for code in demo.VILLAGES},
    **{
        f"reviewer_{code}": (code, "township_reviewer")
        for code in {township for _, township in demo.VILLAGES.values()}
    },
    **{f"handler_{code}": (code, "unit_handler") for code in demo.DEPARTMENTS},
    **{
        f"approver_{code}": (code, "provider_approver")
        for code in ("GA", "FY", "TY", "WJ", "RS", "MZ", "SZ")
    },
}


@dataclass
class ApiEnv:
    client: TestClient
    admin_token: str
    now: datetime
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def ledger(self) -> Ledger:
        ledger: Ledger = self.client.app.state.ledger  # type: ignore[attr-defined]
        return ledger

    @property
    def session(self) -> ChainSession:
        session: ChainSession = self.client.app.state.chain  # type: ignore[attr-defined]
        return session

    # ---- calling ----------------------------------------------------------------------

    def headers(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        token = self.admin_token if who == "admin" else self.tokens.get(who, who)
        return {"Authorization": f"Bearer {token}"}

    def get(self, path: str, who: str | None = "admin", **kw: Any) -> httpx.Response:
        return self.client.get(path, headers=self.headers(who), **kw)

    def post(
        self, path: str, body: Any = None, who: str | None = "admin", **kw: Any
    ) -> httpx.Response:
        return self.client.post(path, json=body, headers=self.headers(who), **kw)

    def ok(self, response: httpx.Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    # ---- time, chain, log ---------------------------------------------------------------

    def set_time(self, when: datetime) -> None:
        self.now = when.astimezone(UTC)
        self.client.app.state.clock = lambda: self.now  # type: ignore[attr-defined]

    def relay(self) -> RelayReport:
        """Send the outbox to the chain, as the background loop does every interval."""
        return self.session.relayer.relay_outbox()

    def anchor(self) -> None:
        """Integrate, sign and anchor everything written so far."""
        self.ledger.checkpoint()
        self.session.anchorer.anchor_latest()

    def row_counts(self) -> dict[str, int]:
        with self.ledger.engine.connect() as conn:
            return {
                t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in ALL_TABLES
            }

    @contextlib.contextmanager
    def unchanged(self) -> Iterator[None]:
        """Assert that the block writes nothing to any table."""
        before = self.row_counts()
        yield
        assert self.row_counts() == before

    # ---- the demo city ------------------------------------------------------------------

    def load_demo_units(self) -> None:
        """Register the demo's townships, villages and departments, and their principals.

        Through the services in one transaction (the HTTP path for units and principals
        has its own tests): a hundred commits per test would dominate the suite's time.
        """
        app = self.client.app
        with self.ledger.engine.begin() as conn:
            ctx = Context(
                conn,
                units_service.authenticate(conn, self.admin_token),
                self.now,
                self.ledger.master,
                app.state.chain_domain,  # type: ignore[attr-defined]
            )
            units = [(code, name, "township", None) for code, name in demo.TOWNSHIPS.items()]
            units += [(code, name, "village", t) for code, (name, t) in demo.VILLAGES.items()]
            units += [(code, name, "county", None) for code, name in demo.DEPARTMENTS.items()]
            for code, name, level, parent in units:
                units_service.register_unit(ctx, code=code, name=name, level=level, parent=parent)
            for who, (unit, role) in DEMO_PRINCIPALS.items():
                issued = units_service.create_principal(ctx, unit=unit, role=role, label=who)
                self.tokens[who] = issued.token

    def add_principal(self, unit: str, role: str, *, label: str = "test") -> str:
        issued = self.ok(
            self.post("/v1/principals", {"unit": unit, "role": role, "label": label}), 201
        )
        token: str = issued["api_key"]
        return token


def bootstrap_admin(ledger: Ledger, now: datetime) -> str:
    with ledger.engine.begin() as conn:
        issued = bootstrap(conn, ledger.master, now=now)
    assert issued is not None
    return issued.token


def chain_opener(session_factory: Any) -> Any:
    """An opener for ``create_app(chain=...)`` around an already connected session."""

    @contextlib.contextmanager
    def open_(ledger: Ledger) -> Iterator[ChainSession]:
        yield session_factory(ledger)

    return open_


def error_code(response: httpx.Response) -> str:
    body: Mapping[str, Any] = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    code: str = body["error"]["code"]
    return code


PLATFORM = PLATFORM_UNIT[0]
