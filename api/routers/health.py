"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import LedgerDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(ledger: LedgerDep) -> dict[str, object]:
    """The database answers; reports the log's sizes."""
    with ledger.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ready", "tree_size": ledger.log.size()}
