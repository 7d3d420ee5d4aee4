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

from sqlalchemy import Connection, Engine, and_, or_, select

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


Bind = Connection | Engine
"""A connection to read through, or an engine to connect with only when the cache misses."""


class _Lazy:
    """The connection of one call: the caller's, or one opened on first need and closed after."""

    def __init__(self, bind: Bind) -> None:
        self._bind = bind
        self._opened: Connection | None = None

    def __call__(self) -> Connection:
        if isinstance(self._bind, Connection):
            return self._bind
        if self._opened is None:
            self._opened = self._bind.connect()
        return self._opened

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()


class LogReader:
    """Reads roots, nodes and proofs of the integrated tree.

    Safe to share between threads. The cache holds only immutable tile versions, and
    the integrated size it remembers only ever grows (a trigger refuses a decrease), so
    a proof whose tiles are cached is served without touching the database.
    """

    def __init__(self, cache_tiles: int = 4096) -> None:
        self._cache: OrderedDict[TileVersion, list[list[bytes]]] = OrderedDict()
        self._cache_tiles = cache_tiles
        self._cache_lock = threading.Lock()
        self._known_integrated = 0

    def integrated_size(self, bind: Bind) -> int:
        """The integrated size now (always read from the database)."""
        lazy = _Lazy(bind)
        try:
            size = read_counter(lazy(), INTEGRATED_SIZE)
        finally:
            lazy.close()
        self._known_integrated = max(self._known_integrated, size)
        return size

    def root(self, bind: Bind, size: int, *, integrated: int | None = None) -> bytes:
        """RFC 9162 MTH of the first ``size`` leaves."""
        lazy = _Lazy(bind)
        try:
            integrated = self._check(lazy, size, integrated)
            return root_from_range(self._nodes(lazy, range_nodes(0, size), integrated))
        finally:
            lazy.close()

    def inclusion_proof(
        self, bind: Bind, index: int, size: int, *, integrated: int | None = None
    ) -> list[bytes]:
        """PATH(index, D[0:size]), RFC 9162 §2.1.3.1. Requires ``0 <= index < size``."""
        lazy = _Lazy(bind)
        try:
            integrated = self._check(lazy, size, integrated)
            nodes = inclusion_nodes(index, size)
            return nodes.rehash(self._nodes(lazy, nodes.ids, integrated), hash_children)
        finally:
            lazy.close()

    def consistency_proof(
        self, bind: Bind, size1: int, size2: int, *, integrated: int | None = None
    ) -> list[bytes]:
        """PROOF(size1, D[0:size2]), RFC 9162 §2.1.4.1. Requires ``0 <= size1 <= size2``."""
        lazy = _Lazy(bind)
        try:
            integrated = self._check(lazy, size2, integrated)
            nodes = consistency_nodes(size1, size2)
            return nodes.rehash(self._nodes(lazy, nodes.ids, integrated), hash_children)
        finally:
            lazy.close()

    def nodes(self, bind: Bind, ids: Sequence[NodeID], integrated: int) -> list[bytes]:
        """The hashes of perfect nodes, each complete within ``integrated`` leaves."""
        lazy = _Lazy(bind)
        try:
            return self._nodes(lazy, ids, integrated)
        finally:
            lazy.close()

    def _nodes(self, lazy: _Lazy, ids: Sequence[NodeID], integrated: int) -> list[bytes]:
        wanted: dict[TileVersion, list[list[bytes]] | None] = {}
        places = []
        for node in ids:
            key, row, pos = tile_for(node)
            version = (key.level, key.index, width_at(key, integrated))
            places.append((version, row, pos))
            wanted.setdefault(version, self._cache_get(version))
        missing = [v for v, rows in wanted.items() if rows is None]
        if missing:
            for version, row0 in self._fetch(lazy(), missing).items():
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
            # OR of primary-key equalities: both databases answer it from the index
            # (SQLite scans the whole table for a row-value IN list: EXPLAIN QUERY PLAN).
            stmt = select(
                _tiles.c.level, _tiles.c.tile_index, _tiles.c.width, _tiles.c.hashes
            ).where(
                or_(
                    *(
                        and_(
                            _tiles.c.level == level,
                            _tiles.c.tile_index == index,
                            _tiles.c.width == width,
                        )
                        for level, index, width in stored
                    )
                )
            )
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

    def _check(self, lazy: _Lazy, size: int, integrated: int | None) -> int:
        if integrated is None:
            # The integrated size only grows: one known to cover `size` needs no query.
            integrated = self._known_integrated
            if size > integrated or size < 0:
                integrated = read_counter(lazy(), INTEGRATED_SIZE)
                self._known_integrated = max(self._known_integrated, integrated)
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
