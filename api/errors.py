"""One error shape for every failure: ``{"error": {"code": ..., "message": ...}}``.

Handlers turn every :class:`ledger.errors.LedgerError` (and FastAPI's own
validation errors) into that shape with a fitting status; nothing else in the
API builds an error response.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.auth import ForbiddenError, UnauthenticatedError
from ledger.chain.vetting import VettingRuleError
from ledger.errors import (
    ConflictError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    UnavailableError,
)
from ledger.log import LogCorruptionError
from ledger.receipts import NotAnchoredError, RecordNotFoundError

__all__ = ["NotFoundError", "error_response", "install"]

log = logging.getLogger("civic_ledger.api")

# Most specific first: the first class an error is an instance of decides its status.
_STATUS: tuple[tuple[type[LedgerError], int], ...] = (
    (UnauthenticatedError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (RecordNotFoundError, 404),
    (ConflictError, 409),
    (NotAnchoredError, 409),
    (VettingRuleError, 409),
    (InvalidInputError, 400),
    (UnavailableError, 503),
)


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _status(exc: LedgerError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def _ledger_error(_request: Request, exc: LedgerError) -> JSONResponse:
        if isinstance(exc, LogCorruptionError):
            # The operator must see the evidence; the caller gets the code.
            log.error("log corruption: %s", exc.diagnostics())
        status = _status(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return error_response(status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        # Our bug or an outage, never the caller's: the details go to the log only.
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "an internal error occurred")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
        return error_response(exc.status_code, code, str(exc.detail))
