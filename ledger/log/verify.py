"""Verifying the stored log against itself: the check that runs before every signature.

A checkpoint is signed only when every stored hash agrees with the stored leaves:

1. the leaves ``[0, size)`` are all there (no gap);
2. every leaf hash not yet covered by a full level-0 tile, and every leaf added
   since the last checkpoint, is the hash of its stored leaf data (these hashes
   have no other stored copy to be checked against);
3. every stored tile a proof at ``size`` would read equals the tile rebuilt from
   the stored leaf hashes, hash by hash, level by level;
4. the root at the last checkpoint's size is that checkpoint's root, so the
   log never signs two histories that contradict each other.

On a mismatch :class:`CheckpointVerificationError` carries both roots (the one
the stored data commits to, and the one recomputed from the stored leaf
hashes), and the smallest leaf range found to differ.

Cost: one pass over the leaf hashes and the tiles, about ``size`` hashes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from ledger.log.errors import CheckpointVerificationError
from ledger.log.integrator import read_leaf_hashes
from ledger.log.tiles import TILE_HEIGHT, TILE_WIDTH, split, tile_root
from ledger.merkle import (
    CompactRange,
    InMemoryTree,
    NodeID,
    hash_children,
    hash_leaf,
    range_nodes,
    root_from_range,
)
from ledger.store.models import log_leaves as _leaves
from ledger.store.models import log_tiles as _tiles

CHUNK = 1 << 16
"""Leaves read per round trip (a multiple of the tile width)."""


def verify_store(
    conn: Connection, size: int, *, checked_size: int, checked_root: bytes | None
) -> bytes:
    """Run checks 1–4 for a tree of ``size``; returns its root.

    ``checked_size``/``checked_root`` are the last signed checkpoint (0/None for none).
    """
    tail = min(checked_size, size - size % TILE_WIDTH)
    _check_leaf_data(conn, size, tail)
    compact = CompactRange()
    # The range hashes at the last checkpoint's size, taken in the same pass (check 4).
    at_checked: list[bytes] | None = [] if checked_size == 0 else None
    entries_above: list[bytes] = []  # level-1 entries: roots of full level-0 tiles
    for begin in range(0, size, CHUNK):
        end = min(size, begin + CHUNK)
        hashes = read_leaf_hashes(conn, begin, end)
        if begin < checked_size <= end:
            compact.extend(hashes[: checked_size - begin])
            at_checked = compact.hashes()
            compact.extend(hashes[checked_size - begin :])
        else:
            compact.extend(hashes)
        full = (end - begin) // TILE_WIDTH
        first_tile = begin // TILE_WIDTH
        stored = _stored_tiles(conn, 0, first_tile, first_tile + full, size)
        for t in range(full):
            row0 = hashes[t * TILE_WIDTH : (t + 1) * TILE_WIDTH]
            _compare(conn, size, 0, first_tile + t, row0, stored.get(first_tile + t))
            entries_above.append(tile_root(row0))
    computed = compact.hashes()

    level, entries = 1, entries_above
    while entries:
        count = len(entries)
        tiles = (count + TILE_WIDTH - 1) // TILE_WIDTH
        stored = _stored_tiles(conn, level, 0, tiles, size)
        next_entries: list[bytes] = []
        for t in range(tiles):
            row0 = entries[t * TILE_WIDTH : (t + 1) * TILE_WIDTH]
            _compare(conn, size, level, t, row0, stored.get(t))
            if len(row0) == TILE_WIDTH:
                next_entries.append(tile_root(row0))
        level, entries = level + 1, next_entries

    root = root_from_range(computed)
    if checked_root is not None and checked_size > size:
        raise CheckpointVerificationError(
            checked_size,
            checked_root,
            root,
            (size, checked_size),
            reason=f"a checkpoint of size {checked_size} is signed, but only {size} leaves "
            "are integrated (was the database restored from an older copy?)",
            source="checkpoint",
        )
    if checked_root is not None and 0 < checked_size <= size:
        assert at_checked is not None  # taken in the pass above, since checked_size <= size
        at_checkpoint = root_from_range(at_checked)
        if at_checkpoint != checked_root:
            raise CheckpointVerificationError(
                checked_size,
                checked_root,
                at_checkpoint,
                (0, checked_size),
                reason="the stored leaves no longer give the root of the last checkpoint",
                source="checkpoint",
            )
    return root


def _check_leaf_data(conn: Connection, size: int, begin: int) -> None:
    """Check 2: leaf hash = H(leaf data) for ``[begin, size)``, read in chunks."""
    for start in range(begin, size, CHUNK):
        rows = conn.execute(
            select(_leaves.c.leaf_index, _leaves.c.leaf_data, _leaves.c.leaf_hash)
            .where(_leaves.c.leaf_index >= start, _leaves.c.leaf_index < min(size, start + CHUNK))
            .order_by(_leaves.c.leaf_index)
        )
        for index, data, stored in rows:
            if hash_leaf(bytes(data)) != bytes(stored):
                raise _leaf_data_evidence(conn, size, int(index), hash_leaf(bytes(data)))


def _leaf_data_evidence(
    conn: Connection, size: int, index: int, from_data: bytes
) -> CheckpointVerificationError:
    computed = _range_hashes(conn, size)
    hashes = read_leaf_hashes(conn, 0, size)
    hashes[index] = from_data
    return CheckpointVerificationError(
        size,
        InMemoryTree(hashes).root(),
        root_from_range(computed),
        (index, index + 1),
        reason=f"the stored hash of leaf {index} is not the hash of its data",
        source="leaf data",
    )


def _stored_tiles(
    conn: Connection, level: int, first: int, stop: int, size: int
) -> dict[int, bytes]:
    """Stored tiles ``first..stop-1`` of ``level``, each at the width a proof at ``size`` reads."""
    entries = size >> (TILE_HEIGHT * level)
    widths = {t: min(TILE_WIDTH, entries - t * TILE_WIDTH) for t in range(first, stop)}
    if not widths:
        return {}
    rows = conn.execute(
        select(_tiles.c.tile_index, _tiles.c.width, _tiles.c.hashes).where(
            _tiles.c.level == level,
            _tiles.c.tile_index >= first,
            _tiles.c.tile_index < stop,
        )
    )
    return {int(t): bytes(h) for t, w, h in rows if widths.get(int(t)) == int(w)}


def _compare(
    conn: Connection,
    size: int,
    level: int,
    index: int,
    rebuilt: Sequence[bytes],
    stored: bytes | None,
) -> None:
    """Check 3 for one tile: raise with evidence at its first differing hash."""
    if level == 0 and len(rebuilt) < TILE_WIDTH:
        return  # the partial level-0 tile is not stored: log_leaves is its only copy
    stored_hashes = split(stored) if stored is not None else []
    for pos, want in enumerate(rebuilt):
        got = stored_hashes[pos] if pos < len(stored_hashes) else None
        if got != want:
            node = NodeID(TILE_HEIGHT * level, index * TILE_WIDTH + pos)
            raise _tile_evidence(conn, size, node, got)


def _tile_evidence(
    conn: Connection, size: int, node: NodeID, stored: bytes | None
) -> CheckpointVerificationError:
    """The error for a stored node hash that differs from its leaves (or is missing)."""
    computed = _range_hashes(conn, size)
    ids = range_nodes(0, size)
    begin, end = node.coverage()
    if stored is None:
        expected = computed
        reason = f"the tile holding node ({node.level}, {node.index}) is missing"
    else:
        # The root a proof through the stored (wrong) hash leads to.
        holder = next(
            i for i, n in enumerate(ids) if n.coverage()[0] <= begin and end <= n.coverage()[1]
        )
        top = ids[holder]
        top_begin, top_end = top.coverage()
        tree = InMemoryTree(read_leaf_hashes(conn, top_begin, top_end))
        acc, current = stored, node
        while current.level < top.level:
            sibling = current.sibling()
            local = NodeID(sibling.level, sibling.index - (top_begin >> sibling.level))
            other = tree.node(local)
            acc = hash_children(acc, other) if current.index % 2 == 0 else hash_children(other, acc)
            current = current.parent()
        expected = [*computed[:holder], acc, *computed[holder + 1 :]]
        reason = f"the stored hash of node ({node.level}, {node.index}) differs from its leaves"
    return CheckpointVerificationError(
        size,
        root_from_range(expected),
        root_from_range(computed),
        (begin, end),
        reason=reason,
        source="tiles",
        node=[node.level, node.index],
    )


def _range_hashes(conn: Connection, size: int) -> list[bytes]:
    """The hashes of ``range_nodes(0, size)`` recomputed from the stored leaf hashes."""
    compact = CompactRange()
    for begin in range(0, size, CHUNK):
        compact.extend(read_leaf_hashes(conn, begin, min(size, begin + CHUNK)))
    return compact.hashes()
