"""Dependencies shared by the routers: the ledger, and authorisation declared once per
capability.

An endpoint names the capability it needs by its parameter's type::

    def create_record(body: RecordCreate, svc: WriteRecords) -> ...

``WriteRecords = authorized(Capability.WRITE_RECORDS)`` authenticates the bearer token,
checks the caller's role holds the capability (401/403 otherwise) and hands the handler
a :class:`Service`: the caller, the time of the request, and a way to run one
transaction as a :class:`ledger.context.Context`.
Jurisdiction (which units' data) depends on the data, so services check it with
``ctx.caller.require_covers(...)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger.auth import Caller, Capability, UnauthenticatedError
from ledger.context import ChainDomain, Context
from ledger.errors import UnavailableError
from ledger.runtime import Ledger
from ledger.units.service import authenticate


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key `cl_<id>_<secret>`, bound to a principal (a unit and a role).",
)


@dataclass(frozen=True)
class Service:
    """One authorised request: who calls, when, and the ledger to act on."""

    ledger: Ledger
    caller: Caller
    now: datetime
    chain: ChainDomain | None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Context]:
        """One database transaction: committed when the block ends, rolled back on error."""
        if self.chain is None:
            raise UnavailableError(
                "no chain is connected: signed decisions and grants cannot be made now",
            )
        with self.ledger.engine.begin() as conn:
            yield Context(conn, self.caller, self.now, self.ledger.master, self.chain)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Context]:
        """A read-only view (no signing needed, so no chain required)."""
        chain = self.chain or ChainDomain(0, "0x" + "00" * 20, "0x" + "00" * 20)
        with self.ledger.engine.begin() as conn:
            yield Context(conn, self.caller, self.now, self.ledger.master, chain)


def _authorize(capability: Capability) -> Callable[..., Service]:
    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Service:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise UnauthenticatedError("an API key is required: Authorization: Bearer <key>")
        ledger = get_ledger(request)
        with ledger.engine.connect() as conn:
            caller = authenticate(conn, credentials.credentials)
        caller.require(capability)
        clock: Callable[[], datetime] = request.app.state.clock
        return Service(ledger, caller, clock().astimezone(UTC), request.app.state.chain_domain)

    dependency.__name__ = f"authorize_{capability.name.lower()}"
    return dependency


def authorized(capability: Capability) -> Any:
    """``Annotated[Service, ...]`` for a caller holding ``capability``."""
    return Annotated[Service, Depends(_authorize(capability))]


# One alias per capability: an endpoint's parameter type says what it needs.
ManageUnits = authorized(Capability.MANAGE_UNITS)
ReadUnits = authorized(Capability.READ_UNITS)
ManagePrincipals = authorized(Capability.MANAGE_PRINCIPALS)
WriteRecords = authorized(Capability.WRITE_RECORDS)
ReadRecords = authorized(Capability.READ_RECORDS)
EraseRecords = authorized(Capability.ERASE_RECORDS)
ManageRounds = authorized(Capability.MANAGE_ROUNDS)
ReadRounds = authorized(Capability.READ_ROUNDS)
RegisterCandidates = authorized(Capability.REGISTER_CANDIDATES)
ReadCandidates = authorized(Capability.READ_CANDIDATES)
DecidePreReview = authorized(Capability.DECIDE_PRE_REVIEW)
DecidePreliminaryReview = authorized(Capability.DECIDE_PRELIMINARY_REVIEW)
GiveOpinion = authorized(Capability.GIVE_OPINION)
PublishDatasets = authorized(Capability.PUBLISH_DATASETS)
ReadDatasets = authorized(Capability.READ_DATASETS)
RequestGrants = authorized(Capability.REQUEST_GRANTS)
AnswerGrants = authorized(Capability.ANSWER_GRANTS)
ReadGrants = authorized(Capability.READ_GRANTS)
ReadSharedData = authorized(Capability.READ_SHARED_DATA)
ReadAccessTrail = authorized(Capability.READ_ACCESS_TRAIL)
