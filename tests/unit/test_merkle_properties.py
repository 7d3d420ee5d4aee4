"""Hypothesis properties of :mod:`ledger.merkle` against the textbook reference.

The reference (tests/merkle_reference.py) is RFC 9162 §2.1 written as recursion
over lists of leaf data. Properties: the tree and its proofs agree with it
exactly, honest proofs verify, and a proof whose bits, roots, leaf hash, index or
sizes were changed never verifies (unless the change is provably equivalent, see
:func:`check_inclusion_claims`).

Trees use distinct leaves (``salt || index``): two disjoint subtrees then never
share a hash, which the "never verifies" arguments below rely on.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.merkle import (
    CompactRange,
    Hasher,
    InMemoryTree,
    NodeID,
    ProofError,
    consistency_nodes,
    hash_children,
    inclusion_nodes,
    perfect_root,
    range_nodes,
    root_from_inclusion_proof,
    root_from_range,
    verify_consistency,
    verify_inclusion,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import merkle_reference as ref

MAX_LEAVES = 600


@st.composite
def leaf_lists(draw: st.DrawFn, min_size: int = 1, max_size: int = MAX_LEAVES) -> list[bytes]:
    """Distinct leaf data: a random salt followed by the leaf's index."""
    n = draw(st.integers(min_size, max_size))
    salt = draw(st.binary(max_size=4))
    return [salt + i.to_bytes(2, "big") for i in range(n)]


@st.composite
def leaves_and_index(draw: st.DrawFn, max_size: int = MAX_LEAVES) -> tuple[list[bytes], int]:
    leaves = draw(leaf_lists(max_size=max_size))
    return leaves, draw(st.integers(0, len(leaves) - 1))


@st.composite
def leaves_and_size1(draw: st.DrawFn, max_size: int = MAX_LEAVES) -> tuple[list[bytes], int]:
    """Leaves D[0:size2] and 1 <= size1 <= size2 (size1 == size2 included on purpose)."""
    leaves = draw(leaf_lists(max_size=max_size))
    size1 = draw(st.integers(1, len(leaves)) | st.just(len(leaves)))
    return leaves, size1


def build(leaves: list[bytes]) -> InMemoryTree:
    return InMemoryTree(ref.leaf_hash(d) for d in leaves)


def coverage(node: NodeID) -> tuple[int, int]:
    """Leaves under a perfect node, computed here rather than by NodeID.coverage."""
    return node.index << node.level, (node.index + 1) << node.level


def bit_flips(value: bytes) -> Iterator[bytes]:
    """Every copy of ``value`` with exactly one bit flipped."""
    for bit in range(len(value) * 8):
        yield flip_bit(value, bit)


def flip_bit(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def rejects(verify: Callable[..., None], *args: Any) -> bool:
    """Whether ``verify(*args)`` raises ProofError (any other exception propagates)."""
    try:
        verify(*args)
    except ProofError:
        return True
    return False


# --------------------------------------------------------------------------
# The tree agrees with the reference


@settings(max_examples=100, deadline=None)
@given(leaf_lists(min_size=0), st.data())
def test_root_matches_reference(leaves: list[bytes], data: st.DataObject) -> None:
    tree = build(leaves)
    assert tree.size == len(leaves)
    assert tree.root() == ref.mth(leaves)
    size = data.draw(st.integers(0, len(leaves)), label="size")
    assert tree.root(size) == ref.mth(leaves[:size])


@settings(max_examples=60, deadline=None)
@given(leaf_lists(min_size=0, max_size=300), st.lists(st.integers(0, 300), max_size=12))
def test_extend_in_any_chunks_matches_reference(leaves: list[bytes], cuts: list[int]) -> None:
    hashes = [ref.leaf_hash(d) for d in leaves]
    tree = InMemoryTree()
    done = 0
    for cut in sorted({c for c in cuts if c <= len(leaves)} | {len(leaves)}):
        if cut == done + 1:
            assert tree.append(hashes[done]) == done
        else:
            tree.extend(hashes[done:cut])
        done = cut
        assert tree.size == cut
        assert tree.root() == ref.mth(leaves[:cut])
    bulk = InMemoryTree(hashes)
    for level in range(len(leaves).bit_length()):
        for index in range(len(leaves) >> level):
            assert tree.node(NodeID(level, index)) == bulk.node(NodeID(level, index))


@settings(max_examples=100, deadline=None)
@given(leaves_and_index(), st.data())
def test_inclusion_proof_matches_reference_and_verifies(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, index = case
    tree = build(leaves)
    # A proof for an older tree size, served by the bigger tree.
    size = data.draw(st.integers(index + 1, len(leaves)), label="size")
    for n in {len(leaves), size}:
        proof = tree.inclusion_proof(index, n)
        assert proof == ref.path(index, leaves[:n])
        leaf_hash, root = ref.leaf_hash(leaves[index]), ref.mth(leaves[:n])
        assert ref.verify_inclusion(index, n, leaf_hash, proof, root)
        verify_inclusion(index, n, leaf_hash, proof, root)
        assert root_from_inclusion_proof(index, n, leaf_hash, proof) == root


@settings(max_examples=100, deadline=None)
@given(leaves_and_size1(), st.data())
def test_consistency_proof_matches_reference_and_verifies(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, size1 = case
    tree = build(leaves)
    size2 = data.draw(st.integers(size1, len(leaves)), label="size2")
    for n in {len(leaves), size2}:
        proof = tree.consistency_proof(size1, n)
        assert proof == ref.proof(size1, leaves[:n])
        root1, root2 = ref.mth(leaves[:size1]), ref.mth(leaves[:n])
        assert ref.verify_consistency(size1, n, proof, root1, root2)
        verify_consistency(size1, n, proof, root1, root2)


@settings(max_examples=12, deadline=None)
@given(leaf_lists(min_size=1025, max_size=5000), st.data())
def test_large_trees_match_reference_and_reject_a_flipped_bit(
    leaves: list[bytes], data: st.DataObject
) -> None:
    """Trees past 1024 leaves, where proofs have more than ten inner levels."""
    n = len(leaves)
    tree = build(leaves)
    root = ref.mth(leaves)
    assert tree.root() == root
    index = data.draw(st.integers(0, n - 1) | st.sampled_from([0, 1023, 1024, n - 1]), "index")
    size1 = data.draw(st.integers(1, n) | st.sampled_from([1, 1023, 1024, 1025, n - 1]), "size1")
    leaf_hash, path = ref.leaf_hash(leaves[index]), ref.path(index, leaves)
    proof, root1 = ref.proof(size1, leaves), ref.mth(leaves[:size1])
    assert tree.inclusion_proof(index) == path
    assert tree.consistency_proof(size1) == proof
    verify_inclusion(index, n, leaf_hash, path, root)
    verify_consistency(size1, n, proof, root1, root)
    for k, h in enumerate(path):
        bit = data.draw(st.integers(0, 255), f"inclusion bit {k}")
        bad = [*path[:k], flip_bit(h, bit), *path[k + 1 :]]
        assert rejects(verify_inclusion, index, n, leaf_hash, bad, root)
    for k, h in enumerate(proof):
        bit = data.draw(st.integers(0, 255), f"consistency bit {k}")
        bad = [*proof[:k], flip_bit(h, bit), *proof[k + 1 :]]
        assert rejects(verify_consistency, size1, n, bad, root1, root)


def test_tree_refuses_sizes_and_indices_out_of_range() -> None:
    leaves = [bytes([i]) for i in range(5)]
    tree = build(leaves)
    for call in (
        lambda: tree.root(6),
        lambda: tree.root(-1),
        lambda: tree.inclusion_proof(0, 6),
        lambda: tree.consistency_proof(1, 6),
    ):
        with pytest.raises((ValueError, LedgerError)):
            call()
    for call in (
        lambda: tree.inclusion_proof(5),
        lambda: tree.inclusion_proof(-1),
        lambda: tree.inclusion_proof(3, 3),
        lambda: tree.consistency_proof(4, 3),
    ):
        with pytest.raises(ProofError):
            call()


def test_negative_index_is_refused_whatever_the_proof() -> None:
    # The index is checked before the proof: no proof length makes a negative index
    # (or one past the end) lead to a root.
    leaves = [bytes([i]) for i in range(8)]
    leaf_hash = ref.leaf_hash(leaves[0])
    for size in (1, 2, 5, 8):
        for index in (-1, -2, -size, size, size + 1):
            for length in range(12):
                proof = [ref.mth(leaves[: k + 1]) for k in range(length)]
                with pytest.raises(ProofError):
                    root_from_inclusion_proof(index, size, leaf_hash, proof)


@settings(max_examples=20, deadline=None)
@given(leaf_lists())
def test_consistency_from_empty_tree_never_verifies(leaves: list[bytes]) -> None:
    # README rule 2. (0 -> 0 is tested in test_merkle_vectors.py.)
    tree = build(leaves)
    n = len(leaves)
    assert tree.consistency_proof(0, n) == []
    for proof in ([], ref.proof(1, leaves), [ref.mth(leaves)]):
        with pytest.raises(ProofError):
            verify_consistency(0, n, proof, ref.mth([]), ref.mth(leaves))


# --------------------------------------------------------------------------
# Tampering never verifies


@settings(max_examples=60, deadline=None)
@given(leaves_and_index())
def test_inclusion_bit_flips_never_verify(case: tuple[list[bytes], int]) -> None:
    leaves, index = case
    n = len(leaves)
    leaf_hash, proof, root = ref.leaf_hash(leaves[index]), ref.path(index, leaves), ref.mth(leaves)
    verify_inclusion(index, n, leaf_hash, proof, root)
    accepted: list[str] = []
    for k, h in enumerate(proof):
        for changed in bit_flips(h):
            bad = [*proof[:k], changed, *proof[k + 1 :]]
            if not rejects(verify_inclusion, index, n, leaf_hash, bad, root):
                accepted.append(f"proof[{k}] = {changed.hex()}")
    for changed in bit_flips(root):
        if not rejects(verify_inclusion, index, n, leaf_hash, proof, changed):
            accepted.append(f"root = {changed.hex()}")
    for changed in bit_flips(leaf_hash):
        if not rejects(verify_inclusion, index, n, changed, proof, root):
            accepted.append(f"leaf hash = {changed.hex()}")
    assert accepted == []


@settings(max_examples=50, deadline=None)
@given(leaves_and_size1())
def test_consistency_bit_flips_never_verify(case: tuple[list[bytes], int]) -> None:
    leaves, size1 = case
    n = len(leaves)
    proof, root1, root2 = ref.proof(size1, leaves), ref.mth(leaves[:size1]), ref.mth(leaves)
    verify_consistency(size1, n, proof, root1, root2)
    accepted: list[str] = []
    for k, h in enumerate(proof):
        for changed in bit_flips(h):
            bad = [*proof[:k], changed, *proof[k + 1 :]]
            if not rejects(verify_consistency, size1, n, bad, root1, root2):
                accepted.append(f"proof[{k}] = {changed.hex()}")
    for changed in bit_flips(root1):
        if not rejects(verify_consistency, size1, n, proof, changed, root2):
            accepted.append(f"root1 = {changed.hex()}")
    for changed in bit_flips(root2):
        if not rejects(verify_consistency, size1, n, proof, root1, changed):
            accepted.append(f"root2 = {changed.hex()}")
    assert accepted == []


# Equivalent claims. Given the proof's length, the sizes (and index) decide only
# WHICH hashing steps a verifier performs: RFC 9162 §2.1.3.2 / §2.1.4.2 turn them
# into a sequence of "hash (p || r)" / "hash (r || p)" steps, which
# ref.inclusion_trace / ref.consistency_trace spell out. Two claims with the same
# trace make any correct verifier hash the same inputs in the same order, so a
# changed claim with the original's trace MUST verify too; it is asserted to, not
# skipped. Examples: leaf 0 of 5 and leaf 0 of 6 (both: three proof hashes, each
# on the right); consistency 4 -> 5 and 4 -> 6; size1 == size2 == m for any m > 0
# (empty proof, only root1 == root2 is checked).
#
# Any other claim MUST fail. Either its proof length is wrong, or, going down from
# the root, the traces first differ at a step where one hashes (x || p) and the
# other (p || x); reaching the same root then needs x == p, the hashes of two
# disjoint subtrees of distinct leaves: a SHA-256 collision. Size 0 has no trace
# (README rule 2), so any claim of size1 == 0 must fail.


def check_inclusion_claims(
    leaves: list[bytes], index: int, claims: set[tuple[int, int]]
) -> list[str]:
    """The claims (index', size') that verify_inclusion judges wrongly."""
    n = len(leaves)
    leaf_hash, proof, root = ref.leaf_hash(leaves[index]), ref.path(index, leaves), ref.mth(leaves)
    trace = ref.inclusion_trace(index, n, len(proof))
    assert trace is not None
    wrong: list[str] = []
    for claim in claims - {(index, n)}:
        equivalent = ref.inclusion_trace(*claim, len(proof)) == trace
        rejected = rejects(verify_inclusion, *claim, leaf_hash, proof, root)
        if rejected == equivalent:
            wrong.append(f"index, size = {claim}: {'rejected' if rejected else 'accepted'}")
    return wrong


def check_consistency_claims(
    leaves: list[bytes], size1: int, claims: set[tuple[int, int]]
) -> list[str]:
    """The claims (size1', size2') that verify_consistency judges wrongly."""
    n = len(leaves)
    proof, root1, root2 = ref.proof(size1, leaves), ref.mth(leaves[:size1]), ref.mth(leaves)
    trace = ref.consistency_trace(size1, n, len(proof))
    assert trace is not None
    wrong: list[str] = []
    for claim in claims - {(size1, n)}:
        equivalent = ref.consistency_trace(*claim, len(proof)) == trace
        rejected = rejects(verify_consistency, *claim, proof, root1, root2)
        if rejected == equivalent:
            wrong.append(f"size1, size2 = {claim}: {'rejected' if rejected else 'accepted'}")
    return wrong


@settings(max_examples=60, deadline=None)
@given(leaves_and_index(), st.data())
def test_inclusion_with_another_index_or_size_never_verifies(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, index = case
    n = len(leaves)
    other_index = data.draw(st.integers(0, n - 1), label="other index")
    other_size = data.draw(st.integers(1, 4 * n), label="other size")
    claims = {
        *((i, n) for i in range(-1, n + 2)),  # every other index, and just out of range
        *((index, s) for s in range(0, 2 * n + 3)),  # every size up to 2n + 2
        (index ^ 2, n),
        (other_index, other_size),
        (index, other_size),
    }
    assert check_inclusion_claims(leaves, index, claims) == []


@settings(max_examples=60, deadline=None)
@given(leaves_and_size1(), st.data())
def test_consistency_with_other_sizes_never_verifies(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, size1 = case
    n = len(leaves)
    other1 = data.draw(st.integers(0, 4 * n), label="other size1")
    other2 = data.draw(st.integers(0, 4 * n), label="other size2")
    claims = {
        *((s, n) for s in range(0, n + 2)),  # every other size1, and just past size2
        *((size1, s) for s in range(0, 2 * n + 3)),  # every size2 up to 2n + 2
        *((s, s) for s in range(0, 2 * n + 3)),  # both sizes equal, 0 included
        (size1 ^ 2, n),
        (other1, other2),
        (size1, other2),
        (other1, n),
    }
    assert check_consistency_claims(leaves, size1, claims) == []


def test_equivalent_claims_exist_and_verify() -> None:
    """The exclusions above are real: these changed claims verify, as RFC 9162 says."""
    leaves = [bytes([i]) for i in range(8)]
    assert ref.inclusion_trace(0, 5, 3) == ref.inclusion_trace(0, 6, 3)
    assert check_inclusion_claims(leaves[:5], 0, {(0, 6)}) == []
    verify_inclusion(0, 6, ref.leaf_hash(leaves[0]), ref.path(0, leaves[:5]), ref.mth(leaves[:5]))
    assert ref.consistency_trace(4, 5, 1) == ref.consistency_trace(4, 6, 1)
    verify_consistency(4, 6, ref.proof(4, leaves[:5]), ref.mth(leaves[:4]), ref.mth(leaves[:5]))
    root = ref.mth(leaves[:3])
    verify_consistency(7, 7, [], root, root)


# --------------------------------------------------------------------------
# Compact ranges and proof node sets


def greedy_cover(begin: int, end: int) -> list[tuple[int, int]]:
    """The minimal cover of [begin, end) by aligned power-of-two blocks, left to right."""
    out: list[tuple[int, int]] = []
    pos = begin
    while pos < end:
        level = 0
        while pos % (2 << level) == 0 and pos + (2 << level) <= end:
            level += 1
        out.append((level, pos >> level))
        pos += 1 << level
    return out


@settings(max_examples=500, deadline=None)
@given(
    st.integers(0, 1 << 12) | st.integers(0, 1 << 62),
    st.integers(0, 1 << 12) | st.integers(0, 1 << 40),
)
def test_range_nodes_cover_the_range_exactly(begin: int, length: int) -> None:
    end = begin + length
    ids = range_nodes(begin, end)
    # Perfect, ordered, disjoint and covering [begin, end) exactly.
    pos = begin
    for node in ids:
        assert node.level >= 0
        assert node.coverage() == coverage(node)
        assert coverage(node)[0] == pos
        pos = coverage(node)[1]
    assert pos == end
    # Minimal: the unique greedy cover; levels rise on the left border, then fall.
    assert [(n.level, n.index) for n in ids] == greedy_cover(begin, end)
    levels = [n.level for n in ids]
    assert any(
        all(a < b for a, b in pairwise(levels[:t])) and all(a > b for a, b in pairwise(levels[t:]))
        for t in range(len(levels) + 1)
    )
    # Size bound: at most 2 * log2(length) nodes (one node for a single leaf).
    if length == 0:
        assert ids == []
    elif length == 1:
        assert len(ids) == 1
    else:
        assert len(ids) <= 2 * math.log2(length)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 1000), st.integers(1, 1000))
def test_range_nodes_refuses_an_inverted_range(begin: int, gap: int) -> None:
    with pytest.raises(ValueError):
        range_nodes(begin + gap, begin)
    with pytest.raises(ValueError):
        range_nodes(-gap, begin)


def expected_compact_hashes(leaves: list[bytes], size: int) -> list[bytes]:
    return [ref.mth(leaves[i << lvl : (i + 1) << lvl]) for lvl, i in greedy_cover(0, size)]


@settings(max_examples=60, deadline=None)
@given(
    leaf_lists(min_size=0, max_size=300),
    st.lists(
        st.tuples(st.sampled_from(["append", "extend", "subtree"]), st.integers(0, 70)),
        max_size=15,
    ),
)
def test_compact_range_matches_reference(leaves: list[bytes], ops: list[tuple[str, int]]) -> None:
    hashes = [ref.leaf_hash(d) for d in leaves]
    compact = CompactRange()
    for op, k in [*ops, ("extend", len(leaves))]:
        done = compact.size
        if op == "append" and done < len(leaves):
            compact.append(hashes[done])
        elif op == "extend":
            compact.extend(hashes[done : done + k])
        elif op == "subtree":
            level = k % 7
            width = 1 << level
            if done % width:  # not aligned: refused, and nothing changes
                with pytest.raises(ValueError):
                    compact.append_subtree(level, ref.mth(leaves[done : done + width]))
                assert compact.size == done
            elif done + width <= len(leaves):
                compact.append_subtree(level, ref.mth(leaves[done : done + width]))
        size = compact.size
        assert size <= len(leaves)
        assert compact.hashes() == expected_compact_hashes(leaves, size)
        assert root_from_range(compact.hashes()) == ref.mth(leaves[:size])
    assert compact.size == len(leaves)


@settings(max_examples=30, deadline=None)
@given(leaf_lists(max_size=300))
def test_perfect_root_matches_reference(leaves: list[bytes]) -> None:
    hashes = [ref.leaf_hash(d) for d in leaves]
    n = len(hashes)
    width = 1 << (n.bit_length() - 1)
    assert perfect_root(hashes[:width]) == ref.mth(leaves[:width])
    if n != width:
        with pytest.raises(ValueError):
            perfect_root(hashes)
    with pytest.raises(ValueError):
        perfect_root([])


def subtree_hashes(leaves: list[bytes], ids: tuple[NodeID, ...]) -> list[bytes]:
    """Hashes of perfect nodes from the reference; each must lie inside the tree."""
    out = []
    for node in ids:
        begin, end = coverage(node)
        assert end <= len(leaves), f"{node} is not complete in a tree of {len(leaves)}"
        out.append(ref.mth(leaves[begin:end]))
    return out


def check_ephemeral(
    leaves: list[bytes],
    nodes_begin: int,
    nodes_end: int,
    ephem: NodeID | None,
    rehashed: list[bytes],
) -> None:
    """When several nodes are folded, they make the ragged node ``ephem`` cut at the tree's end."""
    if nodes_end - nodes_begin < 2:
        return
    assert ephem is not None
    begin, end = coverage(ephem)
    assert begin < len(leaves) < end
    assert rehashed[nodes_begin] == ref.mth(leaves[begin:])


@settings(max_examples=100, deadline=None)
@given(leaves_and_index())
def test_inclusion_nodes_rehash_to_reference_path(case: tuple[list[bytes], int]) -> None:
    leaves, index = case
    nodes = inclusion_nodes(index, len(leaves))
    rehashed = nodes.rehash(subtree_hashes(leaves, nodes.ids), hash_children)
    assert rehashed == ref.path(index, leaves)
    check_ephemeral(leaves, nodes.begin, nodes.end, nodes.ephem, rehashed)


@settings(max_examples=100, deadline=None)
@given(leaves_and_size1())
def test_consistency_nodes_rehash_to_reference_proof(case: tuple[list[bytes], int]) -> None:
    leaves, size1 = case
    nodes = consistency_nodes(size1, len(leaves))
    rehashed = nodes.rehash(subtree_hashes(leaves, nodes.ids), hash_children)
    assert rehashed == ref.proof(size1, leaves)
    check_ephemeral(leaves, nodes.begin, nodes.end, nodes.ephem, rehashed)


# --------------------------------------------------------------------------
# The hash function is a parameter


def _sha3(data: bytes) -> bytes:
    return hashlib.sha3_256(data).digest()


def _sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


OTHER_HASHERS = [
    pytest.param(Hasher(hashlib.sha3_256, 32), _sha3, id="sha3-256"),
    pytest.param(Hasher(hashlib.sha512, 64), _sha512, id="sha512"),
]


@pytest.mark.parametrize(("hasher", "h"), OTHER_HASHERS)
@settings(max_examples=25, deadline=None)
@given(leaf_lists(min_size=2, max_size=200), st.data())
def test_other_hasher_is_used_throughout(
    hasher: Hasher, h: ref.HashFn, leaves: list[bytes], data: st.DataObject
) -> None:
    n = len(leaves)
    index = data.draw(st.integers(0, n - 1), label="index")
    size1 = data.draw(st.integers(1, n - 1), label="size1")
    assert hasher.empty_root() == ref.mth([], h)
    assert hasher.hash_leaf(leaves[index]) == ref.leaf_hash(leaves[index], h)
    root = ref.mth(leaves, h)

    leaf_hash, path = ref.leaf_hash(leaves[index], h), ref.path(index, leaves, h)
    verify_inclusion(index, n, leaf_hash, path, root, hasher=hasher)
    assert root_from_inclusion_proof(index, n, leaf_hash, path, hasher=hasher) == root
    with pytest.raises(ProofError):  # the default SHA-256 must not be used instead
        verify_inclusion(index, n, leaf_hash, path, root)
    nodes = inclusion_nodes(index, n)
    hashes = [ref.mth(leaves[coverage(x)[0] : coverage(x)[1]], h) for x in nodes.ids]
    assert nodes.rehash(hashes, hasher.hash_children) == path

    proof, root1 = ref.proof(size1, leaves, h), ref.mth(leaves[:size1], h)
    verify_consistency(size1, n, proof, root1, root, hasher=hasher)
    with pytest.raises(ProofError):
        verify_consistency(size1, n, proof, root1, root)
