"""The persistent Merkle log (ledger.log over ledger.store) on SQLite and PostgreSQL.

The store's roots and proofs are compared with two independent oracles: the pure
in-memory tree of :mod:`ledger.merkle` and the textbook recursive reference of
RFC 9162 in ``tests/merkle_reference.py`` (which hashes leaf *data* itself). Leaf
hashes are recomputed here with :mod:`hashlib`, never taken from the library.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence

import merkle_reference as ref
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.checkpoint import generate_signer
from ledger.log import DuplicateEntryError, LeafInput, MerkleLog, TreeSizeError, sequence
from ledger.merkle import InMemoryTree, NodeID, verify_consistency, verify_inclusion

ORIGIN = "civic-ledger.test/log-store"
LOG_TABLES = ("log_leaves", "log_tiles", "log_checkpoints", "log_counters")


def leaf_hash_of(leaf_data: bytes) -> bytes:
    """SHA-256(0x00 || leaf_data), computed here, not by the library."""
    return hashlib.sha256(b"\x00" + leaf_data).digest()


def make_leaves(prefix: str, count: int, start: int = 0) -> list[LeafInput]:
    """``count`` leaves with distinct ids and distinct (JSON-like) data."""
    return [
        LeafInput(f"{prefix}-{i}", f'{{"id":"{prefix}-{i}","n":{i}}}'.encode())
        for i in range(start, start + count)
    ]


def append_in_chunks(log: MerkleLog, leaves: Sequence[LeafInput], chunks: Iterable[int]) -> None:
    """Sequence ``leaves`` in batches of the given sizes (which must add up to all of them)."""
    pos = 0
    for chunk in chunks:
        got = log.append(leaves[pos : pos + chunk])
        assert got == range(pos, pos + chunk), f"batch got indices {got}, want [{pos}, +{chunk})"
        pos += chunk
    assert pos == len(leaves), "chunks do not add up to the leaves"


def stored_tiles(engine: sa.Engine) -> dict[tuple[int, int, int], bytes]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT level, tile_index, width, hashes FROM log_tiles"))
        return {(r.level, r.tile_index, r.width): bytes(r.hashes) for r in rows}


def expected_tile_versions(step_sizes: Iterable[int]) -> set[tuple[int, int, int]]:
    """The tile rows C2SP tlog-tiles asks for when integration stops at ``step_sizes``.

    Level 0: full tiles only (the partial one is the tail of log_leaves). Level L > 0:
    every width a tile has at the end of an integration, full or partial.
    """
    versions: set[tuple[int, int, int]] = set()
    for size in step_sizes:
        versions.update((0, t, 256) for t in range(size // 256))
        level = 1
        while (count := size >> (8 * level)) > 0:
            versions.update((level, t, 256) for t in range(count // 256))
            if count % 256:
                versions.add((level, count // 256, count % 256))
            level += 1
    return versions


def assert_tiles_match_tree(engine: sa.Engine, tree: InMemoryTree) -> None:
    """Every stored tile holds exactly the tree's nodes at its level and positions."""
    for (level, index, width), blob in stored_tiles(engine).items():
        want = b"".join(
            tree.node(NodeID(8 * level, 256 * index + j)) for j in range(width)
        )  # a KeyError here means the tile holds a node the tree does not have yet
        assert blob == want, f"tile ({level}, {index}) of width {width} differs from the tree"


def assert_store_matches_tree(
    log: MerkleLog, tree: InMemoryTree, sizes: Iterable[int], indices: Iterable[int]
) -> None:
    """Roots at ``sizes``, inclusion proofs of ``indices`` and consistency proofs between
    consecutive ``sizes`` are those of ``tree``, and verify."""
    ordered = sorted(set(sizes))
    for size in ordered:
        root = log.root(size)
        assert root == tree.root(size), f"root at size {size} differs from the in-memory tree"
        for index in indices:
            if index < size:
                proof = log.inclusion_proof(index, size)
                assert proof == tree.inclusion_proof(index, size), f"PATH({index}, {size})"
                verify_inclusion(index, size, tree.leaf_hash(index), proof, root)
    for size1, size2 in itertools.pairwise(ordered):
        proof = log.consistency_proof(size1, size2)
        assert proof == tree.consistency_proof(size1, size2), f"PROOF({size1}, {size2})"
        if size1 > 0:
            verify_consistency(size1, size2, proof, tree.root(size1), tree.root(size2))


def boundary_numbers(size: int) -> set[int]:
    """Sizes and indices around the tile edges of levels 0 and 1, within ``[0, size]``."""
    near = {0, 1, 2, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537, size - 1, size}
    return {n for n in near if 0 <= n <= size}


# --------------------------------------------------------------------------
# Append, integrate, compare with the in-memory tree


@pytest.mark.parametrize(
    "integrate_steps",
    [
        pytest.param([1], id="1"),
        pytest.param([255], id="255"),
        pytest.param([256], id="256"),
        pytest.param([257], id="257"),
        pytest.param([511], id="511"),
        pytest.param([1, 254, 1, 1, 255, 257, 3, 253], id="odd-steps-to-1025"),
        pytest.param([300, 300, 300], id="steps-of-300"),
    ],
)
def test_store_matches_in_memory_tree(engine: sa.Engine, integrate_steps: list[int]) -> None:
    total = sum(integrate_steps)
    leaves = make_leaves("leaf", total)
    log = MerkleLog(engine, origin=ORIGIN)
    append_in_chunks(log, leaves, _odd_chunks(total))
    tree = InMemoryTree()
    step_sizes: list[int] = []
    for step in integrate_steps:
        done = log.integrate(max_leaves=step)
        tree.extend(leaf_hash_of(leaf.leaf_data) for leaf in leaves[tree.size : tree.size + step])
        step_sizes.append(tree.size)
        assert (done.old_size, done.new_size) == (tree.size - step, tree.size)
        assert log.size() == tree.size
        around = boundary_numbers(tree.size) | set(step_sizes)
        assert_store_matches_tree(log, tree, around, around)
    # Once everything is in: every root and every leaf's proof at the full size.
    assert_store_matches_tree(log, tree, range(total + 1), [])
    root = log.root(total)
    for index in range(total):
        proof = log.inclusion_proof(index, total)
        verify_inclusion(index, total, leaf_hash_of(leaves[index].leaf_data), proof, root)
    assert root == ref.mth([leaf.leaf_data for leaf in leaves])
    assert_tiles_match_tree(engine, tree)
    assert set(stored_tiles(engine)) == expected_tile_versions(step_sizes)


def _odd_chunks(total: int) -> list[int]:
    """Batch sizes 1, 3, 5, ... (the last one shorter) that add up to ``total``."""
    chunks, n = [], 1
    while total > 0:
        chunks.append(min(n, total))
        total -= chunks[-1]
        n += 2
    return chunks


def test_big_log_across_level_one_and_two_tile_edges(engine: sa.Engine) -> None:
    """65535, 65536, 65537 leaves, integrated in odd steps: level-1 partial tiles at many
    widths, the first full level-1 tile, and the first level-2 tile."""
    steps = [1, 254, 1, 255, 257, 511, 4097, 9999, 30001, 20159, 1, 1]
    total = sum(steps)
    assert total == 65537
    leaves = make_leaves("big", total)
    log = MerkleLog(engine, origin=ORIGIN)
    # Batches both below and above the bulk (COPY) threshold.
    append_in_chunks(log, leaves, [1, 255, 32767, 32514])
    data = [leaf.leaf_data for leaf in leaves]
    tree = InMemoryTree()
    step_sizes: list[int] = []
    for step in steps:
        done = log.integrate(max_leaves=step)
        tree.extend(leaf_hash_of(d) for d in data[tree.size : tree.size + step])
        step_sizes.append(tree.size)
        assert done.new_size == tree.size
        indices = boundary_numbers(tree.size) | {tree.size // 2, tree.size // 3}
        assert_store_matches_tree(log, tree, boundary_numbers(tree.size) | set(step_sizes), indices)
    assert step_sizes[-3:] == [65535, 65536, 65537]
    for size in (65535, 65536, 65537):
        assert log.root(size) == ref.mth(data[:size]), f"root at {size} differs from RFC 9162"
    assert log.inclusion_proof(65536, 65537) == ref.path(65536, data)
    assert log.consistency_proof(65535, 65537) == ref.proof(65535, data)

    tiles = stored_tiles(engine)
    assert set(tiles) == expected_tile_versions(step_sizes)
    level1_widths = sorted(w for (level, index, w) in tiles if (level, index) == (1, 0))
    assert level1_widths == [1, 3, 4, 21, 60, 177, 255, 256]
    assert (2, 0, 1) in tiles
    assert_tiles_match_tree(engine, tree)


# --------------------------------------------------------------------------
# Random proofs from the store against the textbook reference


@pytest.fixture
def grown_log(engine: sa.Engine) -> tuple[MerkleLog, list[bytes]]:
    """A log of 845 integrated leaves (level-1 tile written at widths 1, 2, 3) and 7
    sequenced but not integrated ones; returns it with every leaf's data in index order."""
    leaves = make_leaves("prop", 852)
    log = MerkleLog(engine, origin=ORIGIN)
    append_in_chunks(log, leaves, [1, 255, 1, 299, 290, 6])
    for step in (1, 256, 300, 288):
        log.integrate(max_leaves=step)
    assert log.size() == 845
    return log, [leaf.leaf_data for leaf in leaves]


def test_random_inclusion_proofs_from_the_store_match_the_reference(
    grown_log: tuple[MerkleLog, list[bytes]],
) -> None:
    log, data = grown_log
    integrated = log.size()

    @settings(max_examples=60, deadline=None)
    @given(st.data())
    def check(draw: st.DataObject) -> None:
        size = draw.draw(st.integers(1, integrated), label="size")
        index = draw.draw(st.integers(0, size - 1), label="index")
        root = log.root(size)
        assert root == ref.mth(data[:size])
        proof = log.inclusion_proof(index, size)
        assert proof == ref.path(index, data[:size])
        verify_inclusion(index, size, leaf_hash_of(data[index]), proof, root)
        assert ref.verify_inclusion(index, size, leaf_hash_of(data[index]), proof, root)

    check()


def test_random_consistency_proofs_from_the_store_match_the_reference(
    grown_log: tuple[MerkleLog, list[bytes]],
) -> None:
    log, data = grown_log
    integrated = log.size()

    @settings(max_examples=60, deadline=None)
    @given(st.data())
    def check(draw: st.DataObject) -> None:
        size2 = draw.draw(st.integers(0, integrated), label="size2")
        size1 = draw.draw(st.integers(0, size2), label="size1")
        root1, root2 = log.root(size1), log.root(size2)
        assert (root1, root2) == (ref.mth(data[:size1]), ref.mth(data[:size2]))
        proof = log.consistency_proof(size1, size2)
        assert proof == ref.proof(size1, data[:size2])
        if size1 == 0:
            assert proof == []  # RFC 9162 defines no proof from the empty tree
            return
        verify_consistency(size1, size2, proof, root1, root2)
        assert ref.verify_consistency(size1, size2, proof, root1, root2)

    check()


# --------------------------------------------------------------------------
# Sizes beyond the integrated tree


def test_sizes_beyond_the_integrated_tree_are_refused(engine: sa.Engine) -> None:
    leaves = make_leaves("size", 310)
    log = MerkleLog(engine, origin=ORIGIN)
    log.append(leaves)
    log.integrate(max_leaves=300)
    assert log.size() == 300

    with pytest.raises(TreeSizeError) as root_err:
        log.root(301)
    assert str(root_err.value) == "tree size 301 is beyond the integrated size 300"
    assert root_err.value.diagnostics() == {
        "code": "tree_size_out_of_range",
        "message": "tree size 301 is beyond the integrated size 300",
        "tree_size": 301,
        "integrated_size": 300,
    }
    with pytest.raises(TreeSizeError, match=r"^tree size 310 is beyond the integrated size 300$"):
        log.consistency_proof(100, 310)
    # Leaf 305 is sequenced (it has its index) but not integrated: not provable yet.
    with pytest.raises(TreeSizeError, match=r"^tree size 306 is beyond the integrated size 300$"):
        log.inclusion_proof(305, 306)

    log.integrate()
    assert log.size() == 310
    tree = InMemoryTree(leaf_hash_of(leaf.leaf_data) for leaf in leaves)
    root = log.root(306)
    assert root == tree.root(306)
    proof = log.inclusion_proof(305, 306)
    verify_inclusion(305, 306, leaf_hash_of(leaves[305].leaf_data), proof, root)
    with pytest.raises(TreeSizeError, match=r"^tree size 311 is beyond the integrated size 310$"):
        log.inclusion_proof(0, 311)


def test_an_empty_log_has_the_empty_root_and_nothing_else(engine: sa.Engine) -> None:
    log = MerkleLog(engine, origin=ORIGIN)
    assert log.size() == 0
    assert log.root(0) == hashlib.sha256(b"").digest()
    with pytest.raises(TreeSizeError, match=r"^tree size 1 is beyond the integrated size 0$"):
        log.root(1)
    log.append(make_leaves("one", 1))
    with pytest.raises(TreeSizeError, match=r"^tree size 1 is beyond the integrated size 0$"):
        log.inclusion_proof(0, 1)


# --------------------------------------------------------------------------
# Duplicates: refused, and nothing written


def log_state(engine: sa.Engine) -> dict[str, object]:
    """Row counts of every log table and the values of both counters."""
    with engine.connect() as conn:
        state: dict[str, object] = {
            table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in LOG_TABLES
        }
        counters = conn.execute(sa.text("SELECT name, value FROM log_counters"))
        state["counters"] = {row.name: row.value for row in counters}
    return state


@pytest.fixture
def busy_log(engine: sa.Engine) -> MerkleLog:
    """A log with leaves, tiles, a checkpoint, and sequenced-but-unintegrated leaves."""
    log = MerkleLog(engine, origin=ORIGIN)
    log.append(make_leaves("old", 300))
    log.integrate()
    log.sign(generate_signer("test-log", bytes(32)))
    log.append(make_leaves("old", 5, start=300))
    state = log_state(engine)
    assert state["log_tiles"] and state["log_checkpoints"]
    assert state["counters"] == {"sequenced_size": 305, "integrated_size": 300}
    return log


@pytest.mark.parametrize("new_leaves", [1, 299], ids=["small-batch", "bulk-batch"])
def test_an_id_already_logged_is_refused_and_nothing_written(
    engine: sa.Engine, busy_log: MerkleLog, new_leaves: int
) -> None:
    before = log_state(engine)
    # The taken id last, so a batch large enough for COPY fails midway.
    batch = [*make_leaves("new", new_leaves), LeafInput("old-7", b"another body")]
    with pytest.raises(DuplicateEntryError) as err:
        busy_log.append(batch)
    assert str(err.value) == "entry id 'old-7' is already in the log"
    assert err.value.diagnostics()["entry_ids"] == ["old-7"]
    assert err.value.code == "duplicate_entry"
    assert log_state(engine) == before
    # Also an id that is sequenced but not yet integrated.
    with pytest.raises(DuplicateEntryError, match=r"^entry id 'old-303' is already in the log$"):
        busy_log.append([LeafInput("old-303", b"x")])
    assert log_state(engine) == before
    with engine.connect() as conn:
        kept = conn.execute(
            sa.text("SELECT leaf_data FROM log_leaves WHERE entry_id = 'old-7'")
        ).scalar_one()
    assert bytes(kept) == make_leaves("old", 1, start=7)[0].leaf_data


def test_a_batch_repeating_an_id_is_refused_and_nothing_written(
    engine: sa.Engine, busy_log: MerkleLog
) -> None:
    before = log_state(engine)
    batch = [LeafInput("dup", b"first"), LeafInput("fresh", b"y"), LeafInput("dup", b"second")]
    with pytest.raises(DuplicateEntryError, match=r"^the batch repeats an entry id$"):
        busy_log.append(batch)
    assert log_state(engine) == before
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT count(*) FROM log_leaves WHERE entry_id IN ('dup', 'fresh')")
        ).scalar_one()
    assert found == 0


def test_the_callers_transaction_survives_a_duplicate(
    engine: sa.Engine, busy_log: MerkleLog
) -> None:
    with engine.begin() as conn:
        first = sequence(conn, [LeafInput("tx-1", b"one")])
        with pytest.raises(DuplicateEntryError):
            sequence(conn, [*make_leaves("tx-lost", 3), LeafInput("old-0", b"again")])
        with pytest.raises(DuplicateEntryError):
            sequence(conn, [LeafInput("tx-1", b"same transaction, already sequenced")])
        second = sequence(conn, [LeafInput("tx-2", b"two")])
    assert (first, second) == (range(305, 306), range(306, 307))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT leaf_index, entry_id FROM log_leaves WHERE leaf_index >= 305")
        ).all()
        counter = conn.execute(
            sa.text("SELECT value FROM log_counters WHERE name = 'sequenced_size'")
        ).scalar_one()
    assert sorted(tuple(r) for r in rows) == [(305, "tx-1"), (306, "tx-2")]
    assert counter == 307
    assert busy_log.integrate_all() == 307


# --------------------------------------------------------------------------
# What is stored for a leaf


def test_stored_leaf_hash_is_sha256_of_zero_byte_and_leaf_data(engine: sa.Engine) -> None:
    datas = [b"", b"\x00", b"\x01\x02", b"\xff" * 1000, "签名 ✓".encode(), b'{"v":1}']
    log = MerkleLog(engine, origin=ORIGIN)
    got = log.append([LeafInput(f"id-{i}", d) for i, d in enumerate(datas)])
    assert got == range(len(datas))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT leaf_index, entry_id, leaf_data, leaf_hash FROM log_leaves")
        ).all()
    by_index = {r.leaf_index: r for r in rows}
    assert sorted(by_index) == list(range(len(datas)))
    for i, d in enumerate(datas):
        row = by_index[i]
        assert row.entry_id == f"id-{i}"
        assert bytes(row.leaf_data) == d
        assert bytes(row.leaf_hash) == hashlib.sha256(b"\x00" + d).digest()
    # A known answer: RFC 6962's empty-leaf hash.
    assert bytes(by_index[0].leaf_hash).hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
