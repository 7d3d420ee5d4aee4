"""Node ids and compact ranges (after transparency-dev/merkle ``compact``).

A node is named by ``(level, index)``: level 0 holds the leaves, and the node
``(level, index)`` is the root of the perfect subtree over leaves
``[index << level, (index + 1) << level)``. Only such perfect nodes are ever
stored; the hash of a node on the ragged right edge of a tree ("ephemeral") is
recomputed from the perfect nodes that cover the same leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256

from ledger.merkle.rfc9162 import NODE_HASH_PREFIX, hash_children


@dataclass(frozen=True, slots=True)
class NodeID:
    """The root of a perfect subtree: ``level`` up from the leaves, ``index`` from the left."""

    level: int
    index: int

    def coverage(self) -> tuple[int, int]:
        """The leaf range ``[begin, end)`` under this node."""
        return self.index << self.level, (self.index + 1) << self.level

    def parent(self) -> NodeID:
        return NodeID(self.level + 1, self.index >> 1)

    def sibling(self) -> NodeID:
        return NodeID(self.level, self.index ^ 1)


def decompose(begin: int, end: int) -> tuple[int, int]:
    """Split ``[begin, end)`` into the bit masks of its left and right perfect subtrees.

    Returns ``(left, right)``: bit ``i`` of ``left`` is set when the range's left
    border holds a perfect subtree of ``2**i`` leaves, and likewise for ``right``.
    Requires ``0 <= begin <= end``.
    """
    if begin == 0:
        return 0, end
    xbegin = begin - 1
    # Paths to leaves begin-1 and end diverge at bit d; only the nodes strictly
    # below that point lie in the range.
    d = (xbegin ^ end).bit_length() - 1
    mask = (1 << d) - 1
    return ~xbegin & mask, end & mask


def range_nodes(begin: int, end: int) -> list[NodeID]:
    """The perfect subtrees covering ``[begin, end)``, left to right.

    Their count is at most ``max(1, 2 * log2(end - begin))``. Requires ``0 <= begin <= end``.
    """
    if not 0 <= begin <= end:
        raise ValueError(f"invalid range [{begin}, {end})")
    left, right = decompose(begin, end)
    ids: list[NodeID] = []
    pos = begin
    # Left border: from lower to upper levels.
    while left:
        level = (left & -left).bit_length() - 1
        ids.append(NodeID(level, pos >> level))
        pos += 1 << level
        left ^= 1 << level
    # Right border: from upper to lower levels.
    while right:
        level = right.bit_length() - 1
        ids.append(NodeID(level, pos >> level))
        pos += 1 << level
        right ^= 1 << level
    return ids


class CompactRange:
    """The perfect-subtree hashes of a growing prefix ``[0, size)`` of a tree.

    Holds at most one hash per level (``log2(size)`` in all), so the root of a
    tree of any size can be computed while streaming its leaf hashes once.
    """

    def __init__(self) -> None:
        self.size = 0
        self._hashes: list[bytes] = []  # left to right: largest subtree first

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash (level 0)."""
        self.append_subtree(0, leaf_hash)

    def append_subtree(self, level: int, node_hash: bytes) -> None:
        """Append the root of a perfect subtree of ``2**level`` leaves.

        Requires ``size`` to be a multiple of ``2**level`` so the subtree is
        aligned in the tree.
        """
        if self.size & ((1 << level) - 1):
            raise ValueError(f"subtree of level {level} is not aligned at size {self.size}")
        hashes = self._hashes
        size = self.size >> level
        h = node_hash
        # Merge with left siblings of the same size while the count below is odd.
        while size & 1:
            h = hash_children(hashes.pop(), h)
            size >>= 1
        hashes.append(h)
        self.size += 1 << level

    def extend(self, leaf_hashes: Sequence[bytes]) -> None:
        """Append many leaf hashes, hashing each aligned perfect block level by level."""
        pos = 0
        for node in range_nodes(self.size, self.size + len(leaf_hashes)):
            width = 1 << node.level
            self.append_subtree(node.level, perfect_root(leaf_hashes[pos : pos + width]))
            pos += width

    def hashes(self) -> list[bytes]:
        """The hashes of ``range_nodes(0, size)``, left to right."""
        return list(self._hashes)


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """The root of a perfect subtree over ``hashes`` (their count a power of two, at least 1)."""
    n = len(hashes)
    if n == 0 or n & (n - 1):
        raise ValueError(f"{n} hashes do not make a perfect subtree")
    row = list(hashes)
    prefix = NODE_HASH_PREFIX
    while len(row) > 1:
        row = [sha256(prefix + row[i] + row[i + 1]).digest() for i in range(0, len(row), 2)]
    return row[0]
