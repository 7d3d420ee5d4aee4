"""RFC 9162 Merkle conformance of :mod:`ledger.merkle` against public vectors.

Vectors: tests/vectors/merkle-rfc6962/ (see its README for source, commit and licence):

- ``transparency-dev/``: every inclusion/consistency probe file, plus the subtree
  probes with ``start == 0`` (then the subtree is the whole tree);
- ``rfc6962-known-answers.json``: hasher vectors, roots, node hashes and proofs of
  the 8-leaf CT tree;
- ``subtree-rolling-hash-vectors.json``: one SHA-256 over every MTH / PATH / PROOF
  for trees of up to 130 leaves.

Expected values come from those files or from the textbook reference in
tests/merkle_reference.py, never from ledger.merkle itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import LedgerError
from ledger.merkle import (
    SHA256,
    CompactRange,
    Hasher,
    InMemoryTree,
    NodeID,
    Nodes,
    ProofError,
    RootMismatchError,
    consistency_nodes,
    empty_root,
    hash_children,
    hash_leaf,
    inclusion_nodes,
    perfect_root,
    root_from_inclusion_proof,
    root_from_range,
    verify_consistency,
    verify_inclusion,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import merkle_reference as ref

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "merkle-rfc6962"
PROBES = VECTORS / "transparency-dev"
KNOWN: dict[str, Any] = json.loads((VECTORS / "rfc6962-known-answers.json").read_text("utf-8"))
ROLLING: dict[str, Any] = json.loads(
    (VECTORS / "subtree-rolling-hash-vectors.json").read_text("utf-8")
)


def b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def b64_list(values: list[str] | None) -> list[bytes]:
    return [b64(v) for v in values or []]


# --------------------------------------------------------------------------
# transparency-dev probe files


def probe_files(family: str) -> list[Path]:
    return sorted((PROBES / family).rglob("*.json"))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def probe_id(path: Path) -> str:
    return path.relative_to(PROBES).as_posix()


INCLUSION_PROBES = probe_files("inclusion")
CONSISTENCY_PROBES = probe_files("consistency")
SUBTREE_INCLUSION_PROBES = [p for p in probe_files("subtreeinclusion") if load(p)["start"] == 0]
SUBTREE_CONSISTENCY_PROBES = [p for p in probe_files("subtreeconsistency") if load(p)["start"] == 0]


def test_probe_file_counts_match_the_vector_readme() -> None:
    # Table in tests/vectors/merkle-rfc6962/README.md: files, wantErr=false, wantErr=true.
    expected = {
        "inclusion": (98, 6, 92),
        "consistency": (98, 6, 92),
        "subtreeinclusion": (204, 12, 192),
        "subtreeconsistency": (118, 12, 106),
    }
    for family, (files, ok, bad) in expected.items():
        verdicts = [load(p)["wantErr"] for p in probe_files(family)]
        assert (len(verdicts), verdicts.count(False), verdicts.count(True)) == (files, ok, bad)


def test_subtree_probes_used_with_start_zero() -> None:
    # Only the subtree probes with start == 0 are RFC 9162 probes; the others are
    # Merkle Tree Certificates subtrees, which ledger.merkle does not implement. This
    # pins how many are used, so that a change in the vector set is noticed.
    assert len(SUBTREE_INCLUSION_PROBES) == 101
    assert len(SUBTREE_CONSISTENCY_PROBES) == 102
    assert len(probe_files("subtreeinclusion")) - len(SUBTREE_INCLUSION_PROBES) == 103
    assert len(probe_files("subtreeconsistency")) - len(SUBTREE_CONSISTENCY_PROBES) == 16


def subtree_consistency_want_err(probe: dict[str, Any]) -> bool:
    """The RFC 9162 verdict of a subtree-consistency probe with ``start == 0``.

    Merkle Tree Certificates treat an empty subtree (``end == 0``) as consistent
    with any tree, so two such probes say ``wantErr: false``. RFC 9162 has no
    consistency proof from the empty tree and the vector README (rule 2) requires
    refusing it, 0 -> 0 included, as the plain ``consistency/`` probes do.
    """
    return bool(probe["wantErr"]) or probe["end"] == 0


def test_subtree_consistency_verdicts_changed_for_the_empty_subtree() -> None:
    flipped = [
        probe_id(p)
        for p in SUBTREE_CONSISTENCY_PROBES
        if subtree_consistency_want_err(load(p)) != load(p)["wantErr"]
    ]
    assert flipped == [
        "subtreeconsistency/additional/"
        "subtree-is-empty-sizes-are-equal-zero-subtree-root-valid-proof-is-empty.json",
        "subtreeconsistency/additional/"
        "subtree-is-empty-sizes-are-equal-zero-subtree-root-valid-tree-root-random-proof-is-empty.json",
    ]


def check_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: list[bytes], root: bytes, want_err: bool
) -> None:
    if want_err:
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf_hash, proof, root)
    else:
        verify_inclusion(index, size, leaf_hash, proof, root)
        assert root_from_inclusion_proof(index, size, leaf_hash, proof) == root


def check_consistency(
    size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes, want_err: bool
) -> None:
    if want_err:
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, root1, root2)
    else:
        verify_consistency(size1, size2, proof, root1, root2)


@pytest.mark.parametrize("path", INCLUSION_PROBES, ids=probe_id)
def test_inclusion_probe(path: Path) -> None:
    p = load(path)
    check_inclusion(
        p["leafIdx"],
        p["treeSize"],
        b64(p["leafHash"]),
        b64_list(p["proof"]),
        b64(p["root"]),
        p["wantErr"],
    )


@pytest.mark.parametrize("path", CONSISTENCY_PROBES, ids=probe_id)
def test_consistency_probe(path: Path) -> None:
    p = load(path)
    check_consistency(
        p["size1"],
        p["size2"],
        b64_list(p["proof"]),
        b64(p["root1"]),
        b64(p["root2"]),
        p["wantErr"],
    )


@pytest.mark.parametrize("path", SUBTREE_INCLUSION_PROBES, ids=probe_id)
def test_subtree_inclusion_probe_from_start_zero(path: Path) -> None:
    # [0, end) is the whole tree of `end` leaves; leafIdx is absolute.
    p = load(path)
    check_inclusion(
        p["leafIdx"],
        p["end"],
        b64(p["leafHash"]),
        b64_list(p["proof"]),
        b64(p["root"]),
        p["wantErr"],
    )


@pytest.mark.parametrize("path", SUBTREE_CONSISTENCY_PROBES, ids=probe_id)
def test_subtree_consistency_probe_from_start_zero(path: Path) -> None:
    # [0, end) inside a tree of `size`: the consistency of tree size `end` with `size`.
    p = load(path)
    check_consistency(
        p["end"],
        p["size"],
        b64_list(p["proof"]),
        b64(p["root1"]),
        b64(p["root2"]),
        subtree_consistency_want_err(p),
    )


# --------------------------------------------------------------------------
# RFC 6962 known answers (the CT 8-leaf tree)

LEAVES = [bytes.fromhex(x) for x in KNOWN["leaves_hex"]]
ROOTS = {int(n): bytes.fromhex(h) for n, h in KNOWN["root_by_tree_size"].items()}
NODES = [[bytes.fromhex(h) for h in level] for level in KNOWN["node_hashes_by_level"]]


def ct_tree(size: int = len(LEAVES)) -> InMemoryTree:
    return InMemoryTree(ref.leaf_hash(d) for d in LEAVES[:size])


def test_known_answer_counts() -> None:
    # README: 4 hasher vectors, 8 leaves, 9 roots, 15 node hashes, 5 + 5 proofs.
    assert len(KNOWN["hasher_vectors"]) == 4
    assert len(LEAVES) == 8
    assert sorted(ROOTS) == list(range(9))
    assert sum(len(level) for level in NODES) == 15
    assert len(KNOWN["inclusion_proofs"]) == 5
    assert len(KNOWN["consistency_proofs"]) == 5


@pytest.mark.parametrize("vector", KNOWN["hasher_vectors"], ids=lambda v: v["desc"])
def test_hasher_vector(vector: dict[str, Any]) -> None:
    expected = bytes.fromhex(vector["expected"])
    if vector["op"] == "empty_root":
        got = [empty_root(), SHA256.empty_root(), ref.mth([])]
    elif vector["op"] == "hash_leaf":
        data = bytes.fromhex(vector["input_hex"])
        got = [hash_leaf(data), SHA256.hash_leaf(data), ref.leaf_hash(data)]
    else:
        assert vector["op"] == "hash_children"
        left, right = bytes.fromhex(vector["left_hex"]), bytes.fromhex(vector["right_hex"])
        got = [
            hash_children(left, right),
            SHA256.hash_children(left, right),
            ref.node_hash(left, right),
        ]
    assert got == [expected] * 3


@pytest.mark.parametrize("size", sorted(ROOTS))
def test_known_root(size: int) -> None:
    assert ct_tree(size).root() == ROOTS[size]
    assert ct_tree().root(size) == ROOTS[size]
    assert ref.mth(LEAVES[:size]) == ROOTS[size]


def test_known_node_hashes() -> None:
    tree = ct_tree()
    for level, hashes in enumerate(NODES):
        for index, expected in enumerate(hashes):
            assert tree.node(NodeID(level, index)) == expected
            assert ref.mth(LEAVES[index << level : (index + 1) << level]) == expected
        with pytest.raises(KeyError):
            tree.node(NodeID(level, len(hashes)))
    for index in range(len(LEAVES)):
        assert tree.leaf_hash(index) == NODES[0][index]


def test_known_roots_and_nodes_from_a_compact_range() -> None:
    compact = CompactRange()
    assert root_from_range(compact.hashes()) == ROOTS[0]
    for size in range(1, len(LEAVES) + 1):
        compact.append(ref.leaf_hash(LEAVES[size - 1]))
        assert root_from_range(compact.hashes()) == ROOTS[size]
    bulk = CompactRange()
    bulk.extend([ref.leaf_hash(d) for d in LEAVES[:6]])
    assert bulk.hashes() == [NODES[2][0], NODES[1][2]]
    for level, hashes in enumerate(NODES):
        for index, expected in enumerate(hashes):
            width = 1 << level
            assert perfect_root(NODES[0][index * width : (index + 1) * width]) == expected


def test_incomplete_node_is_not_served() -> None:
    # In a tree of 7 leaves the node over leaves [4, 8) is not complete yet.
    tree = ct_tree(7)
    assert tree.node(NodeID(1, 2)) == NODES[1][2]
    with pytest.raises(KeyError):
        tree.node(NodeID(2, 1))


@pytest.mark.parametrize(
    "case", KNOWN["inclusion_proofs"], ids=lambda c: f"{c['leaf_index']}-of-{c['tree_size']}"
)
def test_known_inclusion_proof(case: dict[str, Any]) -> None:
    index, size = case["leaf_index"], case["tree_size"]
    leaf_hash, root = bytes.fromhex(case["leaf_hash"]), bytes.fromhex(case["root"])
    proof = [bytes.fromhex(h) for h in case["proof"]]
    assert root == ROOTS[size]
    assert leaf_hash == ref.leaf_hash(LEAVES[index])
    assert ct_tree().inclusion_proof(index, size) == proof
    assert ct_tree(size).inclusion_proof(index) == proof
    assert ref.path(index, LEAVES[:size]) == proof
    verify_inclusion(index, size, leaf_hash, proof, root)
    assert root_from_inclusion_proof(index, size, leaf_hash, proof) == root


@pytest.mark.parametrize(
    "case", KNOWN["consistency_proofs"], ids=lambda c: f"{c['size1']}-to-{c['size2']}"
)
def test_known_consistency_proof(case: dict[str, Any]) -> None:
    size1, size2 = case["size1"], case["size2"]
    root1, root2 = bytes.fromhex(case["root1"]), bytes.fromhex(case["root2"])
    proof = [bytes.fromhex(h) for h in case["proof"]]
    assert (root1, root2) == (ROOTS[size1], ROOTS[size2])
    assert ct_tree().consistency_proof(size1, size2) == proof
    assert ct_tree(size2).consistency_proof(size1) == proof
    assert ref.proof(size1, LEAVES[:size2]) == proof
    verify_consistency(size1, size2, proof, root1, root2)


# --------------------------------------------------------------------------
# Rolling-hash vectors (trees of up to 130 leaves)

ROLLING_LEAVES = [bytes([i]) for i in range(130)]
ROLLING_BY_NAME = {v["name"]: v for v in ROLLING["vectors"]}


def bit_ceil(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


def valid_subtree(start: int, end: int) -> bool:
    # "valid_subtree" in subtree-rolling-hash-vectors.json.
    return start <= end and (start == 0 or start == end or start % bit_ceil(end - start) == 0)


def hexes(hashes: list[bytes]) -> str:
    return "".join(" " + h.hex() for h in hashes)


@dataclass
class Rolling:
    """The rolling SHA-256 of one family, and how many lines (with start == 0) it saw."""

    digest: Any
    lines: int = 0
    from_start_zero: int = 0

    def add(self, start: int, line: str) -> None:
        self.digest.update(line.encode())
        self.lines += 1
        self.from_start_zero += start == 0


def subtrees(end_max: int = 130) -> Iterator[tuple[int, int]]:
    for end in range(end_max + 1):
        for start in range(end + 1):
            if valid_subtree(start, end):
                yield start, end


def rolling_subtree_hash(ours: bool) -> Rolling:
    tree = InMemoryTree(hash_leaf(d) for d in ROLLING_LEAVES)
    acc = Rolling(hashlib.sha256())
    for start, end in subtrees():
        if not ours:
            h = ref.mth(ROLLING_LEAVES[start:end])
        elif start == 0:
            h = tree.root(end)
        else:  # MTH of the slice: the root of a tree built on it.
            h = InMemoryTree(hash_leaf(d) for d in ROLLING_LEAVES[start:end]).root()
        acc.add(start, f"[{start}, {end}) {h.hex()}\n")
    return acc


def rolling_inclusion(ours: bool) -> Rolling:
    tree = InMemoryTree(hash_leaf(d) for d in ROLLING_LEAVES)
    acc = Rolling(hashlib.sha256())
    for start, end in subtrees():
        for index in range(start, end):
            if ours and start == 0:
                proof = tree.inclusion_proof(index, end)
            else:
                proof = ref.path(index - start, ROLLING_LEAVES[start:end])
            acc.add(start, f"{index} [{start}, {end}){hexes(proof)}\n")
    return acc


def rolling_consistency(ours: bool) -> Rolling:
    tree = InMemoryTree(hash_leaf(d) for d in ROLLING_LEAVES)
    acc = Rolling(hashlib.sha256())
    for n in range(131):
        for start, end in subtrees(n):
            if ours and start == 0:
                proof = tree.consistency_proof(end, n)
            else:
                proof = ref.subtree_consistency_proof(start, end, ROLLING_LEAVES[:n])
            acc.add(start, f"[{start}, {end}) {n}{hexes(proof)}\n")
    return acc


ROLLING_FAMILIES = {
    "subtree_hash": rolling_subtree_hash,
    "subtree_inclusion_proof": rolling_inclusion,
    "subtree_consistency_proof": rolling_consistency,
}
# Line counts from the vector README: (all lines, lines with start == 0).
ROLLING_COUNTS = {
    "subtree_hash": (712, None),
    "subtree_inclusion_proof": (12_807, 8_515),
    "subtree_consistency_proof": (42_893, 8_646),
}


def test_rolling_vector_file_is_the_one_transcribed() -> None:
    # The line formats below are hard-coded; fail loudly if the file changes.
    assert ROLLING["tree"].startswith("130 leaves; leaf i (0-based) is the single byte i")
    assert {
        name: v["line"] for name, v in ROLLING_BY_NAME.items() if name != "subtree_covering"
    } == {
        "subtree_hash": "'[{start}, {end}) {hex(MTH(D[start:end]))}\\n'",
        "subtree_inclusion_proof": "'{index} [{start}, {end})' + ''.join(' '+hex(h) for h in "
        "PATH(index-start, D[start:end])) + '\\n'",
        "subtree_consistency_proof": "'[{start}, {end}) {n}' + ''.join(' '+hex(h) for h in "
        "SUBTREE_PROOF(start,end,n)) + '\\n'",
    }
    # subtree_covering (FindSubtrees) is Merkle Tree Certificates only: nothing in
    # ledger.merkle computes it, so it is the one family not reproduced.
    assert set(ROLLING_BY_NAME) == {*ROLLING_FAMILIES, "subtree_covering"}


@pytest.mark.parametrize("name", sorted(ROLLING_FAMILIES))
def test_rolling_hash_from_ledger_merkle(name: str) -> None:
    """Every start == 0 line from ledger.merkle, the start > 0 proof lines from the reference."""
    acc = ROLLING_FAMILIES[name](True)
    lines, from_start_zero = ROLLING_COUNTS[name]
    assert acc.lines == lines
    if from_start_zero is not None:
        assert acc.from_start_zero == from_start_zero
    assert acc.digest.hexdigest() == ROLLING_BY_NAME[name]["sha256"]


@pytest.mark.parametrize("name", sorted(ROLLING_FAMILIES))
def test_rolling_hash_from_reference_alone(name: str) -> None:
    """The reference itself is right (it supplies the start > 0 lines above)."""
    acc = ROLLING_FAMILIES[name](False)
    assert acc.digest.hexdigest() == ROLLING_BY_NAME[name]["sha256"]


# --------------------------------------------------------------------------
# Error messages (house style: got and want) and evidence


def message_of(exc: pytest.ExceptionInfo[ProofError]) -> str:
    assert isinstance(exc.value, LedgerError)
    assert exc.value.message == str(exc.value)
    return exc.value.message


KA_INCL = KNOWN["inclusion_proofs"][2]  # leaf 5 of 8
INDEX, SIZE = KA_INCL["leaf_index"], KA_INCL["tree_size"]
LEAF = bytes.fromhex(KA_INCL["leaf_hash"])
PATH = [bytes.fromhex(h) for h in KA_INCL["proof"]]
KA_CONS = KNOWN["consistency_proofs"][2]  # 6 -> 8
SIZE1, SIZE2 = KA_CONS["size1"], KA_CONS["size2"]
CONS = [bytes.fromhex(h) for h in KA_CONS["proof"]]


def test_inclusion_wrong_proof_size_message() -> None:
    want = len(ref.path(INDEX, LEAVES[:SIZE]))
    for proof in (PATH[:-1], [*PATH, PATH[0]], []):
        with pytest.raises(ProofError) as exc:
            verify_inclusion(INDEX, SIZE, LEAF, proof, ROOTS[SIZE])
        assert message_of(exc) == f"wrong proof size {len(proof)}, want {want}"
        assert exc.value.diagnostics()["code"] == "invalid_proof"


def test_inclusion_index_beyond_size_message() -> None:
    with pytest.raises(ProofError) as exc:
        verify_inclusion(SIZE, SIZE, LEAF, PATH, ROOTS[SIZE])
    assert message_of(exc) == f"index is beyond size: {SIZE} >= {SIZE}"
    with pytest.raises(ProofError) as exc:
        root_from_inclusion_proof(0, 0, LEAF, [])
    assert message_of(exc) == "index is beyond size: 0 >= 0"
    with pytest.raises(ProofError):
        verify_inclusion(-1, SIZE, LEAF, PATH, ROOTS[SIZE])


def test_inclusion_root_mismatch_carries_evidence() -> None:
    wrong_root = ROOTS[SIZE - 1]
    with pytest.raises(RootMismatchError) as exc:
        verify_inclusion(INDEX, SIZE, LEAF, PATH, wrong_root)
    err = exc.value
    assert isinstance(err, ProofError)
    assert err.calculated_root == ROOTS[SIZE]
    assert err.expected_root == wrong_root
    assert message_of(exc) == f"calculated root {ROOTS[SIZE].hex()}, want {wrong_root.hex()}"
    diagnostics = err.diagnostics()
    assert diagnostics["code"] == "root_mismatch"
    assert diagnostics["message"] == str(err)
    assert diagnostics["calculated_root"] == ROOTS[SIZE].hex()
    assert diagnostics["expected_root"] == wrong_root.hex()
    json.dumps(diagnostics)  # JSON-friendly


def test_hash_size_messages() -> None:
    with pytest.raises(ProofError) as exc:
        verify_inclusion(INDEX, SIZE, LEAF[:-1], PATH, ROOTS[SIZE])
    assert message_of(exc) == "leaf hash has unexpected size 31, want 32"
    with pytest.raises(ProofError) as exc:
        verify_inclusion(INDEX, SIZE, LEAF, PATH, ROOTS[SIZE] + b"\x00")
    assert message_of(exc) == "root has unexpected size 33, want 32"
    with pytest.raises(ProofError) as exc:
        verify_inclusion(INDEX, SIZE, LEAF, [PATH[0], b"", PATH[2]], ROOTS[SIZE])
    assert message_of(exc) == "proof hash 1 has unexpected size 0, want 32"
    with pytest.raises(ProofError) as exc:
        verify_consistency(SIZE1, SIZE2, CONS, ROOTS[SIZE1][:16], ROOTS[SIZE2])
    assert message_of(exc) == "root1 has unexpected size 16, want 32"
    with pytest.raises(ProofError) as exc:
        verify_consistency(SIZE1, SIZE2, CONS, ROOTS[SIZE1], b"")
    assert message_of(exc) == "root2 has unexpected size 0, want 32"
    with pytest.raises(ProofError) as exc:
        verify_consistency(SIZE1, SIZE2, [*CONS[:2], CONS[2] * 2], ROOTS[SIZE1], ROOTS[SIZE2])
    assert message_of(exc) == "proof hash 2 has unexpected size 64, want 32"


def test_hash_size_follows_the_hasher() -> None:
    sha512 = Hasher(hashlib.sha512, 64)
    with pytest.raises(ProofError) as exc:
        verify_inclusion(INDEX, SIZE, LEAF, PATH, ROOTS[SIZE], hasher=sha512)
    assert message_of(exc) == "root has unexpected size 32, want 64"


def test_consistency_size_messages() -> None:
    with pytest.raises(ProofError) as exc:
        verify_consistency(SIZE2, SIZE1, CONS, ROOTS[SIZE2], ROOTS[SIZE1])
    assert message_of(exc) == f"size2 ({SIZE1}) < size1 ({SIZE2})"
    with pytest.raises(ProofError) as exc:
        verify_consistency(SIZE2, SIZE2, CONS[:1], ROOTS[SIZE2], ROOTS[SIZE2])
    assert message_of(exc) == f"size1 == size2 == {SIZE2}, but the proof has 1 hashes"
    with pytest.raises(ProofError) as exc:
        verify_consistency(0, SIZE2, [], ROOTS[0], ROOTS[SIZE2])
    assert message_of(exc) == "consistency proof from the empty tree is meaningless"
    with pytest.raises(ProofError) as exc:
        verify_consistency(SIZE1, SIZE2, [], ROOTS[SIZE1], ROOTS[SIZE2])
    assert message_of(exc) == f"empty consistency proof from {SIZE1} to {SIZE2}"
    want = len(ref.proof(SIZE1, LEAVES[:SIZE2]))
    for proof in (CONS[:-1], [*CONS, CONS[0]]):
        with pytest.raises(ProofError) as exc:
            verify_consistency(SIZE1, SIZE2, proof, ROOTS[SIZE1], ROOTS[SIZE2])
        assert message_of(exc) == f"wrong proof size {len(proof)}, want {want}"


def test_consistency_root_mismatch_messages() -> None:
    # Equal sizes: the roots themselves are compared.
    with pytest.raises(RootMismatchError) as exc:
        verify_consistency(SIZE2, SIZE2, [], ROOTS[SIZE1], ROOTS[SIZE2])
    assert (exc.value.calculated_root, exc.value.expected_root) == (ROOTS[SIZE1], ROOTS[SIZE2])
    assert message_of(exc) == f"calculated root {ROOTS[SIZE1].hex()}, want {ROOTS[SIZE2].hex()}"
    # Wrong first root: the proof leads to the real root of size1.
    wrong = ROOTS[SIZE1 - 1]
    with pytest.raises(RootMismatchError) as exc:
        verify_consistency(SIZE1, SIZE2, CONS, wrong, ROOTS[SIZE2])
    assert (exc.value.calculated_root, exc.value.expected_root) == (ROOTS[SIZE1], wrong)
    assert message_of(exc) == f"calculated root {ROOTS[SIZE1].hex()}, want {wrong.hex()}"
    assert exc.value.diagnostics()["code"] == "root_mismatch"
    # Wrong second root: the proof leads to the real root of size2.
    wrong = ROOTS[SIZE2 - 1]
    with pytest.raises(RootMismatchError) as exc:
        verify_consistency(SIZE1, SIZE2, CONS, ROOTS[SIZE1], wrong)
    assert (exc.value.calculated_root, exc.value.expected_root) == (ROOTS[SIZE2], wrong)
    assert message_of(exc) == f"calculated root {ROOTS[SIZE2].hex()}, want {wrong.hex()}"


def test_construction_messages() -> None:
    with pytest.raises(ProofError) as exc:
        inclusion_nodes(SIZE, SIZE)
    assert message_of(exc) == f"index {SIZE} out of bounds for tree size {SIZE}"
    with pytest.raises(ProofError) as exc:
        consistency_nodes(SIZE2 + 1, SIZE2)
    assert message_of(exc) == f"tree size {SIZE2 + 1} > {SIZE2}"
    nodes = inclusion_nodes(INDEX, SIZE)
    assert isinstance(nodes, Nodes)
    want = len(nodes.ids)
    with pytest.raises(ProofError) as exc:
        nodes.rehash(PATH[:-1], hash_children)
    assert message_of(exc) == f"got {want - 1} hashes, want {want}"


def test_consistency_from_the_empty_tree_is_refused_even_to_the_empty_tree() -> None:
    """Vector README rule 2 and verify_consistency's docstring: no proof from size 0.

    The probe consistency/additional/sizes-are-equal-zero-and-proof-is-empty.json
    (wantErr) only fails today because its roots are 12 bytes long; with 32-byte
    roots, 0 -> 0 must still fail, whatever the roots.
    """
    for root in (ROOTS[0], ROOTS[1]):
        with pytest.raises(ProofError):
            verify_consistency(0, 0, [], root, root)
    for size2 in range(1, len(LEAVES) + 1):
        with pytest.raises(ProofError):
            verify_consistency(0, size2, [], ROOTS[0], ROOTS[size2])
