"""Recovering the signer of an EIP-712 digest by the contracts' own rules (OpenZeppelin ECDSA).

eth-account alone accepts the high-s twin of a signature and v in {0, 1}; the
contracts do not (EIP-2), so the one check both registries' Python sides use
does not either.
"""

from __future__ import annotations

from typing import Final

from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature

from ledger.errors import InvalidInputError

SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N: Final = SECP256K1_N // 2


class SignatureError(InvalidInputError):
    """A signature that is malformed or not canonical (length, v, low s)."""

    code = "invalid_signature"


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The checksummed address that signed ``digest``, by OpenZeppelin ``ECDSA.recover``'s rules.

    Requires a 65-byte ``r || s || v`` with v in {27, 28}, 0 < r < n and 0 < s <= n/2.
    """
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise SignatureError("digest: want 32 bytes")
    if not isinstance(signature, bytes) or len(signature) != 65:
        got = len(signature) if isinstance(signature, bytes) else type(signature).__name__
        raise SignatureError(f"signature length: got {got}, want 65 bytes")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise SignatureError(f"signature v: got {v}, want 27 or 28")
    if not 0 < s <= SECP256K1_HALF_N:
        raise SignatureError(f"signature s: got {s:#x}, want 0 < s <= n/2 (low s)")
    if not 0 < r < SECP256K1_N:
        raise SignatureError(f"signature r: got {r:#x}, want 0 < r < n")
    try:
        public_key = Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except BadSignature as exc:  # no point on the curve for this r
        raise SignatureError(f"signature does not recover: {exc}") from exc
    return str(public_key.to_checksum_address())
