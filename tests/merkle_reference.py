"""A textbook RFC 9162 §2.1 Merkle tree, used ONLY by tests.

Written straight from the RFC text, not from :mod:`ledger.merkle`: the recursive
definitions of MTH (§2.1.1), PATH (§2.1.3.1), PROOF/SUBPROOF (§2.1.4.1) over a list
``D`` of leaf data, and the two verification algorithms of §2.1.3.2 and §2.1.4.2
with their ``fn``/``sn`` bit loops. Slow on purpose (recursion over slices); the
only concession to speed is a cache on MTH, which does not change any result.

Slices: every function takes the list it works on, so ``mth(D[start:end])`` or
``path(m, D[start:end])`` is the RFC definition applied to a slice.
:func:`subtree_consistency_proof` is the one generalisation beyond RFC 9162: the
"subtree" consistency proof of draft-ietf-plants-merkle-tree-certs, which equals
``PROOF(end, D[0:n])`` when ``start == 0``. It is only here to reproduce the
published rolling-hash vectors, which also cover ``start > 0``.

The hash function is a parameter (``h``, bytes -> digest), SHA-256 by default.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import lru_cache

HashFn = Callable[[bytes], bytes]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(d: bytes, h: HashFn = sha256) -> bytes:
    """MTH({d}) = HASH(0x00 || d)."""
    return h(b"\x00" + d)


def node_hash(left: bytes, right: bytes, h: HashFn = sha256) -> bytes:
    """HASH(0x01 || left || right)."""
    return h(b"\x01" + left + right)


def split_point(n: int) -> int:
    """k, the largest power of two smaller than n (RFC 9162 §2.1.1). Requires n > 1."""
    if n <= 1:
        raise ValueError(f"no split point for n = {n}")
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(D: Sequence[bytes], h: HashFn = sha256) -> bytes:
    """MTH(D[n]), RFC 9162 §2.1.1."""
    return _mth(tuple(D), h)


@lru_cache(maxsize=1 << 16)
def _mth(D: tuple[bytes, ...], h: HashFn) -> bytes:
    n = len(D)
    if n == 0:
        return h(b"")
    if n == 1:
        return leaf_hash(D[0], h)
    k = split_point(n)
    return node_hash(_mth(D[0:k], h), _mth(D[k:n], h), h)


def path(m: int, D: Sequence[bytes], h: HashFn = sha256) -> list[bytes]:
    """PATH(m, D[n]), RFC 9162 §2.1.3.1: the inclusion proof of leaf m, leaf level first."""
    n = len(D)
    if not 0 <= m < n:
        raise ValueError(f"PATH({m}, D[{n}]) is undefined")
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return [*path(m, D[0:k], h), mth(D[k:n], h)]
    return [*path(m - k, D[k:n], h), mth(D[0:k], h)]


def proof(m: int, D: Sequence[bytes], h: HashFn = sha256) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true), RFC 9162 §2.1.4.1.

    The RFC defines it for 0 < m <= n (empty when m == n); for m == 0 we return
    the empty list, as the rolling-hash vectors and transparency-dev do.
    """
    n = len(D)
    if not 0 <= m <= n:
        raise ValueError(f"PROOF({m}, D[{n}]) is undefined")
    if m == 0:
        return []
    return subproof(m, D, True, h)


def subproof(m: int, D: Sequence[bytes], b: bool, h: HashFn = sha256) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 9162 §2.1.4.1."""
    n = len(D)
    if m == n:
        return [] if b else [mth(D, h)]
    k = split_point(n)
    if m <= k:
        return [*subproof(m, D[0:k], b, h), mth(D[k:n], h)]
    return [*subproof(m - k, D[k:n], False, h), mth(D[0:k], h)]


def subtree_consistency_proof(
    start: int, end: int, D: Sequence[bytes], h: HashFn = sha256
) -> list[bytes]:
    """The MTC "subtree" consistency proof of [start, end) in D[0:n].

    The recursion given in tests/vectors/merkle-rfc6962/subtree-rolling-hash-vectors.json
    ("rfc9162_relation"): SUBPROOF with the subtree's root treated as known. With
    ``start == 0`` it is PROOF(end, D[0:n]).
    """
    if not 0 <= start <= end <= len(D):
        raise ValueError(f"[{start}, {end}) is not inside D[0:{len(D)}]")
    return _subtree_subproof(start, end, D, True, h)


def _subtree_subproof(
    start: int, end: int, D: Sequence[bytes], known: bool, h: HashFn
) -> list[bytes]:
    n = len(D)
    if start == end:  # empty subtree
        return []
    if start == 0 and end == n:  # the range is this whole node
        return [] if known else [mth(D, h)]
    k = split_point(n)
    if end <= k:
        return [*_subtree_subproof(start, end, D[0:k], known, h), mth(D[k:n], h)]
    if start >= k:
        return [*_subtree_subproof(start - k, end - k, D[k:n], known, h), mth(D[0:k], h)]
    if start != 0:
        raise ValueError("a valid subtree never straddles a split point unless it starts at 0")
    return [*_subtree_subproof(0, end - k, D[k:n], False, h), mth(D[0:k], h)]


# --------------------------------------------------------------------------
# Verification, RFC 9162 §2.1.3.2 and §2.1.4.2, step by step.
#
# Each algorithm is written once, over the sizes only, as a "trace": the list of
# operations it performs on the proof's hashes (None where the RFC says "fail"
# before looking at a hash). Two inputs with the same trace make a verifier do
# exactly the same hashing on the same proof, so they succeed or fail together.


def inclusion_trace(leaf_index: int, tree_size: int, proof_len: int) -> tuple[str, ...] | None:
    """§2.1.3.2 for a proof of ``proof_len`` hashes: per hash, "L" for r = HASH(p || r)
    and "R" for r = HASH(r || p); None when the algorithm fails on the sizes alone."""
    # 1. leaf_index >= tree_size fails.
    if not 0 <= leaf_index < tree_size:
        return None
    # 2. fn = leaf_index, sn = tree_size - 1.
    fn, sn = leaf_index, tree_size - 1
    ops: list[str] = []
    for _ in range(proof_len):
        # 4a. sn == 0: fail.
        if sn == 0:
            return None
        # 4b.
        if fn & 1 or fn == sn:
            ops.append("L")
            # 4b.ii. (a no-op when LSB(fn) is set)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            ops.append("R")
        # 4c.
        fn >>= 1
        sn >>= 1
    # 5. sn must be 0.
    if sn != 0:
        return None
    return tuple(ops)


def consistency_trace(first: int, second: int, proof_len: int) -> tuple[str, ...] | None:
    """§2.1.4.2 on sizes: the first op says where fr/sr start ("first_hash" when it is
    prepended, else "proof[0]"), then per further hash "LL" (fr and sr both
    HASH(c || .)) or "R" (sr = HASH(sr || c)). None when the algorithm fails on the
    sizes alone.

    Beyond the RFC, as in transparency-dev/merkle and this repository's vector
    README: first == second > 0 with an empty proof is ("equal",) (the roots must
    match); first == 0 always fails (README rule 2).
    """
    if first <= 0 or second < first:
        return None
    if first == second:
        return ("equal",) if proof_len == 0 else None
    # 1. An empty path fails.
    if proof_len == 0:
        return None
    ops: list[str] = []
    # 2. If first is an exact power of 2, prepend first_hash.
    if first & (first - 1) == 0:
        ops.append("first_hash")
        proof_len += 1
    else:
        ops.append("proof[0]")
    # 3.
    fn, sn = first - 1, second - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = consistency_path[0]; 6. for each subsequent c:
    for _ in range(proof_len - 1):
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            ops.append("LL")
            # 6b.iii. (a no-op when LSB(fn) is set)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            ops.append("R")
        fn >>= 1
        sn >>= 1
    # 7. sn must be 0.
    if sn != 0:
        return None
    return tuple(ops)


def verify_inclusion(
    leaf_index: int,
    tree_size: int,
    hash_: bytes,
    inclusion_path: Sequence[bytes],
    root_hash: bytes,
    h: HashFn = sha256,
) -> bool:
    """RFC 9162 §2.1.3.2."""
    ops = inclusion_trace(leaf_index, tree_size, len(inclusion_path))
    if ops is None:
        return False
    r = hash_
    for op, p in zip(ops, inclusion_path, strict=True):
        r = node_hash(p, r, h) if op == "L" else node_hash(r, p, h)
    return r == root_hash


def verify_consistency(
    first: int,
    second: int,
    consistency_path: Sequence[bytes],
    first_hash: bytes,
    second_hash: bytes,
    h: HashFn = sha256,
) -> bool:
    """RFC 9162 §2.1.4.2 (plus the equal-size rule of :func:`consistency_trace`)."""
    ops = consistency_trace(first, second, len(consistency_path))
    if ops is None:
        return False
    if ops == ("equal",):
        return first_hash == second_hash
    path_ = list(consistency_path)
    if ops[0] == "first_hash":
        path_.insert(0, first_hash)
    fr = sr = path_[0]
    for op, c in zip(ops[1:], path_[1:], strict=True):
        if op == "LL":
            fr = node_hash(c, fr, h)
            sr = node_hash(c, sr, h)
        else:
            sr = node_hash(sr, c, h)
    return fr == first_hash and sr == second_hash
