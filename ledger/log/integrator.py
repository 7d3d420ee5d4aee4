"""Integration: extend the tree over newly sequenced leaves and store its tiles.

The integrator reads the leaf hashes the sequencer has committed past the
integrated size, computes every tile that changed, level by level, writes them
(each tile row is written once and never changed) and moves the integrated
size forward — all in one transaction, under the integrator's own lock, so it
never blocks sequencing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from ledger.log.bulk import insert_rows
from ledger.log.counters import lock_counter, read_counter, set_counter
from ledger.log.errors import LogCorruptionError
from ledger.log.tiles import TILE_HEIGHT, TILE_WIDTH, split, tile_root
from ledger.store.models import INTEGRATED_SIZE, SEQUENCED_SIZE
from ledger.store.models import log_leaves as _leaves
from ledger.store.models import log_tiles as _tiles

DEFAULT_BATCH = 1 << 20
"""The most leaves one integration takes (bounds its memory to ~100 MB)."""


@dataclass(frozen=True)
class Integration:
    """What an integration did: the tree grew from ``old_size`` to ``new_size``."""

    old_size: int
    new_size: int
    tiles_written: int


def integrate(conn: Connection, *, max_leaves: int = DEFAULT_BATCH) -> Integration:
    """Integrate up to ``max_leaves`` sequenced leaves, in the caller's transaction."""
    old = lock_counter(conn, INTEGRATED_SIZE)
    new = min(read_counter(conn, SEQUENCED_SIZE), old + max_leaves)
    if new <= old:
        return Integration(old, old, 0)

    # Level 0: the partial tile's existing leaves plus the new ones.
    base = old - old % TILE_WIDTH
    entries = read_leaf_hashes(conn, base, new)
    rows: list[dict[str, Any]] = []
    level, c_old, c_new = 0, old, new
    while True:
        # `entries` are the hashes at tree level 8*level with indices
        # [base, c_new); those below c_old were already in stored tiles.
        roots: list[bytes] = []
        for tile in range(c_old // TILE_WIDTH, (c_new - 1) // TILE_WIDTH + 1):
            start = tile * TILE_WIDTH
            width = min(TILE_WIDTH, c_new - start)
            old_width = max(0, c_old - start)
            hashes = entries[start - base : start - base + width]
            if width == TILE_WIDTH:
                roots.append(tile_root(hashes))
            # Level 0 keeps no partial tiles: log_leaves already holds them.
            if width > old_width and (width == TILE_WIDTH or level > 0):
                rows.append(
                    {"level": level, "tile_index": tile, "width": width, "hashes": b"".join(hashes)}
                )
        up_old, up_new = c_old >> TILE_HEIGHT, c_new >> TILE_HEIGHT
        if up_new == up_old:
            break
        level += 1
        base = up_old - up_old % TILE_WIDTH
        entries = _partial_tile(conn, level, up_old) + roots
        c_old, c_new = up_old, up_new

    insert_rows(conn, _tiles, rows)
    set_counter(conn, INTEGRATED_SIZE, new)
    return Integration(old, new, len(rows))


def read_leaf_hashes(conn: Connection, begin: int, end: int) -> list[bytes]:
    """The stored leaf hashes ``[begin, end)``; a gap is corruption, not a short read."""
    stmt = (
        select(_leaves.c.leaf_hash)
        .where(_leaves.c.leaf_index >= begin, _leaves.c.leaf_index < end)
        .order_by(_leaves.c.leaf_index)
    )
    hashes = [bytes(h) for h in conn.execute(stmt).scalars()]
    if len(hashes) != end - begin:
        raise LogCorruptionError(
            f"log_leaves holds {len(hashes)} leaves in [{begin}, {end}), want {end - begin}",
            begin=begin,
            end=end,
            found=len(hashes),
        )
    return hashes


def _partial_tile(conn: Connection, level: int, count: int) -> list[bytes]:
    """The hashes of the partial tile at ``level`` when the level has ``count`` entries."""
    width = count % TILE_WIDTH
    if width == 0:
        return []
    tile = count // TILE_WIDTH
    stmt = select(_tiles.c.hashes).where(
        _tiles.c.level == level, _tiles.c.tile_index == tile, _tiles.c.width == width
    )
    blob = conn.execute(stmt).scalar_one_or_none()
    if blob is None:
        raise LogCorruptionError(
            f"tile ({level}, {tile}) of width {width} is missing",
            level=level,
            tile_index=tile,
            width=width,
        )
    return split(bytes(blob))
