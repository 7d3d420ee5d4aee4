"""The FastAPI application: routers, the error handlers, and the background checkpointer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from fastapi import FastAPI

from api import errors
from api.limits import BodySizeLimit
from api.routers import health, log, records, sharing, units, vetting
from ledger import __version__
from ledger.chain.deploy import GRANT_REGISTRY, VETTING_REGISTRY
from ledger.chain.session import ChainSession, open_chain
from ledger.config import Settings
from ledger.context import ChainDomain
from ledger.errors import LedgerError
from ledger.runtime import Ledger

ChainOpener = Callable[[Ledger], AbstractContextManager[ChainSession]]

logger = logging.getLogger("civic_ledger.checkpointer")


def create_app(
    settings: Settings | None = None,
    *,
    checkpoint_in_background: bool = True,
    chain: ChainOpener | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The API over the ledger ``settings`` name (the environment's by default).

    With ``checkpoint_in_background`` the service opens its chain (``chain``, else the
    configured one) and signs, anchors and relays every ``LEDGER_ANCHOR_INTERVAL``
    seconds. Without it, it opens ``chain`` if given and leaves those steps to the caller
    (tests, ``ledger anchor``); with neither, requests that need signatures get a 503.
    ``clock`` gives the time of each request (tests pass the demo's dates).
    """
    settings = settings or Settings.from_env()

    def default_chain(ledger: Ledger) -> AbstractContextManager[ChainSession]:
        return open_chain(settings, ledger.engine, ledger.signer.verifier())

    opener = chain or (default_chain if checkpoint_in_background else None)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ledger = await asyncio.to_thread(Ledger.open, settings)
        app.state.ledger = ledger
        app.state.chain = None
        app.state.chain_domain = None
        task = None
        with contextlib.ExitStack() as stack:
            if opener is not None:
                session = await asyncio.to_thread(stack.enter_context, opener(ledger))
                app.state.chain = session
                app.state.chain_domain = chain_domain(session)
            if checkpoint_in_background and app.state.chain is not None:
                task = asyncio.create_task(
                    _background_loop(ledger, app.state.chain, settings.anchor_interval)
                )
            try:
                yield
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                ledger.close()

    app = FastAPI(
        title="civic-ledger",
        version=__version__,
        description="A verifiable, chain-anchored ledger of grassroots governance records.",
        lifespan=lifespan,
    )
    app.state.clock = clock or (lambda: datetime.now(UTC))
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    errors.install(app)
    for module in (health, log, units, records, vetting, sharing):
        app.include_router(module.router)
    return app


def chain_domain(session: ChainSession) -> ChainDomain:
    """The EIP-712 domains of the session's registries."""
    return ChainDomain(
        chain_id=session.chain.chain_id,
        vetting=session.contracts.deployments[VETTING_REGISTRY].address,
        grants=session.contracts.deployments[GRANT_REGISTRY].address,
    )


async def _background_loop(ledger: Ledger, session: ChainSession, interval: float) -> None:
    """Every ``interval`` seconds: relay the outbox, sign a checkpoint if the log grew,
    and anchor it."""
    anchorer = session.anchorer
    reported: tuple[int, str] | None = None
    while True:
        try:
            report = await asyncio.to_thread(session.relayer.relay_outbox)
            if report.landed or report.failed:
                logger.info(
                    "relayed %d messages, %d refused", len(report.landed), len(report.failed)
                )
            latest = await asyncio.to_thread(ledger.log.latest_checkpoint)
            sequenced = await asyncio.to_thread(ledger.log.sequenced_size)
            if latest is None or latest.checkpoint.size < sequenced:
                signed = await asyncio.to_thread(ledger.checkpoint)
                logger.info("signed checkpoint at tree size %d", signed.checkpoint.size)
            record = await asyncio.to_thread(anchorer.anchor_latest)
            if record is not None and (record.tree_size, record.status) != reported:
                reported = (record.tree_size, record.status)
                logger.info("tree size %d anchored (%s)", record.tree_size, record.status)
        except LedgerError as exc:
            # Refusing to sign is the point of verify-before-sign: say so loudly, keep serving.
            logger.error("checkpoint refused: %s", exc.diagnostics())
        except Exception:
            # A node that times out or a database that hiccups must not stop anchoring for
            # good: log it with its traceback and try again next interval.
            logger.exception("checkpoint or anchor failed; retrying in %s s", interval)
        await asyncio.sleep(interval)
