"""Signing checkpoints of the persistent log, and refusing to sign a tampered one.

On SQLite and PostgreSQL. The good path: the signed note opens with the log's
verifier and commits to the root an independent tree computes. The bad path plays
an attacker with write access to the database: the append-only triggers are dropped
(by the names the migration gave them), one bit is flipped in a stored leaf hash or
tile, or a leaf row is deleted, and signing must refuse, with evidence, and store
nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import merkle_reference as ref
import pytest
import sqlalchemy as sa

from ledger.checkpoint import NoteError, Signer, generate_signer, open_checkpoint
from ledger.log import (
    CheckpointVerificationError,
    LeafInput,
    LogCorruptionError,
    MerkleLog,
)
from ledger.merkle import InMemoryTree, verify_consistency

ORIGIN = "civic-ledger.test/signing"
APPEND_ONLY = ("log_leaves", "log_tiles", "log_checkpoints")


def leaf_hash_of(leaf_data: bytes) -> bytes:
    """SHA-256(0x00 || leaf_data), computed here, not by the library."""
    return hashlib.sha256(b"\x00" + leaf_data).digest()


def make_leaves(count: int, start: int = 0) -> list[LeafInput]:
    return [LeafInput(f"entry-{i}", f'{{"n":{i}}}'.encode()) for i in range(start, start + count)]


@pytest.fixture
def signer() -> Signer:
    return generate_signer("civic-ledger.test", hashlib.sha256(b"test signing key").digest())


def checkpoint_rows(engine: sa.Engine) -> list[tuple[int, bytes, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT tree_size, root_hash, note FROM log_checkpoints ORDER BY tree_size")
        ).all()
    return [(r.tree_size, bytes(r.root_hash), r.note) for r in rows]


def as_utc(moment: datetime) -> datetime:
    """``moment`` as naive UTC (SQLite gives back naive datetimes, PostgreSQL aware ones)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


# --------------------------------------------------------------------------
# The good path


@pytest.mark.parametrize("size", [0, 1, 256, 777])
def test_signed_note_opens_and_commits_to_the_trees_root(
    engine: sa.Engine, signer: Signer, size: int
) -> None:
    leaves = make_leaves(size)
    log = MerkleLog(engine, origin=ORIGIN)
    log.append(leaves)
    log.append(make_leaves(3, start=size))  # sequenced, not integrated: not signed
    assert log.integrate(max_leaves=size).new_size == size

    signed = log.sign(signer)

    opened = open_checkpoint(signed.note, signer.verifier(), origin=ORIGIN)
    want_root = InMemoryTree(leaf_hash_of(leaf.leaf_data) for leaf in leaves).root()
    assert want_root == ref.mth([leaf.leaf_data for leaf in leaves])
    assert (opened.origin, opened.size, opened.root_hash) == (ORIGIN, size, want_root)
    assert signed.checkpoint == opened
    assert checkpoint_rows(engine) == [(size, want_root, signed.note)]
    if size == 0:
        assert want_root == hashlib.sha256(b"").digest()
    # Another key's verifier does not open it.
    stranger = generate_signer("civic-ledger.test", hashlib.sha256(b"another key").digest())
    with pytest.raises(NoteError):
        open_checkpoint(signed.note, stranger.verifier())


def test_signing_the_same_size_twice_returns_the_stored_note(
    engine: sa.Engine, signer: Signer
) -> None:
    log = MerkleLog(engine, origin=ORIGIN)
    log.append(make_leaves(300))
    log.integrate()
    first_at = datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)
    first = log.sign(signer, now=first_at)
    again = log.sign(signer, now=first_at + timedelta(hours=1))

    assert again.note == first.note
    assert again.checkpoint == first.checkpoint
    assert as_utc(again.signed_at) == as_utc(first_at)
    assert [size for size, _, _ in checkpoint_rows(engine)] == [300]

    # The log grows: a second checkpoint, consistent with the first.
    log.append(make_leaves(211, start=300))
    log.integrate()
    second = log.sign(signer, now=first_at + timedelta(hours=2))
    assert [size for size, _, _ in checkpoint_rows(engine)] == [300, 511]
    assert second.note != first.note
    old = open_checkpoint(first.note, signer.verifier(), origin=ORIGIN)
    new = open_checkpoint(second.note, signer.verifier(), origin=ORIGIN)
    proof = log.consistency_proof(old.size, new.size)
    verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)


# --------------------------------------------------------------------------
# Verify before sign: the attacker's edits


def drop_append_only_triggers(engine: sa.Engine) -> None:
    """What an attacker with DDL rights does first (trigger names from migration 0001)."""
    with engine.begin() as conn:
        for table in APPEND_ONLY:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text(f"DROP TRIGGER {table}_append_only ON {table}"))
            else:
                conn.execute(sa.text(f"DROP TRIGGER {table}_no_update"))
                conn.execute(sa.text(f"DROP TRIGGER {table}_no_delete"))


def flip_bit(blob: bytes, byte: int, bit: int = 4) -> bytes:
    return blob[:byte] + bytes([blob[byte] ^ (1 << bit)]) + blob[byte + 1 :]


def flip_leaf_hash(engine: sa.Engine, index: int) -> None:
    with engine.begin() as conn:
        old = conn.execute(
            sa.text("SELECT leaf_hash FROM log_leaves WHERE leaf_index = :i"), {"i": index}
        ).scalar_one()
        done = conn.execute(
            sa.text("UPDATE log_leaves SET leaf_hash = :h WHERE leaf_index = :i"),
            {"h": flip_bit(bytes(old), 7), "i": index},
        )
        assert done.rowcount == 1


def flip_tile_hash(engine: sa.Engine, level: int, tile_index: int, width: int, pos: int) -> None:
    """Flip one bit of hash ``pos`` in the stored tile ``(level, tile_index)`` of ``width``."""
    key = {"l": level, "t": tile_index, "w": width}
    where = "level = :l AND tile_index = :t AND width = :w"
    with engine.begin() as conn:
        old = conn.execute(sa.text(f"SELECT hashes FROM log_tiles WHERE {where}"), key)
        blob = bytes(old.scalar_one())
        done = conn.execute(
            sa.text(f"UPDATE log_tiles SET hashes = :h WHERE {where}"),
            {**key, "h": flip_bit(blob, 32 * pos + 7)},
        )
        assert done.rowcount == 1


def delete_leaf(engine: sa.Engine, index: int) -> None:
    with engine.begin() as conn:
        done = conn.execute(sa.text("DELETE FROM log_leaves WHERE leaf_index = :i"), {"i": index})
        assert done.rowcount == 1


@dataclass(frozen=True)
class Tampered:
    """A log after the attacker's edit: what was signed before, and the genuine root."""

    log: MerkleLog
    size: int
    true_root: bytes
    checkpoints: list[tuple[int, bytes, str]]


def tamper_after_growing(
    engine: sa.Engine, signer: Signer, size: int, edit: Callable[[sa.Engine], None]
) -> Tampered:
    """Grow a log to ``size`` in steps, signing at 600 and 850; drop the triggers; ``edit``."""
    log = MerkleLog(engine, origin=ORIGIN)
    leaves = make_leaves(size)
    log.append(leaves)
    for step in (300, 300, 250):
        log.integrate(max_leaves=step)
        if log.size() >= 600:
            log.sign(signer)
    log.integrate()
    assert log.size() == size
    true_root = InMemoryTree(leaf_hash_of(leaf.leaf_data) for leaf in leaves).root()
    assert log.root(size) == true_root
    checkpoints = checkpoint_rows(engine)
    assert [s for s, _, _ in checkpoints] == [600, 850]
    drop_append_only_triggers(engine)
    edit(engine)
    return Tampered(log, size, true_root, checkpoints)


def assert_refused_with_evidence(
    tampered: Tampered, signer: Signer, engine: sa.Engine, target: tuple[int, int]
) -> CheckpointVerificationError:
    """Signing refuses; the evidence names a range holding ``target`` and two roots."""
    with pytest.raises(CheckpointVerificationError) as caught:
        tampered.log.sign(signer)
    err = caught.value
    begin, end = err.first_differing_range
    assert begin <= target[0] and target[1] <= end, (
        f"first differing range [{begin}, {end}) does not hold the tampered [{target[0]}, "
        f"{target[1]})"
    )
    assert err.tree_size == tampered.size
    assert err.expected_root != err.computed_root
    assert tampered.true_root in (err.expected_root, err.computed_root)
    reason, source = err.evidence["reason"], err.evidence["source"]
    assert source in ("tiles", "leaf data", "checkpoint")
    assert str(err) == (
        f"refusing to sign tree size {tampered.size}: {reason}; "
        f"the stored {source} give root {err.expected_root.hex()}, "
        f"the stored leaf hashes give {err.computed_root.hex()}; "
        f"first differing range [{begin}, {end})"
    )
    diagnostics = err.diagnostics()
    assert diagnostics["code"] == "checkpoint_verification_failed"
    assert diagnostics["first_differing_range"] == [begin, end]
    assert checkpoint_rows(engine) == tampered.checkpoints, "a checkpoint row was added"
    return err


# 1000 leaves: level-0 tiles 0..2 full, leaves [768, 1000) the partial tail read from
# log_leaves; level-1 tile 0 stored at widths 1, 2 and 3; checkpoints signed at 600 and 850.
SIZE = 1000


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(3, id="leaf-in-full-level-0-tile-0"),
        pytest.param(300, id="leaf-in-full-level-0-tile-1"),
        pytest.param(800, id="leaf-in-partial-tail-under-checkpoint-850"),
        pytest.param(900, id="leaf-in-partial-tail"),
    ],
)
def test_sign_refuses_a_flipped_leaf_hash(engine: sa.Engine, signer: Signer, index: int) -> None:
    tampered = tamper_after_growing(engine, signer, SIZE, lambda e: flip_leaf_hash(e, index))
    err = assert_refused_with_evidence(tampered, signer, engine, (index, index + 1))
    # The smallest range holding a single wrong leaf hash is that leaf.
    assert err.first_differing_range == (index, index + 1)


@pytest.mark.parametrize(
    ("tile_index", "pos"),
    [pytest.param(0, 0, id="tile-0-first-hash"), pytest.param(1, 44, id="tile-1-hash-44")],
)
def test_sign_refuses_a_flipped_hash_in_a_full_level_0_tile(
    engine: sa.Engine, signer: Signer, tile_index: int, pos: int
) -> None:
    leaf = 256 * tile_index + pos
    tampered = tamper_after_growing(
        engine, signer, SIZE, lambda e: flip_tile_hash(e, 0, tile_index, 256, pos)
    )
    assert_refused_with_evidence(tampered, signer, engine, (leaf, leaf + 1))


@pytest.mark.parametrize("pos", [0, 1, 2])
def test_sign_refuses_a_flipped_hash_in_a_level_1_tile(
    engine: sa.Engine, signer: Signer, pos: int
) -> None:
    # Hash `pos` of level-1 tile 0 is the node over leaves [256 * pos, 256 * (pos + 1)).
    tampered = tamper_after_growing(
        engine, signer, SIZE, lambda e: flip_tile_hash(e, 1, 0, SIZE >> 8, pos)
    )
    assert_refused_with_evidence(tampered, signer, engine, (256 * pos, 256 * (pos + 1)))


def test_sign_refuses_a_flipped_hash_in_a_full_level_1_tile(
    engine: sa.Engine, signer: Signer
) -> None:
    # 65536 + 300 leaves: level-1 tile 0 is full, and level-2 tile 0 covers it.
    size = 65836
    tampered = tamper_after_growing(engine, signer, size, lambda e: flip_tile_hash(e, 1, 0, 256, 5))
    assert_refused_with_evidence(tampered, signer, engine, (5 * 256, 6 * 256))


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(0, id="first-leaf"),
        pytest.param(300, id="leaf-in-full-level-0-tile"),
        pytest.param(900, id="leaf-in-partial-tail"),
        pytest.param(SIZE - 1, id="last-leaf"),
    ],
)
def test_sign_refuses_a_log_with_a_deleted_leaf(
    engine: sa.Engine, signer: Signer, index: int
) -> None:
    tampered = tamper_after_growing(engine, signer, SIZE, lambda e: delete_leaf(e, index))
    with pytest.raises(LogCorruptionError) as caught:
        tampered.log.sign(signer)
    err = caught.value
    assert not isinstance(err, CheckpointVerificationError), "a gap is not a hash mismatch"
    assert err.code == "log_corrupt"
    begin, end, found = err.evidence["begin"], err.evidence["end"], err.evidence["found"]
    assert begin <= index < end <= SIZE
    assert found == end - begin - 1
    assert str(err) == f"log_leaves holds {found} leaves in [{begin}, {end}), want {end - begin}"
    assert checkpoint_rows(engine) == tampered.checkpoints, "a checkpoint row was added"


def test_sign_refuses_when_the_last_checkpoints_root_no_longer_holds(
    engine: sa.Engine, signer: Signer
) -> None:
    # The stored root of the checkpoint at 850 is rewritten: the leaves and tiles still
    # agree with each other, so only check 4 (the last checkpoint's root) can see it.
    def rewrite_checkpoint_root(e: sa.Engine) -> None:
        with e.begin() as conn:
            old = conn.execute(
                sa.text("SELECT root_hash FROM log_checkpoints WHERE tree_size = 850")
            ).scalar_one()
            conn.execute(
                sa.text("UPDATE log_checkpoints SET root_hash = :r WHERE tree_size = 850"),
                {"r": flip_bit(bytes(old), 0)},
            )

    tampered = tamper_after_growing(engine, signer, SIZE, rewrite_checkpoint_root)
    with pytest.raises(CheckpointVerificationError) as caught:
        tampered.log.sign(signer)
    err = caught.value
    assert err.evidence["source"] == "checkpoint"
    assert err.tree_size == 850 and err.first_differing_range == (0, 850)
    assert (
        err.computed_root
        == InMemoryTree(leaf_hash_of(leaf.leaf_data) for leaf in make_leaves(850)).root()
    )
    assert err.expected_root != err.computed_root
