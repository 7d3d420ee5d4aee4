"""The log's leaves: every leaf re-hashed and parsed, the indices gapless, and the roots
recomputed at every tree size the other checks need (checkpoints, anchors, the chain's
head).

One streaming pass over ``log_leaves`` in batches (keyset pagination by leaf index):

1. ``SHA-256(0x00 || leaf_data) == leaf_hash`` for every leaf;
2. the data parses as an entry (:meth:`ledger.entries.Entry.from_leaf_data`, the strict
   RFC 8785 check) whose id is the row's ``entry_id``;
3. indices run 0, 1, 2, ... without a gap;
4. a :class:`ledger.merkle.CompactRange` over the stored leaf hashes gives the root at
   each tree size asked for, without holding the tree in memory.

Parsing is most of the cost (RFC 8785 in pure Python, ~0.1 ms a leaf): above
:data:`PARALLEL_MIN` leaves it runs in worker processes while the main process reads
the next batch. The checkpoints and tiles are checked against these roots in
:mod:`ledger.audit.tree_checks`.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from ledger.audit.findings import Findings, ProgressCallback
from ledger.entries import Entry, EntryError
from ledger.log.counters import read_counter
from ledger.log.tiles import TILE_HEIGHT, TILE_WIDTH, tile_root
from ledger.merkle import CompactRange, empty_root, hash_leaf, root_from_range
from ledger.store.models import INTEGRATED_SIZE, SEQUENCED_SIZE, log_leaves

BATCH = 1 << 14
"""Leaves read per round trip."""
PARALLEL_MIN = 1 << 15
"""From this many leaves on, entries are parsed in worker processes."""


def stored_bytes(value: object) -> bytes:
    """A BLOB column's value as bytes. SQLite lets any type into any column (``replace()``
    on a blob, as a tamperer might run it, stores text), so text counts as its UTF-8."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return b"" if value is None else str(value).encode()


class ParsedEntry(NamedTuple):
    id: str
    kind: str
    unit: str
    sealed: str | None


def parse_leaves(datas: Sequence[bytes]) -> list[ParsedEntry | str]:
    """Each leaf's entry fields, or the reason it does not parse (a worker's job)."""
    out: list[ParsedEntry | str] = []
    for data in datas:
        try:
            entry = Entry.from_leaf_data(data)
        except EntryError as exc:
            out.append(exc.message)
        except Exception as exc:  # whatever else bad bytes provoke is a finding, not a crash
            out.append(f"{type(exc).__name__}: {exc}")
        else:
            out.append(ParsedEntry(entry.id, entry.kind, entry.unit, entry.sealed))
    return out


@dataclass(frozen=True, slots=True)
class ScannedLeaf:
    """A leaf as stored, with its entry's fields (``entry`` None when it does not parse)."""

    index: int
    entry_id: str
    leaf_hash: bytes
    entry: ParsedEntry | None


@dataclass
class LogScan:
    """What the pass saw: the contiguous size, the roots asked for, the level-1 entries."""

    size: int = 0  # leaves [0, size) are all present
    rows: int = 0
    gap_at: int | None = None  # the first missing index, if any
    next_index: int = 0
    roots: dict[int, bytes] = field(default_factory=dict)
    level1: list[bytes] = field(default_factory=list)  # roots of the full level-0 tiles
    bad_hashes: list[int] = field(default_factory=list)


class _Roots:
    """A compact range that notes its root whenever it passes one of ``sizes``."""

    def __init__(self, sizes: Iterable[int]) -> None:
        self.compact = CompactRange()
        self.wanted = sorted({s for s in sizes if s > 0})
        self.roots: dict[int, bytes] = {0: empty_root()}
        self._next = 0

    def extend(self, hashes: list[bytes], tile_roots: Sequence[bytes] = ()) -> None:
        """Append ``hashes``; ``tile_roots[k]`` is the root of ``hashes[256k : 256k+256]``
        (the range starting on a tile boundary), appended whole where no size is inside."""
        for k, root in enumerate(tile_roots):
            begin = self.compact.size
            if self._next < len(self.wanted) and self.wanted[self._next] < begin + TILE_WIDTH:
                self._leaves(hashes[k * TILE_WIDTH : (k + 1) * TILE_WIDTH])
            else:
                self.compact.append_subtree(TILE_HEIGHT, root)
                self._note()
        self._leaves(hashes[len(tile_roots) * TILE_WIDTH :])

    def _leaves(self, hashes: Sequence[bytes]) -> None:
        start = self.compact.size
        pos = 0
        while self._next < len(self.wanted) and self.wanted[self._next] <= start + len(hashes):
            cut = self.wanted[self._next] - start
            self.compact.extend(hashes[pos:cut])
            pos = cut
            self._note()
        self.compact.extend(hashes[pos:])

    def _note(self) -> None:
        while self._next < len(self.wanted) and self.wanted[self._next] == self.compact.size:
            self.roots[self.compact.size] = root_from_range(self.compact.hashes())
            self._next += 1


class _Parser:
    """Parses batches inline, or in a pool of worker processes for big logs."""

    def __init__(self, total: int) -> None:
        workers = min(8, os.cpu_count() or 1)
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        if (
            total >= PARALLEL_MIN
            and workers > 1
            and "fork" in multiprocessing.get_all_start_methods()
        ):
            # fork, not spawn: spawn re-imports the caller's __main__, which a script
            # without an `if __name__ == "__main__"` guard cannot survive. The children
            # only parse bytes: they never touch the database connections they inherit,
            # and leave by os._exit, which closes nothing the parent still uses.
            context = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(workers, mp_context=context)

    def submit(self, datas: list[bytes]) -> Callable[[], list[ParsedEntry | str]]:
        if self.pool is None:
            parsed = parse_leaves(datas)
            return lambda: parsed
        step = -(-len(datas) // self.workers)
        futures: list[Future[list[ParsedEntry | str]]] = [
            self.pool.submit(parse_leaves, datas[i : i + step]) for i in range(0, len(datas), step)
        ]
        return lambda: [item for f in futures for item in f.result()]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _batches(conn: Connection, batch: int) -> Iterator[list[Any]]:
    after = -1
    while True:
        rows = conn.execute(
            select(
                log_leaves.c.leaf_index,
                log_leaves.c.entry_id,
                log_leaves.c.leaf_data,
                log_leaves.c.leaf_hash,
            )
            .where(log_leaves.c.leaf_index > after)
            .order_by(log_leaves.c.leaf_index)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield list(rows)
        after = int(rows[-1].leaf_index)


def scan_log(
    conn: Connection,
    findings: Findings,
    *,
    sizes: Iterable[int],
    on_batch: Callable[[list[ScannedLeaf]], None],
    progress: ProgressCallback,
    batch: int = BATCH,
) -> LogScan:
    """Checks 1–4 over every stored leaf; ``on_batch`` sees each batch of scanned leaves."""
    if batch % TILE_WIDTH:
        raise ValueError(f"batch {batch} is not a whole number of tiles ({TILE_WIDTH})")
    total = read_counter(conn, SEQUENCED_SIZE)
    scan = LogScan()
    roots = _Roots(sizes)
    parser = _Parser(total)
    in_flight: deque[tuple[list[Any], Callable[[], list[ParsedEntry | str]]]] = deque()

    def finish(rows: list[Any], parsed: list[ParsedEntry | str]) -> None:
        scanned = _check_batch(findings, scan, roots, rows, parsed)
        on_batch(scanned)
        progress("leaves", scan.rows, max(total, scan.rows))

    try:
        progress("leaves", 0, total)
        for rows in _batches(conn, batch):
            in_flight.append((rows, parser.submit([stored_bytes(r.leaf_data) for r in rows])))
            if len(in_flight) > 2:
                done, result = in_flight.popleft()
                finish(done, result())
        while in_flight:
            done, result = in_flight.popleft()
            finish(done, result())
    finally:
        parser.close()
    scan.roots = roots.roots
    return scan


def _check_batch(
    findings: Findings,
    scan: LogScan,
    roots: _Roots,
    rows: list[Any],
    parsed: list[ParsedEntry | str],
) -> list[ScannedLeaf]:
    scanned: list[ScannedLeaf] = []
    contiguous: list[bytes] = []
    for row, entry in zip(rows, parsed, strict=True):
        index, entry_id = int(row.leaf_index), str(row.entry_id)
        data, stored = stored_bytes(row.leaf_data), stored_bytes(row.leaf_hash)
        if index != scan.next_index:
            if scan.gap_at is None:
                scan.gap_at = scan.next_index
            findings.add(
                "leaf_index_gap",
                f"leaf indices [{scan.next_index}, {index}) are missing; no root is "
                f"recomputed beyond tree size {scan.gap_at}",
                leaf_indices=range(scan.next_index, index)
                if index - scan.next_index <= TILE_WIDTH
                else [scan.next_index, index - 1],
                missing=[scan.next_index, index],
            )
        scan.next_index = index + 1
        scan.rows += 1
        computed = hash_leaf(data)
        if computed != stored:
            scan.bad_hashes.append(index)
            findings.add(
                "leaf_hash_mismatch",
                f"leaf {index} ({entry_id}): stored hash {stored.hex()} is not the hash of its "
                f"data, {computed.hex()}",
                record_ids=[entry_id],
                leaf_indices=[index],
                stored_hash=stored,
                data_hash=computed,
            )
        ok = None
        if isinstance(entry, str):
            findings.add(
                "leaf_unparsable",
                f"leaf {index} ({entry_id}) is not a canonical entry: {entry}",
                record_ids=[entry_id],
                leaf_indices=[index],
                reason=entry,
            )
        else:
            ok = entry
            if entry.id != entry_id:
                findings.add(
                    "leaf_entry_id_mismatch",
                    f"leaf {index}: the entry_id column says {entry_id!r}, its data says "
                    f"{entry.id!r}",
                    record_ids=[entry_id, entry.id],
                    leaf_indices=[index],
                    column=entry_id,
                    data=entry.id,
                )
        scanned.append(ScannedLeaf(index, entry_id, stored, ok))
        if scan.gap_at is None:
            contiguous.append(stored)
    if contiguous:
        # Level-1 entries (roots of full level-0 tiles), for the roots and the tile-version
        # check; a batch is a whole number of tiles, so no tile straddles two batches.
        assert scan.size % TILE_WIDTH == 0
        tiles = [
            tile_root(contiguous[begin : begin + TILE_WIDTH])
            for begin in range(0, len(contiguous) - TILE_WIDTH + 1, TILE_WIDTH)
        ]
        scan.level1.extend(tiles)
        scan.size += len(contiguous)
        roots.extend(contiguous, tiles)
    return scanned


def check_counters(conn: Connection, findings: Findings, scan: LogScan) -> tuple[int, int]:
    """The sequenced size is the number of leaves; the integrated size is within it."""
    sequenced = read_counter(conn, SEQUENCED_SIZE)
    integrated = read_counter(conn, INTEGRATED_SIZE)
    if sequenced != scan.rows or (scan.gap_at is None and sequenced != scan.size):
        findings.add(
            "log_counter_mismatch",
            f"the sequenced size is {sequenced}, but log_leaves holds {scan.rows} leaves "
            f"({scan.size} of them contiguous from 0)",
            # the leaves beyond the counter, or the positions the counter says are missing
            leaf_indices={min(sequenced, scan.rows), max(sequenced, scan.rows) - 1},
            sequenced_size=sequenced,
            leaves=scan.rows,
            contiguous=scan.size,
        )
    if integrated > sequenced:
        findings.add(
            "log_counter_mismatch",
            f"the integrated size {integrated} is beyond the sequenced size {sequenced}",
            integrated_size=integrated,
            sequenced_size=sequenced,
        )
    return sequenced, integrated
