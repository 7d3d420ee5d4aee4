"""An in-memory RFC 9162 tree that keeps every perfect node and serves proofs.

It is the reference implementation of the store's job in memory: tests compare
the persistent log with it, benchmarks measure it, and it shows in twenty lines
how a store answers a proof from perfect nodes alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

from ledger.merkle.compact import NodeID, range_nodes
from ledger.merkle.errors import ProofError
from ledger.merkle.proof import consistency_nodes, inclusion_nodes
from ledger.merkle.rfc9162 import NODE_HASH_PREFIX, empty_root, hash_children


def root_from_range(hashes: Sequence[bytes]) -> bytes:
    """The root over the perfect subtrees of ``range_nodes(0, size)``, given their hashes.

    The subtrees are folded right to left: each is the left sibling of the
    hash of everything to its right. An empty sequence is the empty tree.
    """
    if not hashes:
        return empty_root()
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = hash_children(h, acc)
    return acc


class InMemoryTree:
    """An append-only tree of leaf hashes, with all perfect nodes kept in lists."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes and compute every node that becomes perfect."""
        self._levels[0].extend(leaf_hashes)
        level = 0
        prefix = NODE_HASH_PREFIX
        while len(self._levels[level]) > 1:
            below = self._levels[level]
            if level + 1 == len(self._levels):
                self._levels.append([])
            above = self._levels[level + 1]
            start = 2 * len(above)
            stop = len(below) - len(below) % 2
            above.extend(
                sha256(prefix + below[i] + below[i + 1]).digest() for i in range(start, stop, 2)
            )
            level += 1

    def append(self, leaf_hash: bytes) -> int:
        """Append one leaf hash; returns its index."""
        self.extend((leaf_hash,))
        return self.size - 1

    def node(self, node: NodeID) -> bytes:
        """The hash of a perfect node. Requires the node's whole subtree to be present."""
        try:
            return self._levels[node.level][node.index]
        except IndexError:
            raise KeyError(f"node {node} is not complete in a tree of {self.size}") from None

    def leaf_hash(self, index: int) -> bytes:
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree's first ``size`` leaves (all of them by default)."""
        size = self.size if size is None else self._check_size(size)
        return root_from_range([self.node(n) for n in range_nodes(0, size)])

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size]). Requires ``0 <= index < size``."""
        size = self.size if size is None else self._check_size(size)
        nodes = inclusion_nodes(index, size)
        return nodes.rehash([self.node(n) for n in nodes.ids], hash_children)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(size1, D[0:size2]). Requires ``0 <= size1 <= size2``."""
        size2 = self.size if size2 is None else self._check_size(size2)
        nodes = consistency_nodes(size1, size2)
        return nodes.rehash([self.node(n) for n in nodes.ids], hash_children)

    def _check_size(self, size: int) -> int:
        if not 0 <= size <= self.size:
            raise ProofError(f"tree size {size} out of range, want 0..{self.size}")
        return size
