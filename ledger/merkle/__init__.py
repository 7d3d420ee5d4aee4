"""RFC 9162 §2.1 Merkle tree hashing, proof construction and verification.

Pure functions of bytes and integers: no database, no network. The structure and
names follow RFC 9162 and transparency-dev/merkle so the two can be read side by
side:

- :mod:`ledger.merkle.rfc9162` — the hasher (``hash_leaf``, ``hash_children``,
  ``empty_root``).
- :mod:`ledger.merkle.compact` — node ids and the decomposition of a leaf range
  into perfect subtrees (transparency-dev ``compact``).
- :mod:`ledger.merkle.proof` — which nodes a proof needs (transparency-dev
  ``proof/proof.go``) and how to verify a proof (``proof/verify.go``).
- :mod:`ledger.merkle.tree` — an in-memory tree that serves proofs, used by tests,
  benchmarks and the integrator.
"""

from ledger.merkle.compact import CompactRange, NodeID, perfect_root, range_nodes
from ledger.merkle.errors import ProofError, RootMismatchError
from ledger.merkle.proof import (
    Nodes,
    consistency_nodes,
    inclusion_nodes,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from ledger.merkle.rfc9162 import HASH_SIZE, SHA256, Hasher, empty_root, hash_children, hash_leaf
from ledger.merkle.tree import InMemoryTree, root_from_range

__all__ = [
    "HASH_SIZE",
    "SHA256",
    "CompactRange",
    "Hasher",
    "InMemoryTree",
    "NodeID",
    "Nodes",
    "ProofError",
    "RootMismatchError",
    "consistency_nodes",
    "empty_root",
    "hash_children",
    "hash_leaf",
    "inclusion_nodes",
    "perfect_root",
    "range_nodes",
    "root_from_inclusion_proof",
    "root_from_range",
    "verify_consistency",
    "verify_inclusion",
]
