"""The FastAPI application: routers, the error handlers, and the background checkpointer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from api import errors
from api.routers import health, log
from ledger import __version__
from ledger.chain.anchorer import Anchorer
from ledger.chain.session import open_chain
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.runtime import Ledger

logger = logging.getLogger("civic_ledger.checkpointer")


def create_app(
    settings: Settings | None = None, *, checkpoint_in_background: bool = True
) -> FastAPI:
    """The API over the ledger ``settings`` name (the environment's by default)."""
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ledger = await asyncio.to_thread(Ledger.open, settings)
        app.state.ledger = ledger
        task = None
        with contextlib.ExitStack() as stack:
            if checkpoint_in_background:
                session = await asyncio.to_thread(
                    stack.enter_context,
                    open_chain(settings, ledger.engine, ledger.signer.verifier()),
                )
                app.state.chain = session
                task = asyncio.create_task(
                    _checkpoint_loop(ledger, session.anchorer, settings.anchor_interval)
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
    errors.install(app)
    app.include_router(health.router)
    app.include_router(log.router)
    return app


async def _checkpoint_loop(ledger: Ledger, anchorer: Anchorer, interval: float) -> None:
    """Every ``interval`` seconds: sign a checkpoint if the log grew, and anchor it."""
    reported: tuple[int, str] | None = None
    while True:
        try:
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
