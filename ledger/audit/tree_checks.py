"""The tree against its leaves: every stored checkpoint and every stored tile.

- Each ``log_checkpoints`` row's note verifies with the log's key (C2SP signed note),
  says the row's size and root, and that root is the one the leaves give
  (:func:`check_checkpoints`, with the roots :func:`ledger.audit.log_checks.scan_log`
  computed in its pass).
- The stored tiles are those the leaves give: :func:`ledger.log.verify.verify_store` (the
  check that runs before every signature) at the largest whole-tile size, and here the
  older partial versions of the upper-level tiles, which proofs for older sizes read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from ledger.audit.findings import Findings
from ledger.audit.log_checks import LogScan, stored_bytes
from ledger.checkpoint import Verifier, open_checkpoint
from ledger.errors import LedgerError
from ledger.log.errors import CheckpointVerificationError, LogCorruptionError
from ledger.log.tiles import TILE_HEIGHT, TILE_WIDTH, TileKey, split, tile_root, width_at
from ledger.log.verify import verify_store
from ledger.store.models import log_checkpoints
from ledger.store.models import log_tiles as _tiles


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    note: str


def read_checkpoints(conn: Connection) -> list[StoredCheckpoint]:
    rows = conn.execute(
        select(
            log_checkpoints.c.tree_size, log_checkpoints.c.root_hash, log_checkpoints.c.note
        ).order_by(log_checkpoints.c.tree_size)
    )
    return [
        StoredCheckpoint(int(r.tree_size), stored_bytes(r.root_hash), str(r.note)) for r in rows
    ]


def check_checkpoints(
    findings: Findings,
    scan: LogScan,
    checkpoints: Sequence[StoredCheckpoint],
    *,
    verifier: Verifier,
    origin: str,
) -> dict[int, bytes]:
    """Each stored checkpoint: its note verifies with the log's key, its row says what the
    note says, and the leaves give its root. Returns size -> root of those that verify."""
    signed: dict[int, bytes] = {}
    good_size = 0  # the largest size so far whose checkpoint matches the leaves
    for cp in checkpoints:
        root = cp.root_hash
        try:
            opened = open_checkpoint(cp.note, verifier, origin=origin)
        except LedgerError as exc:
            findings.add(
                "checkpoint_signature_invalid",
                f"the checkpoint of tree size {cp.tree_size} does not verify with the log's "
                f"key: {exc.message}",
                tree_size=cp.tree_size,
                error=exc.code,
                reason=exc.message,
            )
        else:
            if (opened.size, opened.root_hash) != (cp.tree_size, cp.root_hash):
                findings.add(
                    "checkpoint_row_mismatch",
                    f"the checkpoint row says size {cp.tree_size} root {cp.root_hash.hex()}; "
                    f"its signed note says size {opened.size} root {opened.root_hash.hex()}",
                    tree_size=cp.tree_size,
                    row_root=cp.root_hash,
                    note_size=opened.size,
                    note_root=opened.root_hash,
                )
            root = opened.root_hash
            if opened.size == cp.tree_size:
                signed[cp.tree_size] = root
        if cp.tree_size > scan.size:
            if scan.gap_at is None:
                findings.add(
                    "checkpoint_beyond_log",
                    f"a checkpoint of tree size {cp.tree_size} is stored, but the log holds "
                    f"only {scan.size} leaves",
                    leaf_indices=[scan.size],
                    tree_size=cp.tree_size,
                    leaves=scan.size,
                )
            continue
        computed = scan.roots[cp.tree_size]
        if computed != root:
            suspects = [i for i in scan.bad_hashes if i < cp.tree_size]
            findings.add(
                "checkpoint_root_mismatch",
                f"the leaves give root {computed.hex()} at tree size {cp.tree_size}, the "
                f"checkpoint says {root.hex()}; the change is in leaves "
                f"[{good_size}, {cp.tree_size}) or in the checkpoint",
                leaf_indices=suspects,
                tree_size=cp.tree_size,
                checkpoint_root=root,
                computed_root=computed,
                changed_range=[good_size, cp.tree_size],
            )
        else:
            good_size = cp.tree_size
    return signed


def unsigned_tail(findings: Findings, scan: LogScan, signed: dict[int, bytes]) -> None:
    latest = max(signed, default=0)
    if scan.size > latest:
        findings.add(
            "log_unsigned_tail",
            f"leaves [{latest}, {scan.size}) are not covered by a signed checkpoint yet",
            leaf_indices=[latest, scan.size - 1],
            range=[latest, scan.size],
        )


def tile_check_size(integrated: int) -> int:
    """The size at which :func:`check_tiles` runs ``verify_store``: whole level-0 tiles only
    (the partial one is not stored), with every upper-level tile at its current width."""
    return integrated - integrated % TILE_WIDTH


def check_tiles(conn: Connection, findings: Findings, scan: LogScan, integrated: int) -> None:
    """Stored tiles against the tiles rebuilt from the stored leaf hashes."""
    size = tile_check_size(integrated)
    if size == 0 or size > scan.size:
        return  # nothing stored yet, or leaves are missing (reported already)
    try:
        verify_store(conn, size, checked_size=size, checked_root=scan.roots[size])
    except CheckpointVerificationError as exc:
        begin, end = exc.first_differing_range
        findings.add(
            "tile_mismatch",
            f"stored node hashes differ from the leaves: {exc.evidence['reason']} "
            f"(leaves [{begin}, {end}); the check stops at the first difference)",
            leaf_indices=range(begin, end) if end - begin <= TILE_WIDTH else [begin, end - 1],
            **{k: v for k, v in exc.diagnostics().items() if k not in ("code", "message")},
        )
    except LogCorruptionError as exc:
        findings.add(
            "tile_mismatch",
            f"stored tiles cannot be checked: {exc.message}",
            **{k: v for k, v in exc.diagnostics().items() if k not in ("code", "message")},
        )
    _check_older_versions(conn, findings, scan, integrated)


def _check_older_versions(
    conn: Connection, findings: Findings, scan: LogScan, integrated: int
) -> None:
    """The upper-level tiles of other widths than the current one: proofs for older tree
    sizes read them, so they must be the tiles those sizes had."""
    levels: list[list[bytes]] = [[], scan.level1]  # entries of each tile level
    rows = conn.execute(
        select(_tiles.c.level, _tiles.c.tile_index, _tiles.c.width, _tiles.c.hashes)
        .where(_tiles.c.level > 0)
        .order_by(_tiles.c.level, _tiles.c.tile_index, _tiles.c.width)
    )
    for level, index, width, blob in rows:
        level, index, width = int(level), int(index), int(width)
        while len(levels) <= level:
            below = levels[-1]
            levels.append(
                [
                    tile_root(below[i : i + TILE_WIDTH])
                    for i in range(0, len(below) - TILE_WIDTH + 1, TILE_WIDTH)
                ]
            )
        current = width_at(TileKey(level, index), integrated)
        if width == current:
            continue  # verify_store checked it
        want = levels[level][index * TILE_WIDTH : index * TILE_WIDTH + width]
        got = split(bytes(blob))
        if got != want:
            span = 1 << (TILE_HEIGHT * level)
            begin = index * TILE_WIDTH * span
            findings.add(
                "tile_mismatch",
                f"stored tile ({level}, {index}) of width {width} differs from the tile the "
                f"leaves give (it serves proofs for tree sizes from {(begin + width * span)})",
                leaf_indices=[begin, begin + width * span - 1],
                level=level,
                tile_index=index,
                width=width,
            )
