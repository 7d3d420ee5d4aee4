"""The one error hierarchy of civic-ledger.

Everything raised to a caller derives from :class:`LedgerError`. Each class has a
stable, machine-readable ``code`` (the API and the CLI render it as is) and a
human message. Errors that prove misbehaviour (a root that does not match, a
tampered row) carry their evidence in :meth:`LedgerError.diagnostics`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """Base of every error civic-ledger raises on purpose."""

    code: ClassVar[str] = "ledger_error"

    def __init__(self, message: str, **evidence: Any) -> None:
        super().__init__(message)
        self.message = message
        self.evidence: dict[str, Any] = evidence

    def diagnostics(self) -> dict[str, Any]:
        """A JSON-friendly description: the code, the message and the evidence."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key, value in self.evidence.items():
            out[key] = value.hex() if isinstance(value, bytes) else value
        return out


class InvalidInputError(LedgerError):
    """The caller gave input that is malformed or out of range."""

    code = "invalid_input"


class NotFoundError(LedgerError):
    """What the caller named does not exist (or is not theirs to see)."""

    code = "not_found"


class ConflictError(LedgerError):
    """The request contradicts the stored state (a second answer, a stage out of order...)."""

    code = "conflict"


class UnavailableError(LedgerError):
    """A part the request needs (the chain, the master key) is not available now."""

    code = "unavailable"
