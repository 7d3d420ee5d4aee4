"""Errors raised by proof verification."""

from __future__ import annotations

from ledger.errors import InvalidInputError


class ProofError(InvalidInputError):
    """A proof is malformed for the sizes it claims (wrong length, bad index, ...)."""

    code = "invalid_proof"


class RootMismatchError(ProofError):
    """A well-formed proof leads to a root other than the expected one.

    ``calculated_root`` is what the proof computes, ``expected_root`` what the
    caller trusted; both are kept as evidence.
    """

    code = "root_mismatch"

    def __init__(self, calculated_root: bytes, expected_root: bytes) -> None:
        super().__init__(
            f"calculated root {calculated_root.hex()}, want {expected_root.hex()}",
            calculated_root=calculated_root,
            expected_root=expected_root,
        )
        self.calculated_root = calculated_root
        self.expected_root = expected_root
