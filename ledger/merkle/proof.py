"""Inclusion and consistency proofs, RFC 9162 §2.1.3 and §2.1.4.

Two halves, as in transparency-dev/merkle:

- *Construction* (``proof/proof.go``): :func:`inclusion_nodes` and
  :func:`consistency_nodes` say which perfect nodes a proof is made of; a store
  fetches their hashes and :meth:`Nodes.rehash` folds the few that cover the
  tree's ragged right edge into the one "ephemeral" node the proof needs.
- *Verification* (``proof/verify.go``): :func:`verify_inclusion`,
  :func:`root_from_inclusion_proof` and :func:`verify_consistency`.

All functions take the hasher as a keyword argument defaulting to SHA-256.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ledger.merkle.compact import NodeID, range_nodes
from ledger.merkle.errors import ProofError, RootMismatchError
from ledger.merkle.rfc9162 import SHA256, Hasher

# --------------------------------------------------------------------------
# Construction


@dataclass(frozen=True)
class Nodes:
    """The perfect nodes a proof is built from, in proof order.

    ``ids[begin:end]`` (when it holds two or more nodes) cover the ephemeral
    node ``ephem``: the caller hashes them into one with :meth:`rehash`.
    """

    ids: tuple[NodeID, ...]
    begin: int = 0
    end: int = 0
    ephem: NodeID | None = None

    def rehash(
        self, hashes: Sequence[bytes], hash_children: Callable[[bytes, bytes], bytes]
    ) -> list[bytes]:
        """Turn the hashes of :attr:`ids` (same order) into the proof's hashes."""
        if len(hashes) != len(self.ids):
            raise ProofError(f"got {len(hashes)} hashes, want {len(self.ids)}")
        if self.end - self.begin <= 1:
            return list(hashes)
        # The block is ordered from the lowest (right-most) node up; each
        # further node is the left sibling of what has been folded so far.
        acc = hashes[self.begin]
        for h in hashes[self.begin + 1 : self.end]:
            acc = hash_children(h, acc)
        return [*hashes[: self.begin], acc, *hashes[self.end :]]


def inclusion_nodes(index: int, size: int) -> Nodes:
    """The nodes of the inclusion proof for leaf ``index`` in a tree of ``size`` leaves.

    Requires ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ProofError(f"index {index} out of bounds for tree size {size}")
    return _skip_first(_nodes(index, 0, size))


def consistency_nodes(size1: int, size2: int) -> Nodes:
    """The nodes of the consistency proof between tree sizes ``size1`` and ``size2``.

    Requires ``0 <= size1 <= size2``. The proof is empty when ``size1`` is 0 or
    equals ``size2`` (RFC 9162 §2.1.4.1 defines no proof from the empty tree).
    """
    if not 0 <= size1 <= size2:
        raise ProofError(f"tree size {size1} > {size2}")
    if size1 == size2 or size1 == 0:
        return Nodes(ids=())
    # The root of the biggest perfect subtree that ends at size1.
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    # The proof is that node (unless size1 is a power of two: the verifier knows
    # it as root1) followed by its inclusion proof in the tree of size2.
    nodes = _nodes(index, level, size2)
    return _skip_first(nodes) if index == 0 else nodes


def _nodes(index: int, level: int, size: int) -> Nodes:
    """The node (level, index), its path siblings, and the nodes covering the rest."""
    # The fork is where the path from the root to (level, index) leaves the path
    # to the tree's right edge; its sibling is the ephemeral node. `inner` is
    # how many levels above (level, index) the fork is.
    inner = (index ^ (size >> level)).bit_length() - 1
    fork = NodeID(level + inner, index >> inner)
    begin, end = fork.coverage()

    node = NodeID(level, index)
    ids = [node]
    while node.level < fork.level:
        ids.append(node.sibling())
        node = node.parent()
    # Nodes covering [end, size): the ephemeral node or its parts, lowest first.
    len1 = len(ids)
    ids.extend(reversed(range_nodes(end, size)))
    len2 = len(ids)
    # Nodes covering [0, begin), lowest (right-most) first.
    ids.extend(reversed(range_nodes(0, begin)))
    return Nodes(ids=tuple(ids), begin=len1, end=len2, ephem=fork.sibling())


def _skip_first(nodes: Nodes) -> Nodes:
    begin, end = (nodes.begin - 1, nodes.end - 1) if nodes.begin < nodes.end else (0, 0)
    return Nodes(ids=nodes.ids[1:], begin=begin, end=end, ephem=nodes.ephem)


# --------------------------------------------------------------------------
# Verification


def verify_inclusion(
    index: int,
    size: int,
    leaf_hash: bytes,
    proof: Sequence[bytes],
    root: bytes,
    *,
    hasher: Hasher = SHA256,
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2. Raises :class:`ProofError` for a malformed proof and
    :class:`RootMismatchError` when the proof leads to another root.
    """
    _check_hash("root", root, hasher)
    calculated = root_from_inclusion_proof(index, size, leaf_hash, proof, hasher=hasher)
    if calculated != root:
        raise RootMismatchError(calculated, root)


def root_from_inclusion_proof(
    index: int,
    size: int,
    leaf_hash: bytes,
    proof: Sequence[bytes],
    *,
    hasher: Hasher = SHA256,
) -> bytes:
    """The root that an inclusion proof for leaf ``index`` of ``size`` leads to.

    Requires ``0 <= index < size`` and a proof of exactly the length the tree
    shape calls for.
    """
    if index < 0:
        raise ProofError(f"index {index} is negative")
    if index >= size:
        raise ProofError(f"index is beyond size: {index} >= {size}")
    _check_hash("leaf hash", leaf_hash, hasher)
    _check_proof_hashes(proof, hasher)
    inner, border = _decomp_incl_proof(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {inner + border}")
    res = _chain_inner(hasher, leaf_hash, proof[:inner], index)
    return _chain_border_right(hasher, res, proof[inner:])


def verify_consistency(
    size1: int,
    size2: int,
    proof: Sequence[bytes],
    root1: bytes,
    root2: bytes,
    *,
    hasher: Hasher = SHA256,
) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the one of ``size1`` with ``root1``.

    RFC 9162 §2.1.4.2. A proof from the empty tree is refused: the empty tree
    is a prefix of every tree, so such a "proof" proves nothing.
    """
    _check_proof_hashes(proof, hasher)
    if size1 < 0 or size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1})")
    if size1 == 0:
        raise ProofError("consistency proof from the empty tree is meaningless")
    if size1 == size2:
        # Nothing is hashed: the roots only have to be the same (as in verify.go).
        if proof:
            raise ProofError(f"size1 == size2 == {size1}, but the proof has {len(proof)} hashes")
        if root1 != root2:
            raise RootMismatchError(root1, root2)
        return
    _check_hash("root1", root1, hasher)
    _check_hash("root2", root2, hasher)
    if not proof:
        raise ProofError(f"empty consistency proof from {size1} to {size2}")

    inner, border = _decomp_incl_proof(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift  # shift < inner, since size1 < size2

    # The proof starts with the root of the perfect subtree of 2**shift leaves
    # ending at size1 — unless size1 is that very power of two.
    seed, start = proof[0], 1
    if size1 == 1 << shift:
        seed, start = root1, 0
    if len(proof) != start + inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {start + inner + border}")
    rest = proof[start:]

    mask = (size1 - 1) >> shift  # chaining starts at level `shift`
    hash1 = _chain_inner_right(hasher, seed, rest[:inner], mask)
    hash1 = _chain_border_right(hasher, hash1, rest[inner:])
    if hash1 != root1:
        raise RootMismatchError(hash1, root1)
    hash2 = _chain_inner(hasher, seed, rest[:inner], mask)
    hash2 = _chain_border_right(hasher, hash2, rest[inner:])
    if hash2 != root2:
        raise RootMismatchError(hash2, root2)


def _check_hash(what: str, value: bytes, hasher: Hasher) -> None:
    if len(value) != hasher.size:
        raise ProofError(f"{what} has unexpected size {len(value)}, want {hasher.size}")


def _check_proof_hashes(proof: Sequence[bytes], hasher: Hasher) -> None:
    for i, h in enumerate(proof):
        if len(h) != hasher.size:
            raise ProofError(f"proof hash {i} has unexpected size {len(h)}, want {hasher.size}")


def _decomp_incl_proof(index: int, size: int) -> tuple[int, int]:
    """Split an inclusion proof's length into its inner part and its right border."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(hasher: Hasher, seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = (
            hasher.hash_children(seed, h)
            if (index >> i) & 1 == 0
            else hasher.hash_children(h, seed)
        )
    return seed


def _chain_inner_right(hasher: Hasher, seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = hasher.hash_children(h, seed)
    return seed


def _chain_border_right(hasher: Hasher, seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = hasher.hash_children(h, seed)
    return seed
