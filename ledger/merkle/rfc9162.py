"""The RFC 9162 §2.1.1 hasher: SHA-256 with domain separation of leaves and nodes.

    MTH({})       = HASH()
    leaf hash     = HASH(0x00 || leaf_data)
    interior node = HASH(0x01 || left || right)

The hash function is a parameter (:class:`Hasher`), as in transparency-dev/merkle;
:data:`SHA256` is the one civic-ledger uses. The module-level functions are the
SHA-256 hasher's, for hot paths that cannot afford a method call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LEAF_HASH_PREFIX = b"\x00"
"""Prefix of a leaf hash's input (RFC 9162 §2.1.1)."""
NODE_HASH_PREFIX = b"\x01"
"""Prefix of an interior node hash's input (RFC 9162 §2.1.1)."""
HASH_SIZE = 32
"""Size in bytes of a SHA-256 digest."""

_sha256 = hashlib.sha256


def hash_leaf(leaf_data: bytes) -> bytes:
    """SHA-256(0x00 || leaf_data)."""
    return _sha256(LEAF_HASH_PREFIX + leaf_data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(NODE_HASH_PREFIX + left + right).digest()


def empty_root() -> bytes:
    """The root of the empty tree, SHA-256 of the empty string."""
    return _sha256(b"").digest()


@dataclass(frozen=True)
class Hasher:
    """An RFC 9162 tree hasher over any hashlib-style hash constructor."""

    new: Callable[..., Any]
    size: int

    def empty_root(self) -> bytes:
        return bytes(self.new(b"").digest())

    def hash_leaf(self, leaf_data: bytes) -> bytes:
        return bytes(self.new(LEAF_HASH_PREFIX + leaf_data).digest())

    def hash_children(self, left: bytes, right: bytes) -> bytes:
        return bytes(self.new(NODE_HASH_PREFIX + left + right).digest())


SHA256 = Hasher(hashlib.sha256, HASH_SIZE)
"""The SHA-256 hasher of RFC 9162 (and of RFC 6962 before it)."""
