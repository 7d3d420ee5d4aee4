"""The operator's context for CLI commands that act on the domain (units, keys, demo).

Whoever runs the CLI on the server holds the database and the master key, so it acts
as the platform administrator: its records name the principal ``cli-operator``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from ledger.auth import Caller, Role
from ledger.bootstrap import initialise
from ledger.config import Settings
from ledger.context import ChainDomain, Context
from ledger.runtime import Ledger
from ledger.store.models import chain_deployments
from ledger.units.service import PLATFORM_UNIT

OPERATOR = "cli-operator"


@contextlib.contextmanager
def operator_context(settings: Settings) -> Iterator[tuple[Ledger, Context]]:
    """The ledger and one transaction acting as the platform administrator."""
    ledger = Ledger.open(settings)
    try:
        initialise(ledger)
        with ledger.engine.begin() as conn:
            caller = Caller(OPERATOR, PLATFORM_UNIT[0], Role.PLATFORM_ADMIN, "cli", None)
            yield ledger, Context(conn, caller, datetime.now(UTC), ledger.master, _domain(conn))
    finally:
        ledger.close()


def _domain(conn: Connection) -> ChainDomain | None:
    """The registries this database deployed (None before the first deployment)."""
    # One chain per database in practice; were there several, the last row read wins.
    rows = {r.contract: r for r in conn.execute(select(chain_deployments)).all()}
    vetting, grants = rows.get("VettingRegistry"), rows.get("GrantRegistry")
    if vetting is None or grants is None:
        return None
    return ChainDomain(int(vetting.chain_id), vetting.address, grants.address)
