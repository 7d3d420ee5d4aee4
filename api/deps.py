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
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine

from ledger import journal
from ledger.auth import Caller, Capability, UnauthenticatedError
from ledger.context import ChainDomain, Context
from ledger.journal import GroupCommit
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

    group: GroupCommit | None = None
    slots: ConnectionSlots | None = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Context]:
        """One database transaction: committed when the block ends, rolled back on error.
        A service that must sign asks the context for the chain (503 without one)."""
        with _slot(self.slots), self.ledger.engine.begin() as conn:
            yield Context(conn, self.caller, self.now, self.ledger.master, self.chain)

    def commit(self, batch: journal.Batch) -> list[journal.Written]:
        """Log a prepared batch by group commit (:class:`ledger.journal.GroupCommit`): in a
        transaction shared with concurrent requests; returns once it is committed."""
        group = self.group or journal.GroupCommit(self.ledger.engine)
        return group.write(batch)

    # Reads run in a transaction of their own too (one snapshot for a multi-query view).
    reading = transaction


class ConnectionSlots:
    """Lets at most as many requests use a database connection at once as the engine's pool
    keeps open, less one (for the group commit's leader); the others wait their turn.

    Past its size, SQLAlchemy's pool opens "overflow" connections and closes them again as
    they come back: under load (FastAPI's thread pool runs 40 requests at once, the pool
    keeps 5) a request in three opened a new PostgreSQL connection, a new server process,
    and that took more CPU than the request itself. A thread already holding a slot
    enters again freely, so nested use cannot deadlock.
    """

    def __init__(self, engine: Engine) -> None:
        size = getattr(engine.pool, "size", None)
        keep = size() if callable(size) else 0
        self._semaphore = threading.BoundedSemaphore(keep - 1) if keep > 1 else None
        self._held = threading.local()

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        depth = getattr(self._held, "depth", 0)
        if self._semaphore is None or depth:
            self._held.depth = depth + 1
            try:
                yield
            finally:
                self._held.depth = depth
            return
        with self._semaphore:
            self._held.depth = 1
            try:
                yield
            finally:
                self._held.depth = 0


def _slot(slots: ConnectionSlots | None) -> contextlib.AbstractContextManager[None]:
    return slots.hold() if slots is not None else contextlib.nullcontext()


@contextlib.contextmanager
def _reading_connection(ledger: Ledger) -> Iterator[Connection]:
    """A connection for a read of a statement or two that need no transaction: on
    PostgreSQL in autocommit, which spares a BEGIN and a ROLLBACK (two round trips) a
    request."""
    with ledger.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


@dataclass(frozen=True)
class _Shared:
    """What the requests of one app share for its ledger."""

    ledger: Ledger
    group: GroupCommit
    slots: ConnectionSlots


_shared_lock = threading.Lock()


def _shared(request: Request, ledger: Ledger) -> _Shared:
    """The app's group commit and connection slots for its ledger (made at first use)."""
    state = request.app.state
    shared: _Shared | None = getattr(state, "request_shared", None)
    if shared is None or shared.ledger is not ledger:
        with _shared_lock:
            shared = getattr(state, "request_shared", None)
            if shared is None or shared.ledger is not ledger:
                shared = _Shared(ledger, GroupCommit(ledger.engine), ConnectionSlots(ledger.engine))
                state.request_shared = shared
    return shared


def _authorize(capability: Capability) -> Callable[..., Service]:
    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Service:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise UnauthenticatedError("an API key is required: Authorization: Bearer <key>")
        ledger = get_ledger(request)
        shared = _shared(request, ledger)
        with shared.slots.hold(), _reading_connection(ledger) as conn:
            caller = authenticate(conn, credentials.credentials)
        caller.require(capability)
        clock: Callable[[], datetime] = request.app.state.clock
        return Service(
            ledger,
            caller,
            clock().astimezone(UTC),
            request.app.state.chain_domain,
            shared.group,
            shared.slots,
        )

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
