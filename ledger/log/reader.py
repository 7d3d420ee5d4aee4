"""Serving roots and proofs from the stored tiles.

A proof needs at most ``2 * log2(size)`` perfect nodes (``ledger.merkle.proof``);
they lie in a handful of tiles — for an inclusion proof, one tile per tile
level. Each tile row is immutable once written (the table is append-only), so
expanded tiles are kept in a small LRU cache keyed by ``(level, index, width)``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy import Connection, select, tuple_

from ledger.log.counters import read_counter
from ledger.log.errors import LogCorruptionError, TreeSizeError
from ledger.log.integrator import read_leaf_hashes
from ledger.log.tiles import TILE_WIDTH, TileKey, expand, split, tile_for, width_at
from ledger.merkle import (
    NodeID,
    consistency_nodes,
    hash_children,
    inclusion_nodes,
    range_nodes,
    root_from_range,
)
from ledger.store.models import INTEGRATED_SIZE
from ledger.store.models import log_tiles as _tiles

TileVersion = tuple[int, int, int]  # (level, index, width)


class LogReader:
    """Reads roots, nodes and proofs of the integrated tree. Safe to share between threads
    that each pass their own connection; the cache only ever holds immutable tiles."""

    def __init__(self, cache_tiles: int = 4096) -> None:
        self._cache: OrderedDict[TileVersion, list[list[bytes]]] = OrderedDict()
        self._cache_tiles = cache_tiles
        self._cache_lock = threading.Lock()

    def integrated_size(self, conn: Connection) -> int:
        return read_counter(conn, INTEGRATED_SIZE)

    def root(self, conn: Connection, size: int, *, integrated: int | None = None) -> bytes:
        """RFC 9162 MTH of the first ``size`` leaves."""
        integrated = self._check(conn, size, integrated)
        return root_from_range(self.nodes(conn, range_nodes(0, size), integrated))

    def inclusion_proof(
        self, conn: Connection, index: int, size: int, *, integrated: int | None = None
    ) -> list[bytes]:
        """PATH(index, D[0:size]), RFC 9162 §2.1.3.1. Requires ``0 <= index < size``."""
        integrated = self._check(conn, size, integrated)
        nodes = inclusion_nodes(index, size)
        return nodes.rehash(self.nodes(conn, nodes.ids, integrated), hash_children)

    def consistency_proof(
        self, conn: Connection, size1: int, size2: int, *, integrated: int | None = None
    ) -> list[bytes]:
        """PROOF(size1, D[0:size2]), RFC 9162 §2.1.4.1. Requires ``0 <= size1 <= size2``."""
        integrated = self._check(conn, size2, integrated)
        nodes = consistency_nodes(size1, size2)
        return nodes.rehash(self.nodes(conn, nodes.ids, integrated), hash_children)

    def nodes(self, conn: Connection, ids: Sequence[NodeID], integrated: int) -> list[bytes]:
        """The hashes of perfect nodes, each complete within ``integrated`` leaves."""
        wanted: dict[TileVersion, list[list[bytes]] | None] = {}
        places = []
        for node in ids:
            key, row, pos = tile_for(node)
            version = (key.level, key.index, width_at(key, integrated))
            places.append((version, row, pos))
            wanted.setdefault(version, self._cache_get(version))
        missing = [v for v, rows in wanted.items() if rows is None]
        if missing:
            for version, row0 in self._fetch(conn, missing).items():
                rows = expand(row0)
                wanted[version] = rows
                self._cache_put(version, rows)
        out = []
        for version, row, pos in places:
            expanded = wanted[version]
            assert expanded is not None
            try:
                out.append(expanded[row][pos])
            except IndexError:
                raise LogCorruptionError(
                    f"tile {version} has no node at row {row}, position {pos}", tile=list(version)
                ) from None
        return out

    def _fetch(
        self, conn: Connection, versions: list[TileVersion]
    ) -> dict[TileVersion, list[bytes]]:
        found: dict[TileVersion, list[bytes]] = {}
        stored = [v for v in versions if v[0] > 0 or v[2] == TILE_WIDTH]
        if stored:
            stmt = select(
                _tiles.c.level, _tiles.c.tile_index, _tiles.c.width, _tiles.c.hashes
            ).where(tuple_(_tiles.c.level, _tiles.c.tile_index, _tiles.c.width).in_(stored))
            for level, index, width, blob in conn.execute(stmt):
                found[(level, index, width)] = split(bytes(blob))
        for level, index, width in versions:
            if level == 0 and width < TILE_WIDTH:
                # The partial level-0 tile is the tail of log_leaves.
                start = index * TILE_WIDTH
                found[(level, index, width)] = read_leaf_hashes(conn, start, start + width)
        absent = [v for v in versions if v not in found]
        if absent:
            raise LogCorruptionError(f"tiles {absent} are missing", tiles=[list(v) for v in absent])
        return found

    def _check(self, conn: Connection, size: int, integrated: int | None) -> int:
        if integrated is None:
            integrated = self.integrated_size(conn)
        if not 0 <= size <= integrated:
            raise TreeSizeError(
                f"tree size {size} is beyond the integrated size {integrated}",
                tree_size=size,
                integrated_size=integrated,
            )
        return integrated

    def _cache_get(self, version: TileVersion) -> list[list[bytes]] | None:
        with self._cache_lock:
            rows = self._cache.get(version)
            if rows is not None:
                self._cache.move_to_end(version)
            return rows

    def _cache_put(self, version: TileVersion, rows: list[list[bytes]]) -> None:
        if self._cache_tiles <= 0:
            return
        with self._cache_lock:
            self._cache[version] = rows
            if len(self._cache) > self._cache_tiles:
                self._cache.popitem(last=False)


__all__ = ["LogReader", "TileKey"]
