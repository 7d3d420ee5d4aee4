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
    chain: ChainDomain
