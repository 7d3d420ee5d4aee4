"""LogAnchor on eth-tester: who may anchor, which heads it accepts, what it stores and emits.

Expected values come from ``ledger.merkle`` (``InMemoryTree`` builds the trees and proofs,
``verify_consistency`` says why a tampered proof fails and with which roots), never from
the contract itself. Every revert is decoded and asserted by error name and arguments.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from eth_abi import decode
from eth_tester.exceptions import TransactionFailed
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError

from ledger.merkle import InMemoryTree, ProofError, RootMismatchError, hash_leaf, verify_consistency

Deploy = Callable[..., Contract]  # the conftest's deploy fixture

ANCHORER_ROLE = Web3.keccak(text="ANCHORER_ROLE")
DEFAULT_ADMIN_ROLE = b"\x00" * 32
ANCHORED_TOPIC = Web3.keccak(text="Anchored(uint64,bytes32,uint64)")
ZERO_ROOT = b"\x00" * 32
TREE_SIZE = 64

# --------------------------------------------------------------------------
# Helpers


def leaves(n: int, tag: str = "entry") -> list[bytes]:
    return [hash_leaf(f"{tag} {i}".encode()) for i in range(n)]


TREE = InMemoryTree(leaves(TREE_SIZE))


def flip_bit(value: bytes, bit: int = 0) -> bytes:
    out = bytearray(value)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def error_abis(contract: Contract) -> dict[bytes, tuple[str, list[str]]]:
    """Selector -> (error name, argument types), from the contract's ABI."""
    out: dict[bytes, tuple[str, list[str]]] = {}
    for item in contract.abi:
        if item["type"] == "error":
            types = [i["type"] for i in item["inputs"]]
            selector = Web3.keccak(text=f"{item['name']}({','.join(types)})")[:4]
            out[selector] = (item["name"], types)
    return out


def revert_data(exc: BaseException) -> bytes:
    """The raw revert data (selector + ABI-encoded arguments) of a failed call.

    Over JSON-RPC web3 raises ``ContractCustomError`` with the data as hex. Its
    ``EthereumTesterProvider`` instead re-raises eth-tester's ``TransactionFailed`` as
    ``"execution reverted: <repr of the revert bytes>"``, so the bytes are read back from
    that literal.
    """
    if isinstance(exc, ContractCustomError) and isinstance(exc.data, str):
        return bytes.fromhex(exc.data.removeprefix("0x"))
    message = str(exc.args[0])
    literal = ast.literal_eval(message.removeprefix("execution reverted: "))
    assert isinstance(literal, bytes), message
    return literal


def custom_error(contract: Contract, exc: BaseException) -> tuple[str, tuple[Any, ...]]:
    """Decode a revert into (error name, arguments) with the contract's ABI."""
    data = revert_data(exc)
    name, types = error_abis(contract)[data[:4]]
    return name, tuple(decode(types, data[4:]))


def revert_of(contract: Contract, call: Any, sender: str) -> tuple[str, tuple[Any, ...]]:
    """The custom error with which ``call`` reverts when sent by ``sender``."""
    with pytest.raises((ContractCustomError, TransactionFailed)) as exc:
        call.call({"from": sender})
    return custom_error(contract, exc.value)


def anchored_events(contract: Contract, receipt: Any) -> list[tuple[int, bytes, int]]:
    return [
        (e["args"]["treeSize"], e["args"]["rootHash"], e["args"]["previousSize"])
        for e in contract.events.Anchored().process_receipt(receipt)
    ]


def python_accepts(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    try:
        verify_consistency(size1, size2, proof, root1, root2)
    except ProofError:
        return False
    return True


def python_root_mismatch(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> tuple[str, tuple[bytes, bytes]]:
    """The RFC9162RootMismatch the Python verifier predicts (it must raise RootMismatchError)."""
    with pytest.raises(RootMismatchError) as exc:
        verify_consistency(size1, size2, proof, root1, root2)
    return "RFC9162RootMismatch", (exc.value.calculated_root, exc.value.expected_root)


# --------------------------------------------------------------------------
# Fixtures


class Anchor:
    """A deployed LogAnchor with its admin, anchorer and a stranger, and small helpers."""

    def __init__(self, w3: Web3, contract: Contract) -> None:
        self.w3 = w3
        self.contract = contract
        self.admin, self.anchorer, self.stranger = w3.eth.accounts[:3]

    def send(self, size: int, root: bytes, proof: Sequence[bytes] = ()) -> Any:
        tx = self.contract.functions.anchor(size, root, list(proof)).transact(
            {"from": self.anchorer}
        )
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt["status"] == 1
        return receipt

    def refused(
        self, size: int, root: bytes, proof: Sequence[bytes] = (), sender: str | None = None
    ) -> tuple[str, tuple[Any, ...]]:
        call = self.contract.functions.anchor(size, root, list(proof))
        return revert_of(self.contract, call, sender or self.anchorer)

    def head(self) -> tuple[int, bytes]:
        size, root = self.contract.functions.head().call()
        return size, root

    def root_at(self, size: int) -> bytes:
        root: bytes = self.contract.functions.rootAt(size).call()
        return root


@pytest.fixture
def log_anchor(w3: Web3, deploy: Deploy) -> Anchor:
    contract = deploy("LogAnchor", w3.eth.accounts[0])
    a = Anchor(w3, contract)
    tx = contract.functions.grantRole(ANCHORER_ROLE, a.anchorer).transact({"from": a.admin})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    return a


@pytest.fixture
def anchored(log_anchor: Anchor) -> Callable[[int], Anchor]:
    """The LogAnchor with its head at ``size1`` of TREE (a first anchor)."""

    def at(size1: int) -> Anchor:
        log_anchor.send(size1, TREE.root(size1))
        return log_anchor

    return at


# --------------------------------------------------------------------------
# Deployment and roles


def test_deploy_grants_admin_only(log_anchor: Anchor) -> None:
    f = log_anchor.contract.functions
    assert f.ANCHORER_ROLE().call() == ANCHORER_ROLE
    assert f.hasRole(DEFAULT_ADMIN_ROLE, log_anchor.admin).call()
    assert not f.hasRole(ANCHORER_ROLE, log_anchor.admin).call()
    assert f.hasRole(ANCHORER_ROLE, log_anchor.anchorer).call()  # granted by the fixture
    assert log_anchor.head() == (0, ZERO_ROOT)
    assert log_anchor.root_at(0) == ZERO_ROOT


def test_supports_its_interfaces(log_anchor: Anchor) -> None:
    def interface_id(*signatures: str) -> bytes:
        out = 0
        for s in signatures:
            out ^= int.from_bytes(Web3.keccak(text=s)[:4], "big")
        return out.to_bytes(4, "big")

    f = log_anchor.contract.functions
    assert f.supportsInterface(
        interface_id("anchor(uint64,bytes32,bytes32[])", "head()", "rootAt(uint64)")
    ).call()
    assert f.supportsInterface(
        interface_id(
            "hasRole(bytes32,address)",
            "getRoleAdmin(bytes32)",
            "grantRole(bytes32,address)",
            "revokeRole(bytes32,address)",
            "renounceRole(bytes32,address)",
        )
    ).call()
    assert not f.supportsInterface(b"\xde\xad\xbe\xef").call()


def test_deploy_refuses_the_zero_admin(log_anchor: Anchor, deploy: Deploy) -> None:
    zero = "0x" + "00" * 20
    with pytest.raises((ContractCustomError, TransactionFailed)) as exc:
        deploy("LogAnchor", zero)
    assert custom_error(log_anchor.contract, exc.value) == ("LogAnchorInvalidAdmin", (zero,))


@pytest.mark.parametrize("who", ["admin", "stranger"])
def test_only_the_anchorer_may_anchor(log_anchor: Anchor, who: str) -> None:
    sender = getattr(log_anchor, who)
    want = ("AccessControlUnauthorizedAccount", sender, ANCHORER_ROLE)
    name, (account, role) = log_anchor.refused(5, TREE.root(5), sender=sender)
    assert (name, to_checksum_address(account), role) == want
    assert log_anchor.head() == (0, ZERO_ROOT)
    log_anchor.send(5, TREE.root(5))
    # Even the harmless re-anchor of the head, and a valid extension, are refused to others.
    for size, proof in ((5, []), (9, TREE.consistency_proof(5, 9))):
        name, (account, role) = log_anchor.refused(size, TREE.root(size), proof, sender=sender)
        assert (name, to_checksum_address(account), role) == want


def test_a_revoked_anchorer_is_refused(log_anchor: Anchor) -> None:
    f = log_anchor.contract.functions
    tx = f.revokeRole(ANCHORER_ROLE, log_anchor.anchorer).transact({"from": log_anchor.admin})
    log_anchor.w3.eth.wait_for_transaction_receipt(tx)
    name, (account, role) = log_anchor.refused(3, TREE.root(3))
    assert (name, to_checksum_address(account), role) == (
        "AccessControlUnauthorizedAccount",
        log_anchor.anchorer,
        ANCHORER_ROLE,
    )


# --------------------------------------------------------------------------
# Accepted anchors: state and events


def test_first_anchor_sets_the_head_and_emits(log_anchor: Anchor) -> None:
    receipt = log_anchor.send(7, TREE.root(7))
    assert anchored_events(log_anchor.contract, receipt) == [(7, TREE.root(7), 0)]
    (log,) = receipt["logs"]
    assert log["topics"] == [ANCHORED_TOPIC, (7).to_bytes(32, "big")]
    assert log_anchor.head() == (7, TREE.root(7))
    assert log_anchor.root_at(7) == TREE.root(7)
    for size in (0, 1, 6, 8, 2**64 - 1):
        assert log_anchor.root_at(size) == ZERO_ROOT


def test_extension_moves_the_head_and_keeps_the_past(log_anchor: Anchor) -> None:
    log_anchor.send(6, TREE.root(6))
    receipt = log_anchor.send(13, TREE.root(13), TREE.consistency_proof(6, 13))
    assert anchored_events(log_anchor.contract, receipt) == [(13, TREE.root(13), 6)]
    assert log_anchor.head() == (13, TREE.root(13))
    assert log_anchor.root_at(6) == TREE.root(6)
    assert log_anchor.root_at(13) == TREE.root(13)
    assert log_anchor.root_at(7) == ZERO_ROOT


@pytest.mark.parametrize("stale_proof", [False, True], ids=["empty-proof", "resent-proof"])
def test_reanchoring_the_head_is_a_silent_no_op(log_anchor: Anchor, stale_proof: bool) -> None:
    log_anchor.send(4, TREE.root(4))
    proof = TREE.consistency_proof(4, 9)
    log_anchor.send(9, TREE.root(9), proof)
    block = log_anchor.w3.eth.block_number
    # The same transaction sent again (with its proof) or a bare re-anchor: accepted, no event.
    receipt = log_anchor.send(9, TREE.root(9), proof if stale_proof else [])
    assert receipt["blockNumber"] == block + 1
    assert receipt["logs"] == []
    assert log_anchor.head() == (9, TREE.root(9))
    assert log_anchor.root_at(4) == TREE.root(4)


def test_a_tree_growing_in_random_steps_is_anchored_all_the_way(log_anchor: Anchor) -> None:
    rng = random.Random(9162)
    tree = InMemoryTree()
    anchored: list[int] = []
    previous = 0
    while len(anchored) < 16:
        step = rng.choice([1, 1, 2, 3, rng.randint(1, 40), rng.randint(1, 400)])
        tree.extend(hash_leaf(rng.randbytes(20)) for _ in range(step))
        size = tree.size
        proof = tree.consistency_proof(previous, size) if previous else []
        receipt = log_anchor.send(size, tree.root(size), proof)
        assert anchored_events(log_anchor.contract, receipt) == [(size, tree.root(size), previous)]
        anchored.append(size)
        previous = size
    assert log_anchor.head() == (tree.size, tree.root())
    for size in anchored:
        assert log_anchor.root_at(size) == tree.root(size)
    never = sorted({s + d for s in anchored for d in (-1, 1)} - set(anchored) - {0})
    assert never
    for size in never:
        assert log_anchor.root_at(size) == ZERO_ROOT


# --------------------------------------------------------------------------
# Refused anchors


def test_tree_size_zero_is_refused(log_anchor: Anchor) -> None:
    root = TREE.root(0)
    assert log_anchor.refused(0, root) == ("LogAnchorZeroTreeSize", (root,))
    log_anchor.send(3, TREE.root(3))
    assert log_anchor.refused(0, root) == ("LogAnchorZeroTreeSize", (root,))


def test_zero_root_is_refused(log_anchor: Anchor) -> None:
    assert log_anchor.refused(3, ZERO_ROOT) == ("LogAnchorZeroRoot", (3,))
    log_anchor.send(3, TREE.root(3))
    assert log_anchor.refused(4, ZERO_ROOT, TREE.consistency_proof(3, 4)) == (
        "LogAnchorZeroRoot",
        (4,),
    )


def test_first_anchor_with_a_proof_is_refused(log_anchor: Anchor) -> None:
    proof = TREE.consistency_proof(2, 5)
    assert log_anchor.refused(5, TREE.root(5), proof) == (
        "LogAnchorUnexpectedProof",
        (5, len(proof)),
    )
    assert log_anchor.head() == (0, ZERO_ROOT)


def test_a_smaller_size_is_refused_even_with_its_true_root(
    anchored: Callable[[int], Anchor],
) -> None:
    a = anchored(5)
    a.send(10, TREE.root(10), TREE.consistency_proof(5, 10))
    for size in (9, 5, 1):
        assert a.refused(size, TREE.root(size)) == (
            "LogAnchorTreeSizeBelowHead",
            (10, TREE.root(10), size, TREE.root(size)),
        )
    assert a.head() == (10, TREE.root(10))


def test_the_head_size_with_another_root_is_refused(anchored: Callable[[int], Anchor]) -> None:
    a = anchored(8)
    other = InMemoryTree(leaves(8, "forked")).root()
    assert a.refused(8, other) == ("LogAnchorRootConflict", (8, TREE.root(8), other))
    assert a.refused(8, flip_bit(TREE.root(8))) == (
        "LogAnchorRootConflict",
        (8, TREE.root(8), flip_bit(TREE.root(8))),
    )


def test_a_failed_anchor_transaction_changes_nothing(anchored: Callable[[int], Anchor]) -> None:
    a = anchored(6)
    proof = TREE.consistency_proof(6, 8)
    tx = a.contract.functions.anchor(8, TREE.root(8), [flip_bit(proof[0]), *proof[1:]]).transact(
        {"from": a.anchorer, "gas": 300_000}  # a gas limit: sent and mined, not estimated
    )
    receipt = a.w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    assert a.head() == (6, TREE.root(6))
    assert a.root_at(8) == ZERO_ROOT


PAIRS = [(1, 2), (1, 8), (3, 7), (4, 8), (6, 8), (5, 13), (33, 64)]
"""(size1, size2): from one leaf, from odd and even sizes, from a power of two (the proof
starts from the head's root), with and without a right border."""


@pytest.mark.parametrize(("size1", "size2"), PAIRS)
def test_a_proof_of_the_wrong_length_is_refused(
    anchored: Callable[[int], Anchor], size1: int, size2: int
) -> None:
    a = anchored(size1)
    proof = TREE.consistency_proof(size1, size2)
    root2 = TREE.root(size2)
    n = len(proof)
    assert a.refused(size2, root2, [*proof, proof[0]]) == ("RFC9162WrongProofSize", (n + 1, n))
    assert a.refused(size2, root2, [TREE.root(size1), *proof]) == (
        "RFC9162WrongProofSize",
        (n + 1, n),
    )
    truncated = proof[:-1]
    if truncated:
        assert a.refused(size2, root2, truncated) == ("RFC9162WrongProofSize", (n - 1, n))
    else:
        assert a.refused(size2, root2, truncated) == ("RFC9162EmptyProof", (size1, size2))
    assert a.refused(size2, root2, []) == ("RFC9162EmptyProof", (size1, size2))


@pytest.mark.parametrize(("size1", "size2"), PAIRS)
def test_a_proof_with_a_flipped_bit_is_refused(
    anchored: Callable[[int], Anchor], size1: int, size2: int
) -> None:
    a = anchored(size1)
    proof = TREE.consistency_proof(size1, size2)
    root1, root2 = TREE.root(size1), TREE.root(size2)
    for i in range(len(proof)):
        for bit in (0, 255):
            bad = [*proof[:i], flip_bit(proof[i], bit), *proof[i + 1 :]]
            want = python_root_mismatch(size1, size2, bad, root1, root2)
            assert want[1][1] in (root1, root2)
            assert a.refused(size2, root2, bad) == want
    a.send(size2, root2, proof)  # and the untouched proof is accepted


@pytest.mark.parametrize(("size1", "size2"), PAIRS)
def test_a_tree_that_rewrites_the_anchored_history_is_refused(
    anchored: Callable[[int], Anchor], size1: int, size2: int
) -> None:
    """The wrong root1: the new tree's proof is honest, but for another prefix of size1."""
    a = anchored(size1)
    rewritten_leaves = leaves(TREE_SIZE)
    rewritten_leaves[size1 - 1] = hash_leaf(b"rewritten")  # one anchored entry changed
    rewritten = InMemoryTree(rewritten_leaves)
    proof = rewritten.consistency_proof(size1, size2)
    want = python_root_mismatch(size1, size2, proof, TREE.root(size1), rewritten.root(size2))
    # The anchored root does not match, unless size1 is a power of two: then the proof starts
    # from the anchored root itself and the new root is the one that cannot be reached.
    power_of_two = size1 & (size1 - 1) == 0
    assert want[1][1] == (rewritten.root(size2) if power_of_two else TREE.root(size1))
    assert a.refused(size2, rewritten.root(size2), proof) == want


@pytest.mark.parametrize(("size1", "size2"), PAIRS)
def test_a_root_the_proof_does_not_lead_to_is_refused(
    anchored: Callable[[int], Anchor], size1: int, size2: int
) -> None:
    """The wrong root2: an honest proof, a new root that is not the tree's."""
    a = anchored(size1)
    proof = TREE.consistency_proof(size1, size2)
    for root2 in (flip_bit(TREE.root(size2), 7), TREE.root(size2 - 1)):
        want = ("RFC9162RootMismatch", (TREE.root(size2), root2))
        assert python_root_mismatch(size1, size2, proof, TREE.root(size1), root2) == want
        assert a.refused(size2, root2, proof) == want


# --------------------------------------------------------------------------
# Property: a tampered proof or root is never accepted

TAMPERINGS = ["flip-proof", "flip-root2", "flip-root1", "drop", "insert", "swap", "other-size"]
HEADS = [1, 2, 4, 5, 6, 7, 13, 32, 33, 63]
"""Head sizes to extend: powers of two (the proof starts from the head's root) and others."""


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_tampered_proof_or_root_is_never_accepted(
    w3: Web3, deploy: Deploy, data: st.DataObject
) -> None:
    size1 = data.draw(st.sampled_from(HEADS), label="size1")
    size2 = data.draw(st.integers(size1 + 1, TREE_SIZE), label="size2")
    how = data.draw(st.sampled_from(TAMPERINGS), label="tampering")
    proof = TREE.consistency_proof(size1, size2)
    root1, root2 = TREE.root(size1), TREE.root(size2)
    bit = data.draw(st.integers(0, 255), label="bit")
    i = data.draw(st.integers(0, len(proof) - 1), label="index")
    bad = list(proof)
    if how == "flip-proof":
        bad[i] = flip_bit(proof[i], bit)
    elif how == "flip-root2":
        root2 = flip_bit(root2, bit)
    elif how == "flip-root1":
        root1 = flip_bit(root1, bit)  # the anchored head is of another tree
    elif how == "drop":
        del bad[i]
    elif how == "insert":
        bad.insert(i, data.draw(st.binary(min_size=32, max_size=32), label="inserted"))
    elif how == "swap":
        j = data.draw(st.integers(0, len(proof) - 1).filter(lambda j: proof[j] != proof[i]))
        bad[i], bad[j] = proof[j], proof[i]
    else:  # a proof from another size
        other = data.draw(st.integers(1, size2 - 1).filter(lambda s: s != size1), label="from")
        bad = TREE.consistency_proof(other, size2)
        # Not a tampering if the bytes happen to prove size1 as well.
        assume(not python_accepts(size1, size2, bad, root1, root2))

    with pytest.raises(ProofError) as python:
        verify_consistency(size1, size2, bad, root1, root2)
    a = _anchored_head(w3, deploy, size1, root1)
    name, args = a.refused(size2, root2, bad)
    assert a.head() == (size1, root1)
    if isinstance(python.value, RootMismatchError):
        assert (name, args) == (
            "RFC9162RootMismatch",
            (python.value.calculated_root, python.value.expected_root),
        )
    elif not bad:
        assert (name, args) == ("RFC9162EmptyProof", (size1, size2))
    else:
        assert (name, args) == ("RFC9162WrongProofSize", (len(bad), len(proof)))


_HEADS: dict[tuple[Web3, int, bytes], Anchor] = {}


def _anchored_head(w3: Web3, deploy: Deploy, size1: int, root1: bytes) -> Anchor:
    """A LogAnchor on this test's chain whose head is (size1, root1), deployed once."""
    key = (w3, size1, root1)
    if key not in _HEADS:
        a = Anchor(w3, deploy("LogAnchor", w3.eth.accounts[0]))
        tx = a.contract.functions.grantRole(ANCHORER_ROLE, a.anchorer).transact({"from": a.admin})
        w3.eth.wait_for_transaction_receipt(tx)
        a.send(size1, root1)
        _HEADS[key] = a
    return _HEADS[key]
