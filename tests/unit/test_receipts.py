"""Receipts (ledger.receipts): building them from the store, their JSON, and verify_receipt.

The store tests run on SQLite and PostgreSQL (the ``engine`` fixture). The chain's side
is simulated here: a ``chain_anchors`` row inserted directly stands for an anchor the
anchorer found final, and step 4's lookup is a dict. The real thing (an anvil node over
JSON-RPC, the anchorer, and ``ledger verify`` as a separate process) is covered in
tests/chain/test_receipts_chain.py.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from ledger import receipts as receipts_module
from ledger.checkpoint import Checkpoint, Verifier, generate_signer, sign_checkpoint
from ledger.entries import Entry
from ledger.errors import InvalidInputError
from ledger.log import LeafInput, LogCorruptionError, MerkleLog
from ledger.merkle import InMemoryTree
from ledger.receipts import (
    RECEIPT_FORMAT,
    AnchoredRoot,
    AnchorLookupError,
    NotAnchoredError,
    Receipt,
    ReceiptAnchor,
    ReceiptCheckpoint,
    ReceiptFormatError,
    RecordNotFoundError,
    build_receipt,
    parse_receipt,
    parse_receipt_text,
    verify_receipt,
    verify_receipt_json,
)
from ledger.store.models import chain_anchors

ORIGIN = "test.civic-ledger/receipts"
SIGNER = generate_signer(ORIGIN, seed=bytes(range(32)))
OTHER_SIGNER = generate_signer(ORIGIN, seed=bytes(range(1, 33)))  # same name, another key
VERIFIER_KEY = SIGNER.verifier().to_verifier_key()
CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TX_HASH = "0x" + "ab" * 32
BLOCK_HASH = "0x" + "cd" * 32


def _entry(i: int) -> Entry:
    body = {"n": i, "title": "村务公开"}
    return Entry(1, f"rec-{i}", "record", "DEMO-V01", "2026-12-01T08:00:00Z", body, None)


def _lookup(roots: dict[int, bytes]) -> AnchoredRoot:
    """Step 4's lookup for a chain whose LogAnchor at CONTRACT holds ``roots``."""

    def anchored_root(chain_id: int, contract: str, tree_size: int) -> bytes | None:
        if chain_id != CHAIN_ID or contract.lower() != CONTRACT.lower():
            return None
        return roots.get(tree_size)

    return anchored_root


# --------------------------------------------------------------------------
# A receipt as data (no database): the tree of entries 0..6, checkpoint at 7


TREE = InMemoryTree(_entry(i).leaf_hash() for i in range(7))
LOOKUP = _lookup({7: TREE.root()})


def _receipt(index: int = 2, *, signer: Any = SIGNER, tree: InMemoryTree = TREE) -> Receipt:
    note = sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root()), signer)
    return Receipt(
        entry=_entry(index).to_json(),
        leaf_index=index,
        inclusion_proof=tuple(tree.inclusion_proof(index)),
        checkpoint=ReceiptCheckpoint(
            ORIGIN, tree.size, tree.root(), note, signer.verifier().to_verifier_key()
        ),
        anchor=ReceiptAnchor(CHAIN_ID, CONTRACT, TX_HASH, 12, BLOCK_HASH),
    )


def _edit(receipt: Receipt, change: Callable[[dict[str, Any]], None]) -> Receipt:
    obj = receipt.to_json()
    change(obj)
    return parse_receipt(obj)


def test_a_good_receipt_verifies_in_four_steps() -> None:
    result = verify_receipt(_receipt(), anchored_root=LOOKUP)
    assert result.ok and result.failure is None
    assert [(s.number, s.name, s.status) for s in result.steps] == [
        (0, "parse", "ok"),
        (1, "entry", "ok"),
        (2, "inclusion proof", "ok"),
        (3, "checkpoint signature", "ok"),
        (4, "chain anchor", "ok"),
    ]
    assert result.leaf_hash == _entry(2).leaf_hash()
    out = result.to_json()
    assert out["ok"] is True and out["failed_step"] is None
    assert (out["entry_id"], out["leaf_index"], out["tree_size"]) == ("rec-2", 2, 7)
    # Pinning the right key, chain and contract changes nothing.
    pinned = verify_receipt(
        _receipt(),
        anchored_root=LOOKUP,
        log_key=VERIFIER_KEY,
        expected_chain_id=CHAIN_ID,
        expected_contract=CONTRACT.lower(),
    )
    assert pinned.ok


def test_every_leaf_of_every_size_verifies() -> None:
    for size in range(1, 8):
        tree = InMemoryTree(_entry(i).leaf_hash() for i in range(size))
        for index in range(size):
            receipt = _receipt(index, tree=tree)
            assert verify_receipt(receipt, anchored_root=_lookup({size: tree.root()})).ok


def _flip(hex_text: str) -> str:
    return ("0" if hex_text[0] != "0" else "1") + hex_text[1:]


def _set_body(obj: dict[str, Any]) -> None:
    obj["entry"]["body"]["n"] = 99


def _bad_envelope(obj: dict[str, Any]) -> None:
    obj["entry"]["v"] = 2


def _extra_entry_field(obj: dict[str, Any]) -> None:
    obj["entry"]["extra"] = 1


def _next_leaf(obj: dict[str, Any]) -> None:
    obj["leaf_index"] += 1


def _leaf_beyond_size(obj: dict[str, Any]) -> None:
    obj["leaf_index"] = obj["checkpoint"]["tree_size"]


def _flip_proof(obj: dict[str, Any]) -> None:
    obj["inclusion_proof"][1] = _flip(obj["inclusion_proof"][1])


def _drop_proof(obj: dict[str, Any]) -> None:
    obj["inclusion_proof"].pop()


def _flip_root(obj: dict[str, Any]) -> None:
    obj["checkpoint"]["root_hash"] = _flip(obj["checkpoint"]["root_hash"])


def _grow_size(obj: dict[str, Any]) -> None:
    obj["checkpoint"]["tree_size"] = 8


def _note_from_other_key(obj: dict[str, Any]) -> None:
    cp = Checkpoint(ORIGIN, TREE.size, TREE.root())
    obj["checkpoint"]["note"] = sign_checkpoint(cp, OTHER_SIGNER)


def _note_of_other_tree(obj: dict[str, Any]) -> None:
    # A root and proof that agree (another tree of 7 leaves holding entry 2 at index 2),
    # but the log's signed note is of the real tree.
    other = InMemoryTree(
        _entry(i).leaf_hash() if i == 2 else _entry(100 + i).leaf_hash() for i in range(7)
    )
    obj["inclusion_proof"] = [h.hex() for h in other.inclusion_proof(2)]
    obj["checkpoint"]["root_hash"] = other.root().hex()


def _other_origin(obj: dict[str, Any]) -> None:
    obj["checkpoint"]["origin"] = "elsewhere.example/log"


def _edited_note_text(obj: dict[str, Any]) -> None:
    obj["checkpoint"]["note"] = obj["checkpoint"]["note"].replace("\n7\n", "\n8\n", 1)


def _malformed_verifier_key(obj: dict[str, Any]) -> None:
    obj["checkpoint"]["verifier_key"] = "not-a-key"


def _other_contract(obj: dict[str, Any]) -> None:
    obj["anchor"]["contract"] = "0x" + "11" * 20


def _other_chain(obj: dict[str, Any]) -> None:
    obj["anchor"]["chain_id"] = 1


@pytest.mark.parametrize(
    ("change", "step", "reason"),
    [
        (_set_body, 2, "calculated root"),
        (_bad_envelope, 1, "v: got 2, want 1"),
        (_extra_entry_field, 1, "unknown field(s) extra"),
        (_next_leaf, 2, "calculated root"),
        (_leaf_beyond_size, 2, "index is beyond size: 7 >= 7"),
        (_flip_proof, 2, "calculated root"),
        (_drop_proof, 2, "wrong proof size 2, want 3"),
        (_flip_root, 2, "calculated root"),
        # Leaf 2's proof has the same shape in trees of 7 and 8: only the note tells.
        (_grow_size, 3, "the signed note states tree size 7, the receipt says 8"),
        (_note_from_other_key, 3, "no verifying signature from a known key"),
        (_note_of_other_tree, 3, "the signed note states root hash"),
        (_other_origin, 3, "states origin test.civic-ledger/receipts, the receipt says elsewhere"),
        (_edited_note_text, 3, "does not verify"),
        (_malformed_verifier_key, 3, "verifier key 'not-a-key' is malformed"),
        (_other_contract, 4, "holds no root for tree size 7"),
        (_other_chain, 4, "on chain 1 holds no root"),
    ],
)
def test_each_tamper_fails_at_its_step(
    change: Callable[[dict[str, Any]], None], step: int, reason: str
) -> None:
    result = verify_receipt(_edit(_receipt(), change), anchored_root=LOOKUP)
    assert not result.ok
    failure = result.failure
    assert failure is not None and failure.number == step, str(failure)
    assert failure.reason is not None and reason in failure.reason
    # Earlier steps passed, later ones did not run.
    assert [s.status for s in result.steps] == ["ok"] * step + ["failed"] + ["skipped"] * (4 - step)


def test_a_pinned_log_key_must_be_the_receipts_key() -> None:
    # A receipt re-signed by someone else's key is self-consistent: only a pinned key
    # (or a chain root that differs) tells it apart.
    forged = _receipt(signer=OTHER_SIGNER)
    assert verify_receipt(forged, anchored_root=LOOKUP).ok
    result = verify_receipt(forged, anchored_root=LOOKUP, log_key=VERIFIER_KEY)
    failure = result.failure
    assert failure is not None and failure.number == 3
    assert failure.reason == (
        f"the receipt's verifier key is {OTHER_SIGNER.verifier().to_verifier_key()!r}, "
        f"want the pinned log key {VERIFIER_KEY!r}"
    )
    # A Verifier works as well as its key string.
    assert verify_receipt(_receipt(), anchored_root=LOOKUP, log_key=SIGNER.verifier()).ok


def test_a_malformed_pinned_key_is_the_callers_error() -> None:
    with pytest.raises(InvalidInputError, match="pinned log key 'nope' is malformed"):
        verify_receipt(_receipt(), anchored_root=LOOKUP, log_key="nope")


def test_the_chain_step() -> None:
    receipt = _receipt()
    other_root = _lookup({7: bytes(32 * [7])})
    cases: list[tuple[AnchoredRoot, str]] = [
        (other_root, f"holds root {'07' * 32} for tree size 7, want {TREE.root().hex()}"),
        (_lookup({}), f"LogAnchor {CONTRACT} on chain {CHAIN_ID} holds no root for tree size 7"),
        (_lookup({7: bytes(32)}), "holds no root for tree size 7"),
    ]

    def unreachable(chain_id: int, contract: str, tree_size: int) -> bytes | None:
        raise AnchorLookupError("no chain node answers at http://127.0.0.1:1")

    cases.append((unreachable, "cannot ask LogAnchor"))
    for lookup, reason in cases:
        failure = verify_receipt(receipt, anchored_root=lookup).failure
        assert failure is not None and failure.number == 4 and failure.name == "chain anchor"
        assert failure.reason is not None and reason in failure.reason

    wrong_chain = verify_receipt(receipt, anchored_root=LOOKUP, expected_chain_id=5).failure
    assert wrong_chain is not None and wrong_chain.reason == "anchored on chain 31337, want chain 5"
    wrong_contract = verify_receipt(
        receipt, anchored_root=LOOKUP, expected_contract="0x" + "22" * 20
    ).failure
    assert wrong_contract is not None and wrong_contract.number == 4


def test_without_a_lookup_step_4_is_skipped_and_nothing_is_ok() -> None:
    result = verify_receipt(_receipt(), anchored_root=None)
    assert not result.ok and result.failure is None
    assert result.steps[4].status == "skipped"
    assert result.steps[4].reason == "no chain lookup given"
    assert [s.status for s in result.steps[:4]] == ["ok"] * 4


def test_one_signature_check_per_note(monkeypatch: pytest.MonkeyPatch) -> None:
    receipts_module._opened.cache_clear()
    calls = []
    real = Verifier.verify

    def counting(self: Verifier, text: str, signature: bytes) -> bool:
        calls.append(text)
        return real(self, text, signature)

    monkeypatch.setattr(Verifier, "verify", counting)
    for index in range(7):
        assert verify_receipt(_receipt(index), anchored_root=LOOKUP).ok
    assert len(calls) == 1
    # A failing note is remembered too.
    bad = _edit(_receipt(), _note_from_other_key)
    for _ in range(3):
        assert verify_receipt(bad, anchored_root=LOOKUP).failure is not None
    assert len(calls) == 1  # the other key's line is not the log key's: nothing to verify


# --------------------------------------------------------------------------
# The JSON format


def test_json_round_trip_is_exact() -> None:
    receipt = _receipt()
    obj = receipt.to_json()
    assert obj["format"] == RECEIPT_FORMAT == "civic-ledger/receipt/v1"
    assert list(obj) == ["format", "entry", "leaf_index", "inclusion_proof", "checkpoint", "anchor"]
    assert parse_receipt(obj) == receipt
    assert parse_receipt(obj).to_json() == obj
    text = receipt.to_text()
    assert "村务公开" in text and text.endswith("}\n")
    assert parse_receipt_text(text) == receipt
    assert parse_receipt_text(text.encode()) == receipt
    # The parsed receipt does not share state with the object it was read from.
    parsed = parse_receipt(copy.deepcopy(obj))
    with pytest.raises(TypeError):
        parsed.entry["id"] = "x"  # type: ignore[index]


def _del(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(obj: dict[str, Any]) -> None:
        for key in parents:
            obj = obj[key]
        del obj[last]

    return change


def _put(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(obj: dict[str, Any]) -> None:
        for key in parents:
            obj = obj[key]
        obj[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_del("anchor"), "receipt: missing field(s) anchor"),
        (_del("checkpoint.verifier_key"), "checkpoint: missing field(s) verifier_key"),
        (_put("extra", 1), "receipt: unknown field(s) extra"),
        (_put("anchor.extra", 1), "anchor: unknown field(s) extra"),
        (_put("format", "civic-ledger/receipt/v2"), "format: got 'civic-ledger/receipt/v2', want"),
        (_put("entry", []), "entry: got list, want a JSON object"),
        (_put("leaf_index", True), "leaf_index: got bool, want an integer"),
        (_put("leaf_index", -1), "leaf_index: got -1, want 0..2**64-1"),
        (_put("leaf_index", "2"), "leaf_index: got str, want an integer"),
        (_put("checkpoint.tree_size", 2**64), "checkpoint.tree_size: got 18446744073709551616"),
        (_put("inclusion_proof", "ab"), "inclusion_proof: got str, want a JSON array"),
        (_put("inclusion_proof", ["AB" * 32]), "inclusion_proof[0]: got 'ABAB"),
        (_put("inclusion_proof", ["ab" * 31]), "inclusion_proof[0]: got 'abab"),
        (_put("inclusion_proof", ["00" * 32] * 65), "inclusion_proof: got 65 hashes, want at most"),
        (_put("checkpoint.root_hash", "0x" + "ab" * 32), "checkpoint.root_hash: got '0xabab"),
        (_put("checkpoint.note", ""), "checkpoint.note: got an empty string"),
        (_put("checkpoint", None), "checkpoint: got null, want a JSON object"),
        (_put("anchor.chain_id", 0), "anchor.chain_id: got 0, want 1..2**64-1"),
        (_put("anchor.contract", "0x1234"), "anchor.contract: got '0x1234', want 0x and 40"),
        (_put("anchor.tx_hash", TX_HASH.upper()), "anchor.tx_hash: got"),
        (_put("anchor.block_hash", BLOCK_HASH[2:]), "anchor.block_hash: got"),
        (_put("anchor.block_number", 1.0), "anchor.block_number: got float, want an integer"),
    ],
)
def test_parsing_is_strict(change: Callable[[dict[str, Any]], None], message: str) -> None:
    obj = _receipt().to_json()
    change(obj)
    with pytest.raises(ReceiptFormatError) as error:
        parse_receipt(obj)
    assert error.value.code == "invalid_receipt"
    assert error.value.message.startswith(message), error.value.message
    # verify_receipt_json reports it as step 0.
    result = verify_receipt_json(obj, anchored_root=LOOKUP)
    assert result.receipt is None and not result.ok
    assert result.failure is not None and result.failure.number == 0
    assert result.failure.name == "parse" and result.failure.reason == error.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "receipt is not JSON"),
        ("[1,", "receipt is not JSON"),
        (b"\xff", "receipt is not UTF-8"),
        ('{"format": 1, "format": 2}', "receipt: duplicate key 'format'"),
        ('{"leaf_index": NaN}', "receipt: got NaN, want a finite JSON number"),
        ("[]", "receipt: got list, want a JSON object"),
    ],
)
def test_parsing_text_is_strict(text: str | bytes, message: str) -> None:
    with pytest.raises(ReceiptFormatError) as error:
        parse_receipt_text(text)
    assert error.value.message.startswith(message), error.value.message


def test_non_finite_numbers_in_the_entry_fail_step_1() -> None:
    obj = _receipt().to_json()
    obj["entry"]["body"]["n"] = math.inf
    failure = verify_receipt(parse_receipt(obj), anchored_root=LOOKUP).failure
    assert failure is not None and failure.number == 1


# --------------------------------------------------------------------------
# Building receipts from the store (SQLite and PostgreSQL)


def _append(log: MerkleLog, first: int, count: int) -> None:
    log.append([LeafInput(e.id, e.leaf_data()) for e in map(_entry, range(first, first + count))])


def _anchor(engine: sa.Engine, size: int, root: bytes, *, status: str = "final") -> None:
    """Stand-in for the anchorer: the row it writes once an anchor is ``status``."""
    with engine.begin() as conn:
        conn.execute(
            chain_anchors.insert().values(
                chain_id=CHAIN_ID,
                contract=CONTRACT,
                tree_size=size,
                root_hash=root,
                tx_hash=None if status == "sent" else f"0x{size:064x}",
                block_number=None if status == "sent" else 10 + size,
                block_hash=None if status == "sent" else f"0x{size + 1:064x}",
                status=status,
                updated_at=datetime.now(UTC),
            )
        )


def _build(engine: sa.Engine | sa.Connection, entry_id: str) -> Receipt:
    return build_receipt(engine, entry_id, verifier_key=VERIFIER_KEY, origin=ORIGIN)


def test_build_before_and_after_anchoring(engine: sa.Engine) -> None:
    log = MerkleLog(engine, origin=ORIGIN)
    _append(log, 0, 3)

    def state(entry_id: str) -> NotAnchoredError:
        with pytest.raises(NotAnchoredError) as error:
            _build(engine, entry_id)
        assert error.value.code == "not_anchored"
        return error.value

    not_integrated = state("rec-1")
    assert not_integrated.evidence["state"] == "not_integrated"
    assert "is logged at leaf 1 but not yet integrated into the tree (integrated size 0)" in (
        not_integrated.message
    )

    log.integrate_all()
    not_signed = state("rec-1")
    assert not_signed.evidence["state"] == "not_signed"
    assert "'rec-1' (leaf 1) is not yet covered by a signed checkpoint" in not_signed.message

    signed = log.sign(SIGNER)
    not_anchored = state("rec-1")
    assert not_anchored.evidence["state"] == "not_anchored"
    assert not_anchored.message.endswith("from tree size 3 on, but none of them is anchored yet")

    _anchor(engine, 3, signed.checkpoint.root_hash, status="mined")
    mined = state("rec-1")
    assert mined.message.endswith("but the anchor of tree size 3 is mined, not final yet")

    with engine.begin() as conn:
        conn.execute(sa.update(chain_anchors).values(status="final"))
    receipt = _build(engine, "rec-1")
    assert (receipt.leaf_index, receipt.checkpoint.tree_size) == (1, 3)
    assert receipt.entry == _entry(1).to_json()
    assert receipt.checkpoint.note == signed.note
    assert receipt.checkpoint.verifier_key == VERIFIER_KEY
    assert receipt.anchor == ReceiptAnchor(CHAIN_ID, CONTRACT, f"0x{3:064x}", 13, f"0x{4:064x}")
    result = verify_receipt(
        receipt, anchored_root=_lookup({3: signed.checkpoint.root_hash}), log_key=VERIFIER_KEY
    )
    assert result.ok, result.failure
    assert parse_receipt_text(receipt.to_text()) == receipt


def test_unknown_record_is_not_found(engine: sa.Engine) -> None:
    with pytest.raises(RecordNotFoundError) as error:
        _build(engine, "no-such-record")
    assert error.value.code == "not_found"
    assert error.value.message == "no record with id 'no-such-record' in the log"


def test_the_smallest_finally_anchored_covering_checkpoint_is_chosen(engine: sa.Engine) -> None:
    log = MerkleLog(engine, origin=ORIGIN)
    roots = {}
    for first, count in ((0, 3), (3, 2), (5, 4)):  # checkpoints of sizes 3, 5 and 9
        _append(log, first, count)
        log.integrate_all()
        signed = log.sign(SIGNER)
        roots[signed.checkpoint.size] = signed.checkpoint.root_hash
    _anchor(engine, 3, roots[3], status="mined")  # not final: skipped
    _anchor(engine, 5, roots[5])
    _anchor(engine, 9, roots[9])
    lookup = _lookup(roots)
    chosen = {}
    for i in range(9):
        receipt = _build(engine, f"rec-{i}")
        assert verify_receipt(receipt, anchored_root=lookup, log_key=VERIFIER_KEY).ok
        chosen[i] = receipt.checkpoint.tree_size
    assert chosen == {0: 5, 1: 5, 2: 5, 3: 5, 4: 5, 5: 9, 6: 9, 7: 9, 8: 9}

    with engine.begin() as conn:
        conn.execute(
            sa.update(chain_anchors).where(chain_anchors.c.tree_size == 3).values(status="final")
        )
        # On a caller's connection, in its transaction, too.
        assert (
            build_receipt(
                conn, "rec-0", verifier_key=VERIFIER_KEY, origin=ORIGIN
            ).checkpoint.tree_size
            == 3
        )
    # Restricted to another chain, nothing is anchored.
    with pytest.raises(NotAnchoredError):
        build_receipt(engine, "rec-0", verifier_key=VERIFIER_KEY, origin=ORIGIN, chain_id=1)
    restricted = build_receipt(
        engine, "rec-0", verifier_key=VERIFIER_KEY, origin=ORIGIN, contract=CONTRACT.lower()
    )
    assert restricted.anchor.contract == CONTRACT


def test_a_receipt_that_would_not_verify_is_never_built(engine: sa.Engine) -> None:
    log = MerkleLog(engine, origin=ORIGIN)
    _append(log, 0, 2)
    log.integrate_all()
    signed = log.sign(SIGNER)
    _anchor(engine, 2, signed.checkpoint.root_hash)
    other_key = OTHER_SIGNER.verifier().to_verifier_key()
    with pytest.raises(LogCorruptionError) as error:
        build_receipt(engine, "rec-0", verifier_key=other_key, origin=ORIGIN)
    assert error.value.code == "log_corrupt"
    assert error.value.message.startswith(
        "the receipt built for 'rec-0' does not verify: step 3 (checkpoint signature): failed"
    )
