"""Where a node's hash lives among the tiles, and how a tile is expanded (pure).

The layout follows C2SP tlog-tiles: tile ``(L, u)`` holds the hashes of the
nodes at tree level ``8 * L`` with indices ``[256 * u, 256 * u + width)``. The
nodes at levels ``8L + 1 .. 8L + 7`` are not stored; they are the interior of
the tile and are recomputed (:func:`expand`) when a tile is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256

from ledger.merkle import HASH_SIZE, NodeID
from ledger.merkle.rfc9162 import NODE_HASH_PREFIX

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256


@dataclass(frozen=True, slots=True)
class TileKey:
    level: int
    index: int


def tile_for(node: NodeID) -> tuple[TileKey, int, int]:
    """The tile that holds ``node``, the node's row inside it and its position in the row.

    Row ``s`` of a tile is the tile's level-``s`` interior, row 0 being the
    stored hashes themselves.
    """
    tile_level, row = divmod(node.level, TILE_HEIGHT)
    shift = TILE_HEIGHT - row
    return TileKey(tile_level, node.index >> shift), row, node.index & ((1 << shift) - 1)


def width_at(key: TileKey, tree_size: int) -> int:
    """How many hashes tile ``key`` has when the tree has ``tree_size`` leaves (0 to 256)."""
    entries = tree_size >> (TILE_HEIGHT * key.level)
    return max(0, min(TILE_WIDTH, entries - key.index * TILE_WIDTH))


def split(blob: bytes) -> list[bytes]:
    """A tile's stored bytes as a list of 32-byte hashes."""
    return [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


def expand(row0: Sequence[bytes]) -> list[list[bytes]]:
    """Rows 0..8 of a tile from its stored hashes: row ``s`` has ``len(row0) >> s`` nodes.

    Row 8 exists (with one hash, the tile's root) only for a full tile.
    """
    rows = [list(row0)]
    prefix = NODE_HASH_PREFIX
    below = rows[0]
    while len(below) > 1:
        below = [
            sha256(prefix + below[i] + below[i + 1]).digest() for i in range(0, len(below) - 1, 2)
        ]
        rows.append(below)
    return rows


def tile_root(row0: Sequence[bytes]) -> bytes:
    """The root of a full tile: the node one tile level up."""
    if len(row0) != TILE_WIDTH:
        raise ValueError(f"tile has {len(row0)} hashes, want {TILE_WIDTH}")
    return expand(row0)[TILE_HEIGHT][0]
