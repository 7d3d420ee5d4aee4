"""Receipts: one record, verifiable with nothing but the receipt and a chain node.

This is the recipe layer the CLI, the API and auditors call. A receipt
(DESIGN.md "Formats / Receipt", format ``civic-ledger/receipt/v1``) is one JSON
object::

    {
      "format": "civic-ledger/receipt/v1",
      "entry": {"v": 1, "id": ..., "kind": ..., "unit": ..., "at": ..., "body": {...},
                "sealed": ...},
      "leaf_index": 41,
      "inclusion_proof": ["<hex sha256>", ...],
      "checkpoint": {"origin": ..., "tree_size": 1000, "root_hash": "<hex>",
                     "note": "<signed note text>", "verifier_key": "<name>+<id>+<key>"},
      "anchor": {"chain_id": 31337, "contract": "0x...", "tx_hash": "0x...",
                 "block_number": 12, "block_hash": "0x..."}
    }

``checkpoint.verifier_key`` is the log's C2SP verifier key, so that a verifier
can check the note's signature; an auditor who knows the log's key pins it
instead (``log_key``), and then the receipt's key must be that one.

:func:`verify_receipt` checks a receipt in numbered steps; a failing step stops
the later ones (they are reported as skipped):

    (0) parse          the JSON is a well-formed receipt (:func:`verify_receipt_json`)
    (1) entry          the entry is a valid envelope; leaf hash = SHA-256(0x00 || JCS(entry))
    (2) inclusion proof  the proof leads from that leaf hash at ``leaf_index`` to
                       ``checkpoint.root_hash`` at ``checkpoint.tree_size`` (RFC 9162 §2.1.3.2)
    (3) checkpoint signature  the note verifies under the log key and its body states
                       exactly the receipt's origin, tree size and root hash
    (4) chain anchor   LogAnchor at ``anchor.contract`` on ``anchor.chain_id`` holds that
                       root for that size (``rootAt``), asked through the caller's lookup

Steps 0–3 are functions of the receipt alone; step 4 asks the injected
``anchored_root(chain_id, contract, tree_size)`` (see
:func:`ledger.chain.lookup.anchored_root_from_rpc`), so everything here is
testable without a chain. The Ed25519 check of step 3 is cached by (note, key):
the receipts of one checkpoint cost one signature check between them.

:func:`build_receipt` makes a record's receipt from the store, against the
smallest checkpoint that covers the record and whose anchor is final.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, NoReturn

from sqlalchemy import Connection, Engine, bindparam, func, select

from ledger.checkpoint import Checkpoint, Verifier, open_note, parse_verifier_key
from ledger.entries import Entry, freeze_json, thaw_json
from ledger.errors import ConflictError, InvalidInputError, LedgerError, NotFoundError
from ledger.log import LogCorruptionError, LogReader
from ledger.log.counters import read_counter
from ledger.merkle import ProofError, hash_leaf, verify_inclusion
from ledger.store.models import INTEGRATED_SIZE, chain_anchors, log_checkpoints, log_leaves

__all__ = [
    "RECEIPT_FORMAT",
    "STEP_NAMES",
    "AnchorLookupError",
    "AnchoredRoot",
    "NotAnchoredError",
    "Receipt",
    "ReceiptAnchor",
    "ReceiptCheckpoint",
    "ReceiptFormatError",
    "RecordNotFoundError",
    "Step",
    "Verification",
    "build_receipt",
    "parse_receipt",
    "parse_receipt_text",
    "verify_receipt",
    "verify_receipt_json",
]

RECEIPT_FORMAT: Final = "civic-ledger/receipt/v1"
"""The ``format`` of every receipt this module writes; the only one it reads."""

AnchoredRoot = Callable[[int, str, int], bytes | None]
"""``anchored_root(chain_id, contract, tree_size)``: the root LogAnchor at ``contract`` on
chain ``chain_id`` holds for ``tree_size`` (``rootAt``), or None where it holds none.
Raises :class:`ledger.errors.LedgerError` (e.g. :class:`AnchorLookupError`) when it
cannot tell; step 4 then fails with that message."""

STEP_NAMES: Final = {
    0: "parse",
    1: "entry",
    2: "inclusion proof",
    3: "checkpoint signature",
    4: "chain anchor",
}
"""The verification steps, by number."""

_MAX_UINT64: Final = 2**64 - 1
_MAX_PROOF: Final = 64  # an inclusion proof in a tree of < 2**64 leaves has at most 64 hashes
_HEX32 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_HEX_RUN = re.compile(r"[0-9a-f]*", re.ASCII)
_HASH_0X = re.compile(r"0x[0-9a-f]{64}", re.ASCII)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)
_FINAL: Final = "final"  # chain_anchors.status of an anchor with enough confirmations


class ReceiptFormatError(InvalidInputError):
    """A receipt is not well-formed JSON of the ``civic-ledger/receipt/v1`` format."""

    code = "invalid_receipt"


class RecordNotFoundError(NotFoundError):
    """No entry with that id is in the log."""

    code = "not_found"


class NotAnchoredError(ConflictError):
    """The record is logged, but no checkpoint covering it is anchored and final yet.

    ``evidence["state"]`` says how far it got: ``not_integrated``, ``not_signed`` or
    ``not_anchored``. A conflict with the log's present state (HTTP 409): the same
    request succeeds later.
    """

    code = "not_anchored"


class AnchorLookupError(LedgerError):
    """The chain could not be asked (no node, another chain, no contract at the address)."""

    code = "anchor_lookup_failed"


# --------------------------------------------------------------------------
# The receipt and its JSON


@dataclass(frozen=True)
class ReceiptCheckpoint:
    """The signed tree head a receipt proves inclusion in."""

    origin: str
    tree_size: int
    root_hash: bytes
    note: str
    verifier_key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "note": self.note,
            "verifier_key": self.verifier_key,
        }


@dataclass(frozen=True)
class ReceiptAnchor:
    """Where the checkpoint's root is anchored: LogAnchor ``contract`` on ``chain_id``."""

    chain_id: int
    contract: str
    tx_hash: str
    block_number: int
    block_hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "contract": self.contract,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
            "block_hash": self.block_hash,
        }


@dataclass(frozen=True)
class Receipt:
    """A ``civic-ledger/receipt/v1`` receipt (see the module docstring).

    ``entry`` is the entry JSON object as the receipt carries it, unvalidated (step 1
    validates it), kept as a read-only deep copy.
    """

    entry: Mapping[str, Any]
    leaf_index: int
    inclusion_proof: tuple[bytes, ...]
    checkpoint: ReceiptCheckpoint
    anchor: ReceiptAnchor

    def __post_init__(self) -> None:
        object.__setattr__(self, "entry", freeze_json(self.entry))
        object.__setattr__(self, "inclusion_proof", tuple(self.inclusion_proof))

    def to_json(self) -> dict[str, Any]:
        """The receipt as plain JSON values; :func:`parse_receipt` reads it back exactly."""
        return {
            "format": RECEIPT_FORMAT,
            "entry": thaw_json(self.entry),
            "leaf_index": self.leaf_index,
            "inclusion_proof": [node.hex() for node in self.inclusion_proof],
            "checkpoint": self.checkpoint.to_json(),
            "anchor": self.anchor.to_json(),
        }

    def to_text(self) -> str:
        """The receipt file's text: JSON, indent 2, UTF-8 characters as they are."""
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n"


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _bad(where: str, message: str) -> NoReturn:
    raise ReceiptFormatError(f"{where}: {message}", field=where)


def _fields(obj: Any, where: str, names: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        _bad(where, f"got {_type_name(obj)}, want a JSON object")
    if len(obj) == len(names) and all(name in obj for name in names):
        return obj
    missing = [name for name in names if name not in obj]
    if missing:
        _bad(where, f"missing field(s) {', '.join(missing)}")
    unknown = sorted(str(key) for key in obj if key not in names)
    _bad(where, f"unknown field(s) {', '.join(unknown)}")


def _uint(value: Any, where: str, *, minimum: int = 0) -> int:
    if type(value) is not int:
        _bad(where, f"got {_type_name(value)}, want an integer")
    if not minimum <= value <= _MAX_UINT64:
        _bad(where, f"got {value}, want {minimum}..2**64-1")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        got = "an empty string" if value == "" else _type_name(value)
        _bad(where, f"got {got}, want a non-empty string")
    return value


def _matching(value: Any, where: str, pattern: re.Pattern[str], want: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        shown = repr(value[:80]) if isinstance(value, str) else _type_name(value)
        _bad(where, f"got {shown}, want {want}")
    return value


def _hash(value: Any, where: str) -> bytes:
    return bytes.fromhex(_matching(value, where, _HEX32, "64 lower-case hex digits"))


def _proof(value: Any) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        _bad("inclusion_proof", f"got {_type_name(value)}, want a JSON array")
    if len(value) > _MAX_PROOF:
        _bad("inclusion_proof", f"got {len(value)} hashes, want at most {_MAX_PROOF}")
    # The common case in one pass (a proof is checked per receipt); else find the culprit.
    if all(type(node) is str and len(node) == 64 for node in value):
        joined = "".join(value)
        if _HEX_RUN.fullmatch(joined):
            raw = bytes.fromhex(joined)
            return tuple(raw[i : i + 32] for i in range(0, len(raw), 32))
    return tuple(_hash(node, f"inclusion_proof[{i}]") for i, node in enumerate(value))


_TOP = ("format", "entry", "leaf_index", "inclusion_proof", "checkpoint", "anchor")
_CHECKPOINT = ("origin", "tree_size", "root_hash", "note", "verifier_key")
_ANCHOR = ("chain_id", "contract", "tx_hash", "block_number", "block_hash")


def parse_receipt(obj: Any) -> Receipt:
    """Read a decoded JSON object as a receipt; strict, the inverse of :meth:`Receipt.to_json`.

    Unknown or missing keys, wrong types, and hashes that are not lower-case hex of
    the right length raise :class:`ReceiptFormatError`. The entry is only checked to be
    a JSON object here; whether it is a valid envelope is step 1 of verification.
    """
    top = _fields(obj, "receipt", _TOP)
    if top["format"] != RECEIPT_FORMAT:
        shown = top["format"] if isinstance(top["format"], str) else _type_name(top["format"])
        _bad("format", f"got {shown!r}, want {RECEIPT_FORMAT!r}")
    entry = top["entry"]
    if not isinstance(entry, Mapping):
        _bad("entry", f"got {_type_name(entry)}, want a JSON object")
    proof = _proof(top["inclusion_proof"])
    cp = _fields(top["checkpoint"], "checkpoint", _CHECKPOINT)
    anchor = _fields(top["anchor"], "anchor", _ANCHOR)
    return Receipt(
        entry=entry,
        leaf_index=_uint(top["leaf_index"], "leaf_index"),
        inclusion_proof=proof,
        checkpoint=ReceiptCheckpoint(
            origin=_text(cp["origin"], "checkpoint.origin"),
            tree_size=_uint(cp["tree_size"], "checkpoint.tree_size"),
            root_hash=_hash(cp["root_hash"], "checkpoint.root_hash"),
            note=_text(cp["note"], "checkpoint.note"),
            verifier_key=_text(cp["verifier_key"], "checkpoint.verifier_key"),
        ),
        anchor=ReceiptAnchor(
            chain_id=_uint(anchor["chain_id"], "anchor.chain_id", minimum=1),
            contract=_matching(
                anchor["contract"], "anchor.contract", _ADDRESS, "0x and 40 hex digits"
            ),
            tx_hash=_matching(
                anchor["tx_hash"], "anchor.tx_hash", _HASH_0X, "0x and 64 lower-case hex digits"
            ),
            block_number=_uint(anchor["block_number"], "anchor.block_number"),
            block_hash=_matching(
                anchor["block_hash"],
                "anchor.block_hash",
                _HASH_0X,
                "0x and 64 lower-case hex digits",
            ),
        ),
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                _bad("receipt", f"duplicate key {key!r}")
            seen.add(key)
    return out


def _no_constant(name: str) -> NoReturn:
    _bad("receipt", f"got {name}, want a finite JSON number")


def parse_receipt_text(text: str | bytes) -> Receipt:
    """Parse a receipt file's text (UTF-8 JSON); duplicate keys and NaN are refused."""
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise ReceiptFormatError(f"receipt is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ReceiptFormatError(f"receipt is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise ReceiptFormatError("receipt: JSON nested too deeply") from exc
    return parse_receipt(obj)


# --------------------------------------------------------------------------
# Verification


StepStatus = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class Step:
    """The outcome of one verification step; ``reason`` says why it failed or was skipped."""

    number: int
    status: StepStatus
    reason: str | None = None

    @property
    def name(self) -> str:
        return STEP_NAMES[self.number]

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.number,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        text = f"step {self.number} ({self.name}): {self.status}"
        return f"{text}: {self.reason}" if self.reason else text


@dataclass(frozen=True)
class Verification:
    """The result of verifying one receipt: steps 0–4, in order.

    ``ok`` only when every step passed: a receipt checked without a chain lookup has
    step 4 skipped and is not ``ok`` (``failure`` is None then: nothing failed).
    """

    receipt: Receipt | None
    steps: tuple[Step, ...]
    leaf_hash: bytes | None = None

    @classmethod
    def unparsed(cls, reason: str) -> Verification:
        """The result for input that is not a receipt at all: step 0 failed."""
        return cls(None, _steps(0, reason, 4))

    @property
    def ok(self) -> bool:
        return all(step.status == "ok" for step in self.steps)

    @property
    def failure(self) -> Step | None:
        """The step that failed, or None."""
        return next((step for step in self.steps if step.status == "failed"), None)

    def to_json(self) -> dict[str, Any]:
        failure = self.failure
        receipt = self.receipt
        return {
            "ok": self.ok,
            "failed_step": failure.to_json() if failure else None,
            "steps": [step.to_json() for step in self.steps],
            "entry_id": receipt.entry.get("id") if receipt else None,
            "leaf_index": receipt.leaf_index if receipt else None,
            "tree_size": receipt.checkpoint.tree_size if receipt else None,
            "leaf_hash": self.leaf_hash.hex() if self.leaf_hash else None,
            "chain_id": receipt.anchor.chain_id if receipt else None,
            "contract": receipt.anchor.contract if receipt else None,
            "block_number": receipt.anchor.block_number if receipt else None,
        }


class _Failed(Exception):
    """Internal: step ``number`` failed for ``reason``."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(reason)
        self.number = number
        self.reason = reason


def _steps(failed_at: int | None, reason: str | None, last_run: int) -> tuple[Step, ...]:
    """Steps 0..4: ok up to ``last_run`` (or the failure), then skipped."""
    out: list[Step] = []
    for number in STEP_NAMES:
        if failed_at is not None and number == failed_at:
            out.append(Step(number, "failed", reason))
        elif failed_at is not None and number > failed_at:
            out.append(Step(number, "skipped", f"step {failed_at} failed"))
        elif number > last_run:
            out.append(Step(number, "skipped", "no chain lookup given"))
        else:
            out.append(Step(number, "ok"))
    return tuple(out)


@functools.lru_cache(maxsize=256)
def _verifier(key: str) -> Verifier | str:
    """The parsed verifier key, or the reason it does not parse (cached: keys repeat)."""
    try:
        return parse_verifier_key(key)
    except LedgerError as exc:
        return exc.message


@functools.lru_cache(maxsize=4096)
def _opened(note: str, key: str) -> Checkpoint | str:
    """The checkpoint ``note`` states if it verifies under ``key``, else the reason.

    Cached by (note, key): every receipt of one checkpoint carries the same note, so a
    batch of them costs one Ed25519 check.
    """
    verifier = _verifier(key)
    if isinstance(verifier, str):
        return f"verifier key {key!r} is malformed: {verifier}"
    try:
        return Checkpoint.from_text(open_note(note, [verifier]).text)
    except LedgerError as exc:
        return exc.message


def _pinned(log_key: str | Verifier | None) -> Verifier | None:
    if log_key is None or isinstance(log_key, Verifier):
        return log_key
    verifier = _verifier(log_key)
    if isinstance(verifier, str):
        raise InvalidInputError(f"pinned log key {log_key!r} is malformed: {verifier}")
    return verifier


def verify_receipt(
    receipt: Receipt,
    *,
    anchored_root: AnchoredRoot | None,
    log_key: str | Verifier | None = None,
    expected_chain_id: int | None = None,
    expected_contract: str | None = None,
) -> Verification:
    """Verify ``receipt`` in steps 1–4 (see the module docstring); never raises for a bad one.

    ``anchored_root`` is the chain lookup of step 4; None skips step 4 (an offline
    check, never ``ok``). ``log_key``, when given, pins the log's verifier key: the
    receipt's ``verifier_key`` must be that key (a malformed pinned key raises
    :class:`InvalidInputError`: it is the caller's mistake, not the receipt's).
    ``expected_chain_id`` / ``expected_contract`` pin the anchor's chain and contract.
    """
    pinned = _pinned(log_key)
    leaf: bytes | None = None
    try:
        leaf = _check_entry(receipt)
        _check_inclusion(receipt, leaf)
        _check_signature(receipt, pinned)
        if anchored_root is None:
            return Verification(receipt, _steps(None, None, 3), leaf)
        _check_anchor(receipt, anchored_root, expected_chain_id, expected_contract)
    except _Failed as failed:
        return Verification(receipt, _steps(failed.number, failed.reason, 4), leaf)
    return Verification(receipt, _steps(None, None, 4), leaf)


def verify_receipt_json(
    obj: Any,
    *,
    anchored_root: AnchoredRoot | None,
    log_key: str | Verifier | None = None,
    expected_chain_id: int | None = None,
    expected_contract: str | None = None,
) -> Verification:
    """Step 0, parse (a decoded JSON object, or a file's text), then :func:`verify_receipt`."""
    try:
        receipt = parse_receipt_text(obj) if isinstance(obj, str | bytes) else parse_receipt(obj)
    except ReceiptFormatError as exc:
        _pinned(log_key)  # a malformed pinned key is still the caller's error
        return Verification.unparsed(exc.message)
    return verify_receipt(
        receipt,
        anchored_root=anchored_root,
        log_key=log_key,
        expected_chain_id=expected_chain_id,
        expected_contract=expected_contract,
    )


def _check_entry(receipt: Receipt) -> bytes:
    """Step 1: the entry is a valid envelope; returns SHA-256(0x00 || JCS(entry))."""
    try:
        return Entry.from_json(receipt.entry).leaf_hash()
    except LedgerError as exc:
        raise _Failed(1, exc.message) from None


def _check_inclusion(receipt: Receipt, leaf: bytes) -> None:
    """Step 2: the proof leads from the leaf hash to the checkpoint's root (RFC 9162)."""
    cp = receipt.checkpoint
    try:
        verify_inclusion(
            receipt.leaf_index, cp.tree_size, leaf, receipt.inclusion_proof, cp.root_hash
        )
    except ProofError as exc:
        raise _Failed(
            2, f"leaf {receipt.leaf_index} in tree size {cp.tree_size}: {exc.message}"
        ) from None


def _check_signature(receipt: Receipt, pinned: Verifier | None) -> None:
    """Step 3: the note verifies under the log key and states this origin, size and root."""
    cp = receipt.checkpoint
    if pinned is not None:
        stated = _verifier(cp.verifier_key)
        if stated != pinned:
            raise _Failed(
                3,
                f"the receipt's verifier key is {cp.verifier_key!r}, "
                f"want the pinned log key {pinned.to_verifier_key()!r}",
            )
    opened = _opened(cp.note, cp.verifier_key)
    if isinstance(opened, str):
        raise _Failed(3, opened)
    for what, got, want in (
        ("origin", opened.origin, cp.origin),
        ("tree size", opened.size, cp.tree_size),
        ("root hash", opened.root_hash.hex(), cp.root_hash.hex()),
    ):
        if got != want:
            raise _Failed(3, f"the signed note states {what} {got}, the receipt says {want}")


def _check_anchor(
    receipt: Receipt,
    anchored_root: AnchoredRoot,
    expected_chain_id: int | None,
    expected_contract: str | None,
) -> None:
    """Step 4: LogAnchor at the stated contract and chain holds this root for this size."""
    anchor, cp = receipt.anchor, receipt.checkpoint
    if expected_chain_id is not None and anchor.chain_id != expected_chain_id:
        raise _Failed(4, f"anchored on chain {anchor.chain_id}, want chain {expected_chain_id}")
    if expected_contract is not None and anchor.contract.lower() != expected_contract.lower():
        raise _Failed(4, f"anchored at contract {anchor.contract}, want {expected_contract}")
    where = f"LogAnchor {anchor.contract} on chain {anchor.chain_id}"
    try:
        root = anchored_root(anchor.chain_id, anchor.contract, cp.tree_size)
    except LedgerError as exc:
        raise _Failed(4, f"cannot ask {where}: {exc.message}") from None
    if root is None or root == bytes(32):
        raise _Failed(4, f"{where} holds no root for tree size {cp.tree_size}")
    if root != cp.root_hash:
        raise _Failed(
            4,
            f"{where} holds root {root.hex()} for tree size {cp.tree_size}, "
            f"want {cp.root_hash.hex()}",
        )


# --------------------------------------------------------------------------
# Building receipts from the store


def build_receipt(
    bind: Engine | Connection,
    entry_id: str,
    *,
    verifier_key: str,
    origin: str,
    chain_id: int | None = None,
    contract: str | None = None,
    reader: LogReader | None = None,
) -> Receipt:
    """The receipt of entry ``entry_id``, against the smallest finally anchored checkpoint.

    Of the signed checkpoints that cover the entry's leaf (tree size > leaf index) and
    whose ``chain_anchors`` row is ``final`` (on ``chain_id`` / ``contract`` when
    given), the smallest is taken: its proof is the shortest-lived to wait for and
    the receipt never changes once it exists. The receipt is checked (steps 1–3)
    before it is returned. ``verifier_key`` is the log's C2SP verifier key and
    ``origin`` its checkpoint origin.

    Raises :class:`RecordNotFoundError` for an unknown id, :class:`NotAnchoredError`
    while no covering checkpoint is finally anchored (saying how far the record got),
    and :class:`LogCorruptionError` when the stored data does not make a valid receipt.
    """
    if isinstance(bind, Connection):
        return _build(bind, entry_id, verifier_key, origin, chain_id, contract, reader)
    with bind.connect() as conn:
        return _build(conn, entry_id, verifier_key, origin, chain_id, contract, reader)


# The two queries of every receipt, built once (building and hashing a statement costs
# about as much as running it).
_LEAF_BY_ID = select(log_leaves.c.leaf_index, log_leaves.c.leaf_data, log_leaves.c.leaf_hash).where(
    log_leaves.c.entry_id == bindparam("entry_id")
)
_COVERING_ANCHOR = (
    select(
        log_checkpoints.c.tree_size,
        log_checkpoints.c.root_hash,
        log_checkpoints.c.note,
        chain_anchors.c.chain_id,
        chain_anchors.c.contract,
        chain_anchors.c.root_hash.label("anchored_root"),
        chain_anchors.c.tx_hash,
        chain_anchors.c.block_number,
        chain_anchors.c.block_hash,
    )
    .join_from(
        log_checkpoints,
        chain_anchors,
        chain_anchors.c.tree_size == log_checkpoints.c.tree_size,
    )
    .where(chain_anchors.c.status == _FINAL, log_checkpoints.c.tree_size > bindparam("index"))
    .order_by(log_checkpoints.c.tree_size, chain_anchors.c.chain_id, chain_anchors.c.contract)
    .limit(1)
)


def _build(
    conn: Connection,
    entry_id: str,
    verifier_key: str,
    origin: str,
    chain_id: int | None,
    contract: str | None,
    reader: LogReader | None,
) -> Receipt:
    leaf = conn.execute(_LEAF_BY_ID, {"entry_id": entry_id}).first()
    if leaf is None:
        raise RecordNotFoundError(f"no record with id {entry_id!r} in the log", entry_id=entry_id)
    index, data = int(leaf.leaf_index), bytes(leaf.leaf_data)
    if hash_leaf(data) != bytes(leaf.leaf_hash):
        raise LogCorruptionError(
            f"leaf {index}: stored hash {bytes(leaf.leaf_hash).hex()} is not the hash of "
            "its stored data",
            leaf_index=index,
        )
    # The entry as the receipt carries it. Decoding is enough here: the check below
    # (verify_receipt, steps 1-3) validates it as an envelope and re-hashes its canonical
    # bytes, which must lead to the signed root, so leaf data that is not a valid,
    # canonical entry can never make a receipt.
    try:
        entry = json.loads(data)
    except ValueError as exc:
        raise LogCorruptionError(f"leaf {index} is not JSON: {exc}", leaf_index=index) from None
    if not isinstance(entry, dict):
        raise LogCorruptionError(f"leaf {index} is not a JSON object", leaf_index=index)

    query = _COVERING_ANCHOR
    if chain_id is not None:
        query = query.where(chain_anchors.c.chain_id == chain_id)
    if contract is not None:
        query = query.where(func.lower(chain_anchors.c.contract) == contract.lower())
    row = conn.execute(query, {"index": index}).first()
    if row is None:
        raise _not_anchored(conn, entry_id, index)
    size, root = int(row.tree_size), bytes(row.root_hash)
    if bytes(row.anchored_root) != root:
        raise LogCorruptionError(
            f"the anchor of tree size {size} records root {bytes(row.anchored_root).hex()}, "
            f"the signed checkpoint has {root.hex()}",
            tree_size=size,
            anchored_root=bytes(row.anchored_root),
            checkpoint_root=root,
        )
    if row.tx_hash is None or row.block_number is None or row.block_hash is None:
        raise LogCorruptionError(
            f"the final anchor of tree size {size} has no transaction or block recorded",
            tree_size=size,
        )
    proof = (reader or LogReader(cache_tiles=0)).inclusion_proof(conn, index, size)
    receipt = Receipt(
        entry=entry,
        leaf_index=index,
        inclusion_proof=tuple(proof),
        checkpoint=ReceiptCheckpoint(origin, size, root, row.note, verifier_key),
        anchor=ReceiptAnchor(
            chain_id=int(row.chain_id),
            contract=str(row.contract),
            tx_hash=str(row.tx_hash),
            block_number=int(row.block_number),
            block_hash=str(row.block_hash),
        ),
    )
    # Never hand out a receipt that does not verify: the stored note, proof or key is wrong.
    failure = verify_receipt(receipt, anchored_root=None, log_key=verifier_key).failure
    if failure is not None:
        raise LogCorruptionError(
            f"the receipt built for {entry_id!r} does not verify: {failure}",
            entry_id=entry_id,
            tree_size=size,
            step=failure.number,
        )
    return receipt


def _not_anchored(conn: Connection, entry_id: str, index: int) -> NotAnchoredError:
    """Why no receipt yet: not integrated, not signed, or no final anchor."""
    integrated = read_counter(conn, INTEGRATED_SIZE)
    if integrated <= index:
        return NotAnchoredError(
            f"record {entry_id!r} is logged at leaf {index} but not yet integrated into the "
            f"tree (integrated size {integrated}); its receipt follows once it is signed "
            "and anchored",
            state="not_integrated",
            leaf_index=index,
        )
    covering = conn.execute(
        select(func.min(log_checkpoints.c.tree_size)).where(log_checkpoints.c.tree_size > index)
    ).scalar()
    if covering is None:
        return NotAnchoredError(
            f"record {entry_id!r} (leaf {index}) is not yet covered by a signed checkpoint; "
            "its receipt follows once one is signed and anchored",
            state="not_signed",
            leaf_index=index,
        )
    pending = conn.execute(
        select(chain_anchors.c.tree_size, chain_anchors.c.status)
        .where(chain_anchors.c.tree_size > index)
        .order_by(chain_anchors.c.tree_size)
        .limit(1)
    ).first()
    detail = (
        f"the anchor of tree size {pending.tree_size} is {pending.status}, not final yet"
        if pending is not None
        else "none of them is anchored yet"
    )
    return NotAnchoredError(
        f"record {entry_id!r} (leaf {index}) is in signed checkpoints from tree size "
        f"{covering} on, but {detail}",
        state="not_anchored",
        leaf_index=index,
    )
