"""The Solidity RFC9162 library agrees with the Python verifier on every public probe.

Vectors: tests/vectors/merkle-rfc6962/transparency-dev/{consistency,inclusion}/** (see
the README there for source, commit and licence). For each probe the Python verifier
(``ledger.merkle.verify_consistency`` / ``verify_inclusion``) gives the verdict, and the
library, through tests/contracts/RFC9162Harness.sol, must give the same one: accept
what Python accepts, and revert with the custom error that matches Python's exception
(the same got/want, the same calculated/expected roots) for what Python refuses. Both
must also agree with the probe's ``wantErr``.

Probes with a hash that is not 32 bytes cannot be passed as ``bytes32``: they are counted
(the exact number is asserted) and the Python verifier must refuse each of them.

The consistency probes that extend a non-empty tree also go through LogAnchor itself,
anchored first at (size1, root1).
"""

from __future__ import annotations

import ast
import base64
import itertools
import json
import re
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from hypothesis import given, settings
from hypothesis import strategies as st
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError

from ledger.chain.compiler import compile_contracts
from ledger.merkle import (
    InMemoryTree,
    ProofError,
    RootMismatchError,
    hash_leaf,
    verify_consistency,
    verify_inclusion,
)
from ledger.merkle.proof import (
    _chain_border_right,
    _chain_inner,
    _chain_inner_right,
    _decomp_incl_proof,
)
from ledger.merkle.rfc9162 import SHA256

PROBES = Path(__file__).resolve().parents[1] / "vectors" / "merkle-rfc6962" / "transparency-dev"
HARNESS = "tests/contracts/RFC9162Harness.sol"

Deploy = Callable[..., Contract]  # the conftest's deploy fixture
Verdict = tuple[str, tuple[Any, ...]] | None
"""None for "accepted", else the custom error (name, arguments) expected from the library."""


# --------------------------------------------------------------------------
# Probes


def b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def probe_id(path: Path) -> str:
    return path.relative_to(PROBES).as_posix()


def consistency_args(p: dict[str, Any]) -> tuple[int, int, list[bytes], bytes, bytes]:
    proof = [b64(h) for h in p["proof"] or []]
    return p["size1"], p["size2"], proof, b64(p["root1"]), b64(p["root2"])


def inclusion_args(p: dict[str, Any]) -> tuple[int, int, bytes, list[bytes], bytes]:
    proof = [b64(h) for h in p["proof"] or []]
    return p["leafIdx"], p["treeSize"], b64(p["leafHash"]), proof, b64(p["root"])


def all_bytes32(*values: bytes | Sequence[bytes]) -> bool:
    hashes = [v for value in values for v in ([value] if isinstance(value, bytes) else value)]
    return all(len(h) == 32 for h in hashes)


CONSISTENCY = sorted((PROBES / "consistency").rglob("*.json"))
INCLUSION = sorted((PROBES / "inclusion").rglob("*.json"))
CONSISTENCY_SENT = [p for p in CONSISTENCY if all_bytes32(*consistency_args(load(p))[2:])]
INCLUSION_SENT = [p for p in INCLUSION if all_bytes32(*inclusion_args(load(p))[2:])]
CONSISTENCY_UNSENDABLE = sorted(set(CONSISTENCY) - set(CONSISTENCY_SENT))
INCLUSION_UNSENDABLE = sorted(set(INCLUSION) - set(INCLUSION_SENT))


def test_every_probe_is_sent_or_counted() -> None:
    # 98 + 98 probe files (vector README). Not 32 bytes: garbage / empty / short "wrong root"
    # hashes — 4 per consistency base case and 11 "additional" ones; 3 per inclusion base
    # case and 11 "additional"/"single-entry" ones.
    assert (len(CONSISTENCY), len(CONSISTENCY_SENT), len(CONSISTENCY_UNSENDABLE)) == (98, 71, 27)
    assert (len(INCLUSION), len(INCLUSION_SENT), len(INCLUSION_UNSENDABLE)) == (98, 72, 26)


def test_every_unsendable_probe_gets_its_verdict_from_python() -> None:
    """What cannot be sent is still checked: Python alone must agree with ``wantErr``."""
    accepted = []
    for path in CONSISTENCY_UNSENDABLE:
        p = load(path)
        verdict = python_verdict(lambda p=p: verify_consistency(*consistency_args(p)))
        assert (verdict is not None) == p["wantErr"], probe_id(path)
        accepted += [] if verdict else [probe_id(path)]
    for path in INCLUSION_UNSENDABLE:
        p = load(path)
        index, size, leaf, proof, root = inclusion_args(p)
        verdict = python_verdict(lambda: verify_inclusion(index, size, leaf, proof, root))  # noqa: B023
        assert (verdict is not None) == p["wantErr"], probe_id(path)
        accepted += [] if verdict else [probe_id(path)]
    # The one probe accepted: sizes equal (1), no proof, two equal 12-byte roots. Nothing is
    # hashed there, so the hash length does not matter (as in Go's verify.go); as bytes32
    # it would be two equal roots, which test_equal_and_empty_sizes covers.
    assert accepted == ["consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"]


# --------------------------------------------------------------------------
# The Python verdict, as the library's custom error

_MESSAGES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], tuple[str, tuple[int, ...]]]]] = [
    (
        re.compile(r"wrong proof size (\d+), want (\d+)"),
        lambda m: ("RFC9162WrongProofSize", (int(m[1]), int(m[2]))),
    ),
    (
        re.compile(r"size1 == size2 == \d+, but the proof has (\d+) hashes"),
        lambda m: ("RFC9162WrongProofSize", (int(m[1]), 0)),
    ),
    (
        re.compile(r"size2 \((\d+)\) < size1 \((\d+)\)"),
        lambda m: ("RFC9162SizeDecreased", (int(m[2]), int(m[1]))),
    ),
    (
        re.compile(r"empty consistency proof from (\d+) to (\d+)"),
        lambda m: ("RFC9162EmptyProof", (int(m[1]), int(m[2]))),
    ),
    (
        re.compile(r"index is beyond size: (\d+) >= (\d+)"),
        lambda m: ("RFC9162IndexBeyondSize", (int(m[1]), int(m[2]))),
    ),
]


_HASH_SIZE = re.compile(
    r"(root1|root2|root|leaf hash|proof hash \d+) has unexpected size \d+, want 32"
)


def python_verdict(verify: Callable[[], object], size2: int = 0) -> Verdict:
    """Run a Python verification; translate its exception into the library's custom error."""
    try:
        verify()
    except RootMismatchError as exc:
        return "RFC9162RootMismatch", (exc.calculated_root, exc.expected_root)
    except ProofError as exc:
        if exc.message == "consistency proof from the empty tree is meaningless":
            return "RFC9162ProofFromEmptyTree", (size2,)
        for pattern, error in _MESSAGES:
            if m := pattern.fullmatch(exc.message):
                return error(m)
        if _HASH_SIZE.fullmatch(exc.message):
            return "wrong hash size", ()  # only for probes that cannot be sent as bytes32
        raise AssertionError(f"no library error for Python's {exc.message!r}") from exc
    return None


# --------------------------------------------------------------------------
# The harness on its own chain


def error_abis(contract: Contract) -> dict[bytes, tuple[str, list[str]]]:
    out: dict[bytes, tuple[str, list[str]]] = {}
    for item in contract.abi:
        if item["type"] == "error":
            types = [i["type"] for i in item["inputs"]]
            out[Web3.keccak(text=f"{item['name']}({','.join(types)})")[:4]] = (item["name"], types)
    return out


def revert_data(exc: BaseException) -> bytes:
    """Revert data from ``ContractCustomError`` (JSON-RPC) or from web3's eth-tester provider,
    which re-raises ``TransactionFailed("execution reverted: <repr of the bytes>")``."""
    if isinstance(exc, ContractCustomError) and isinstance(exc.data, str):
        return bytes.fromhex(exc.data.removeprefix("0x"))
    literal = ast.literal_eval(str(exc.args[0]).removeprefix("execution reverted: "))
    assert isinstance(literal, bytes), exc
    return literal


def outcome(contract: Contract, call: Any, sender: str | None = None) -> tuple[Verdict, Any]:
    """(None, the return value) when ``call`` succeeds, else (its custom error, None)."""
    try:
        return None, call.call({"from": sender} if sender else {})
    except (ContractCustomError, TransactionFailed) as exc:
        data = revert_data(exc)
        name, types = error_abis(contract)[data[:4]]
        return (name, tuple(decode(types, data[4:]))), None


@cache
def harness_artifact() -> dict[str, Any]:
    """RFC9162Harness (under tests/, so never shipped) with the pinned compiler and settings."""
    return compile_contracts([HARNESS])["RFC9162Harness"]


@pytest.fixture(scope="module")
def harness() -> Contract:
    """One harness, on a chain of its own, for every probe of this module."""
    w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
    a = harness_artifact()
    factory = w3.eth.contract(abi=a["abi"], bytecode=a["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor().transact({"from": w3.eth.accounts[0]})
    )
    return w3.eth.contract(address=receipt["contractAddress"], abi=a["abi"])


# --------------------------------------------------------------------------
# Every probe


@pytest.mark.parametrize("path", CONSISTENCY_SENT, ids=probe_id)
def test_consistency_probe(harness: Contract, path: Path) -> None:
    p = load(path)
    size1, size2, proof, root1, root2 = consistency_args(p)
    want = python_verdict(lambda: verify_consistency(size1, size2, proof, root1, root2), size2)
    assert (want is not None) == p["wantErr"]
    got, _ = outcome(
        harness, harness.functions.verifyConsistency(size1, size2, proof, root1, root2)
    )
    assert got == want


@pytest.mark.parametrize("path", INCLUSION_SENT, ids=probe_id)
def test_inclusion_probe(harness: Contract, path: Path) -> None:
    p = load(path)
    index, size, leaf, proof, root = inclusion_args(p)
    want = python_verdict(lambda: verify_inclusion(index, size, leaf, proof, root))
    assert (want is not None) == p["wantErr"]
    got, _ = outcome(harness, harness.functions.verifyInclusion(index, size, leaf, proof, root))
    assert got == want
    # rootFromInclusionProof: the probe's root for a valid probe, else only a malformed-proof error.
    got, calculated = outcome(
        harness, harness.functions.rootFromInclusionProof(index, size, leaf, proof)
    )
    if want is None:
        assert (got, calculated) == (None, root)
    elif want[0] == "RFC9162RootMismatch":
        assert (got, calculated) == (None, want[1][0])
    else:
        assert got == want


ANCHOR_PROBES = [p for p in CONSISTENCY_SENT if 0 < load(p)["size1"] < load(p)["size2"]]


def test_anchor_probes_cover_the_base_cases() -> None:
    assert len(ANCHOR_PROBES) == 61  # base cases 1-4 and their mutations that keep sizes
    assert sum(not load(p)["wantErr"] for p in ANCHOR_PROBES) == 4


def test_consistency_probes_through_log_anchor(
    tester: EthereumTester, w3: Web3, deploy: Deploy
) -> None:
    """LogAnchor anchored at (size1, root1) accepts (size2, root2, proof) iff Python does.

    One LogAnchor per distinct head, reused by every probe from it (a refused anchor changes
    nothing); an accepted one is sent for real in a snapshot, to see the head move.
    """
    admin, anchorer = w3.eth.accounts[:2]
    heads: dict[tuple[int, bytes], Contract] = {}
    disagreements = []
    for path in ANCHOR_PROBES:
        size1, size2, proof, root1, root2 = consistency_args(load(path))
        if (size1, root1) not in heads:
            anchor = deploy("LogAnchor", admin)
            f = anchor.functions
            role = f.ANCHORER_ROLE().call()
            w3.eth.wait_for_transaction_receipt(
                f.grantRole(role, anchorer).transact({"from": admin})
            )
            w3.eth.wait_for_transaction_receipt(
                f.anchor(size1, root1, []).transact({"from": anchorer})
            )
            heads[size1, root1] = anchor
        anchor = heads[size1, root1]
        want = python_verdict(lambda: verify_consistency(size1, size2, proof, root1, root2), size2)  # noqa: B023
        got, _ = outcome(anchor, anchor.functions.anchor(size2, root2, proof), anchorer)
        if got != want:
            disagreements.append((probe_id(path), got, want))
        elif want is None:
            snapshot = tester.take_snapshot()
            tx = anchor.functions.anchor(size2, root2, proof).transact({"from": anchorer})
            w3.eth.wait_for_transaction_receipt(tx)
            if anchor.functions.head().call() != [size2, root2]:
                disagreements.append((probe_id(path), "head did not move", None))
            tester.revert_to_snapshot(snapshot)
    assert disagreements == []
    assert len(heads) == 14  # the base cases and their size1 / root1 mutations


# --------------------------------------------------------------------------
# The library's parts against the Python functions of the same names

hashes32 = st.binary(min_size=32, max_size=32)


@settings(max_examples=40, deadline=None)
@given(
    index=st.integers(0, 2**64 - 2),
    extra=st.integers(1, 2**64 - 1),
)
def test_decomp_incl_proof(harness: Contract, index: int, extra: int) -> None:
    size = min(index + extra, 2**64 - 1)
    assert tuple(harness.functions.decompInclProof(index, size).call()) == _decomp_incl_proof(
        index, size
    )


@settings(max_examples=30, deadline=None)
@given(seed=hashes32, proof=st.lists(hashes32, max_size=12), index=st.integers(0, 2**64 - 1))
def test_chain_functions(harness: Contract, seed: bytes, proof: list[bytes], index: int) -> None:
    f = harness.functions
    assert f.chainInner(seed, proof, index).call() == _chain_inner(SHA256, seed, proof, index)
    assert f.chainInnerRight(seed, proof, index).call() == _chain_inner_right(
        SHA256, seed, proof, index
    )
    assert f.chainBorderRight(seed, proof).call() == _chain_border_right(SHA256, seed, proof)


def test_hash_children_and_known_answers(harness: Contract) -> None:
    """The 8-leaf CT tree of rfc6962-known-answers.json: every node, every proof."""
    known = json.loads((PROBES.parent / "rfc6962-known-answers.json").read_text("utf-8"))
    levels = [[bytes.fromhex(h) for h in level] for level in known["node_hashes_by_level"]]
    f = harness.functions
    for below, level in itertools.pairwise(levels):
        for i, node in enumerate(level):
            assert f.hashChildren(below[2 * i], below[2 * i + 1]).call() == node
    for v in known["consistency_proofs"]:
        proof = [bytes.fromhex(h) for h in v["proof"]]
        root1, root2 = bytes.fromhex(v["root1"]), bytes.fromhex(v["root2"])
        call = f.verifyConsistency(v["size1"], v["size2"], proof, root1, root2)
        assert outcome(harness, call)[0] is None
    for v in known["inclusion_proofs"]:
        proof = [bytes.fromhex(h) for h in v["proof"]]
        leaf, root = bytes.fromhex(v["leaf_hash"]), bytes.fromhex(v["root"])
        call = f.rootFromInclusionProof(v["leaf_index"], v["tree_size"], leaf, proof)
        assert call.call() == root


@pytest.mark.parametrize(
    ("size1", "size2", "same_roots", "proof_length"),
    [
        (0, 0, True, 0),
        (0, 0, False, 0),
        (0, 5, False, 0),
        (0, 5, False, 1),
        (1, 1, True, 0),
        (1, 1, False, 0),
        (6, 6, True, 1),
        (9, 9, True, 0),
        (5, 4, True, 0),
        (2**64 - 1, 2**64 - 1, True, 0),
    ],
)
def test_equal_and_empty_sizes(
    harness: Contract, size1: int, size2: int, same_roots: bool, proof_length: int
) -> None:
    """The cases no probe can send as bytes32: 0 -> 0, 0 -> n, equal sizes, a decrease."""
    root1 = hash_leaf(b"one")
    root2 = root1 if same_roots else hash_leaf(b"two")
    proof = [hash_leaf(b"p")] * proof_length
    want = python_verdict(lambda: verify_consistency(size1, size2, proof, root1, root2), size2)
    got, _ = outcome(
        harness, harness.functions.verifyConsistency(size1, size2, proof, root1, root2)
    )
    assert got == want
    assert (want is None) == (0 < size1 == size2 and same_roots and not proof)


def test_library_accepts_real_proofs_across_sizes(harness: Contract) -> None:
    tree = InMemoryTree(hash_leaf(i.to_bytes(4, "big")) for i in range(70))
    f = harness.functions
    for size2 in (1, 2, 3, 8, 9, 31, 64, 70):
        for size1 in sorted({1, 2, size2 // 2, size2 - 1, size2} & set(range(1, size2 + 1))):
            proof = tree.consistency_proof(size1, size2)
            call = f.verifyConsistency(size1, size2, proof, tree.root(size1), tree.root(size2))
            assert outcome(harness, call) == (None, [])
        for index in sorted({0, size2 // 3, size2 - 1}):
            proof = tree.inclusion_proof(index, size2)
            call = f.rootFromInclusionProof(index, size2, tree.leaf_hash(index), proof)
            assert call.call() == tree.root(size2)
