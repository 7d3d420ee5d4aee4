"""What a service call needs besides its arguments: the transaction, the caller, the time,
the master key, and the chain whose contracts the units' signatures are for.

Time is an input (STYLE.md principle 6): the API passes its clock's reading, tests
pass the demo's dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from ledger.auth import Caller
from ledger.errors import UnavailableError
from ledger.sealing import MasterKey


@dataclass(frozen=True)
class ChainDomain:
    """The EIP-712 domains units sign for: the chain id and the registries' addresses."""

    chain_id: int
    vetting: str
    grants: str


@dataclass(frozen=True)
class Context:
    conn: Connection
    caller: Caller
    now: datetime
    master: MasterKey
    # None when no chain is connected: everything but signing still works.
    chain: ChainDomain | None

    def signing_domain(self) -> ChainDomain:
        """The registries' EIP-712 domains, for a unit's signature; 503 without a chain."""
        if self.chain is None:
            raise UnavailableError(
                "no chain is connected: signed decisions and grants cannot be made now"
            )
        return self.chain
