#!/usr/bin/env python3
"""Benchmark civic-ledger's Merkle log against pymerkle, in memory, on SQLite and on PostgreSQL.

For each log size (10^5 and 10^6 leaves by default) and each backend this script

1. builds the log from the same deterministic ~200-byte leaves (JCS-canonical JSON entries
   with Chinese text): in memory (``ledger.merkle.InMemoryTree``), and persisted
   (``ledger.log.MerkleLog``: ``append`` in batches, then ``integrate_all``; the checkpoint
   ``sign``, which recomputes the root from every stored leaf first, is timed apart);
2. serves seeded random inclusion and consistency proofs from it, from the store with a
   cold tile cache (``cache_tiles=0``) and with the default cache once warmed;
3. verifies every proof against independently computed roots (``ledger.merkle.verify_*``),
   timing the verifications;

and does the same with pymerkle (``InmemoryTree`` and ``SqliteTree``), configured for the
same RFC 9162 hashing (SHA-256, 0x00/0x01 domain prefixes: pymerkle's default
``disable_security=False``). Before anything is timed it asserts that pymerkle's roots and
inclusion paths equal ours on small trees, and every run asserts the full-size roots agree.

Each (library, backend, size) runs in its own subprocess, so its peak memory is its own.
Memory is the peak resident set size (``VmHWM`` of /proc/self/status, reset through
/proc/self/clear_refs at the start of each phase); "Δ" is that peak minus the RSS at the
start of the phase, i.e. what the phase itself needed on top of the loaded leaves.

Usage::

    scripts/bench_log.py --quick                      # 10^4 leaves, 10^3 proofs: a smoke run
    scripts/bench_log.py --json var/bench_log.json    # the full run (10^5 and 10^6 leaves)

PostgreSQL: ``--postgres-url`` (default ``$LEDGER_TEST_DATABASE_URL``, else the local
server as ``postgres``); a throwaway database is created for each log and dropped after.
"""

from __future__ import annotations

import argparse
import array
import gc
import json
import os
import platform
import random
import resource
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ORIGIN = "bench.civic-ledger.example/log"
BACKENDS = ("memory", "sqlite", "postgresql")
PYMERKLE_BACKENDS = ("memory", "sqlite")

TARGET_MEMORY_LEAVES = 250_000
TARGET_PG_LEAVES = 50_000
TARGET_PG_PROOFS = 5_000
TARGET_VERIFICATIONS = 30_000

# ---------------------------------------------------------------------------------------
# Leaves: deterministic, realistic entries (the DESIGN.md envelope, JCS-canonical bytes)

_KINDS = ("record", "record", "record", "vetting.decision", "permit.issued")
_UNITS = ("bj-hd-001", "bj-cy-014", "sh-pd-203", "gz-th-077", "cd-wh-009")
_DISTRICTS = ("海淀区", "朝阳区", "浦东新区", "天河区", "武侯区", "西湖区")
_HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
_T0 = datetime(2026, 12, 1, tzinfo=UTC)


def make_leaves(count: int, seed: int) -> Iterable[tuple[str, bytes]]:
    """``count`` (entry id, leaf data) pairs; the first n of any count are the same n."""
    rng = random.Random(seed)
    for i in range(count):
        entry_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        entry = {
            "v": 1,
            "id": entry_id,
            "kind": rng.choice(_KINDS),
            "unit": rng.choice(_UNITS),
            "at": (_T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "body": {
                "amount": rng.randrange(10**7),
                "district": rng.choice(_DISTRICTS),
                "title": "".join(rng.choices(_HAN, k=rng.randint(3, 8))),
            },
            "sealed": None,
        }
        # For string/int/null values and ASCII keys, this is exactly RFC 8785 (JCS);
        # a sample is checked against ledger.entries below.
        data = json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        yield entry_id, data.encode("utf-8")


def write_leaves(path: Path, count: int, seed: int) -> dict[str, Any]:
    """Generate the leaves into ``path``: header, offsets, 36-byte ids, then the data."""
    offsets = array.array("Q", [0])
    ids = bytearray()
    data_path = path.with_suffix(".data")
    total = 0
    with data_path.open("wb") as data_file:
        for entry_id, data in make_leaves(count, seed):
            ids += entry_id.encode("ascii")
            data_file.write(data)
            total += len(data)
            offsets.append(total)
    with path.open("wb") as f:
        f.write(count.to_bytes(8, "little"))
        offsets.tofile(f)
        f.write(ids)
        with data_path.open("rb") as data_file:
            shutil.copyfileobj(data_file, f, 1 << 22)
    data_path.unlink()
    return {"count": count, "mean_bytes": total / count, "total_bytes": total}


def read_leaves(path: Path, count: int) -> tuple[list[str], list[bytes]]:
    """The first ``count`` leaves of a file from :func:`write_leaves`, read in small chunks."""
    with path.open("rb") as f:
        stored = int.from_bytes(f.read(8), "little")
        if count > stored:
            raise ValueError(f"{path} holds {stored} leaves, want {count}")
        offsets = array.array("Q")
        offsets.fromfile(f, stored + 1)
        ids_blob = f.read(36 * stored)
        ids = [ids_blob[36 * i : 36 * i + 36].decode("ascii") for i in range(count)]
        del ids_blob
        datas: list[bytes] = []
        chunk = 10_000
        for start in range(0, count, chunk):
            end = min(count, start + chunk)
            base = offsets[start]
            buf = f.read(offsets[end] - base)
            datas.extend(buf[offsets[i] - base : offsets[i + 1] - base] for i in range(start, end))
    return ids, datas


def proof_pairs(size: int, count: int, seed: int, kind: str) -> list[tuple[int, int]]:
    """Seeded random pairs: (index, size) with 0 <= index < size for inclusion proofs,
    (size1, size2) with 1 <= size1 <= size2 for consistency proofs; sizes up to ``size``."""
    rng = random.Random(f"{seed}:{size}:{kind}")
    pairs = []
    for _ in range(count):
        n = rng.randint(1, size)
        pairs.append((rng.randrange(n), n) if kind.startswith("incl") else (rng.randint(1, n), n))
    return pairs


# ---------------------------------------------------------------------------------------
# Memory measurement


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _hwm_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


class Phase:
    """Wall time and peak RSS of one phase (peak reset at the start where Linux allows)."""

    resettable: bool | None = None

    def __init__(
        self, name: str, results: dict[str, Any], server_cpu: Callable[[], float] | None = None
    ) -> None:
        self.name = name
        self.results = results
        self.server_cpu = server_cpu

    def __enter__(self) -> Phase:
        gc.collect()
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS (Linux >= 4.0)
            Phase.resettable = True
        except OSError:
            Phase.resettable = False
        self.rss0 = _rss_bytes()
        self.cpu0 = time.process_time()
        self.server0 = self.server_cpu() if self.server_cpu else 0.0
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        cpu = time.process_time() - self.cpu0
        peak = _hwm_bytes()
        self.results.setdefault("phases", {})[self.name] = {
            "seconds": self.seconds,
            "cpu_seconds": cpu,
            "server_cpu_seconds": (self.server_cpu() - self.server0) if self.server_cpu else None,
            "rss_start_mb": self.rss0 / 2**20,
            "peak_rss_mb": peak / 2**20,
            "peak_delta_mb": (peak - self.rss0) / 2**20,
            "peak_reset": Phase.resettable,
        }
        _log(f"  {self.name}: {self.seconds:.2f} s, peak RSS Δ {(peak - self.rss0) / 2**20:.0f} MB")


def timed_loop(
    fn: Callable[[Any], Any], items: Sequence[Any], budget: float
) -> tuple[list[Any], float, float]:
    """Apply ``fn`` to ``items`` until done or ``budget`` seconds ran out (checked every 64).

    Returns the results, the wall time and this process's CPU time.
    """
    out: list[Any] = []
    append = out.append
    c0 = time.process_time()
    t0 = time.perf_counter()
    deadline = t0 + budget
    for k, item in enumerate(items):
        append(fn(item))
        if k & 63 == 63 and time.perf_counter() > deadline:
            break
    return out, time.perf_counter() - t0, time.process_time() - c0


def measure(
    results: dict[str, Any],
    key: str,
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    budget: float,
    repeat: int,
    before: Callable[[], Any] | None = None,
    server_cpu: Callable[[], float] | None = None,
) -> list[Any]:
    """Time ``fn`` over ``items`` in up to ``repeat`` passes (``before`` runs ahead of each,
    untimed) and record the best pass; passes stop once ``budget`` seconds are spent.
    Returns the first pass's results."""
    passes: list[tuple[int, float, float, float | None]] = []
    first: list[Any] | None = None
    spent = 0.0
    for _ in range(max(1, repeat)):
        if before is not None:
            before()
        server0 = server_cpu() if server_cpu else 0.0
        out, wall, cpu = timed_loop(fn, items, max(1.0, budget - spent))
        server = (server_cpu() - server0) if server_cpu else None
        spent += wall
        passes.append((len(out), wall, cpu, server))
        if first is None:
            first = out
        # Another pass only if one as long as this still fits: no cut-short passes after
        # a complete one.
        if spent + wall > budget or len(out) < len(items):
            break
    complete = [p for p in passes if p[0] == len(items)] or passes
    done, wall, cpu, server = max(complete, key=lambda p: p[0] / p[1])
    results.setdefault("rates", {})[key] = {
        "count": done,
        "wanted": len(items),
        "seconds": wall,
        "cpu_seconds": cpu,
        "server_cpu_seconds": server,
        # The least CPU any pass used per item: the idle-machine estimate.
        "cpu_per_second": max(c / (u + (v or 0)) for c, _, u, v in passes if u + (v or 0) > 0),
        "per_second": done / wall if wall > 0 else float("inf"),
        "passes": [
            {"count": c, "seconds": w, "cpu_seconds": u, "server_cpu_seconds": v}
            for c, w, u, v in passes
        ],
    }
    partial = "" if done == len(items) else f" (only {done} of {len(items)} within the budget)"
    rates = ", ".join(f"{c / w:,.0f}" for c, w, _, _ in passes)
    _log(f"  {key}: best {done / wall:,.0f}/s of passes [{rates}]{partial}")
    assert first is not None
    return first


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _rate(results: dict[str, Any], key: str, done: int, seconds: float, wanted: int) -> None:
    results.setdefault("rates", {})[key] = {
        "count": done,
        "wanted": wanted,
        "seconds": seconds,
        "per_second": done / seconds if seconds > 0 else float("inf"),
    }
    _log(f"  {key}: {done / seconds:,.0f}/s")


# ---------------------------------------------------------------------------------------
# Workers: one (library, backend, size) per subprocess


@dataclass
class Job:
    library: str  # "ours" | "pymerkle"
    backend: str  # "memory" | "sqlite" | "postgresql"
    size: int
    proofs: int
    seed: int
    batch: int
    leaves_path: str
    src: str
    expected_root: str
    phase_budget: float
    repeat: int
    workdir: str
    url: str = ""
    out: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.library}/{self.backend}/{self.size}"


def _reference_roots(leaf_hashes: list[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """Roots from ledger.merkle.InMemoryTree over the same leaf hashes (independent of stores)."""
    from ledger.merkle import InMemoryTree

    tree = InMemoryTree(leaf_hashes)
    return {s: tree.root(s) for s in set(sizes)}


def _sizes_of(
    incl_pairs: Sequence[tuple[int, int]], cons_pairs: Sequence[tuple[int, int]]
) -> list[int]:
    return [n for _, n in incl_pairs] + [s for pair in cons_pairs for s in pair]


def _verify_ours(
    results: dict[str, Any],
    job: Job,
    incl_pairs: Sequence[tuple[int, int]],
    incl_proofs: Sequence[list[bytes]],
    cons_pairs: Sequence[tuple[int, int]],
    cons_proofs: Sequence[list[bytes]],
    leaf_hashes: Sequence[bytes],
    roots: dict[int, bytes],
    timed: bool,
) -> int:
    """Verify every proof (ledger.merkle.verify_*), timing it when ``timed``; returns the count."""
    from ledger.merkle import verify_consistency, verify_inclusion

    incl = [
        (i, n, leaf_hashes[i], p, roots[n])
        for (i, n), p in zip(incl_pairs, incl_proofs, strict=False)
    ]
    cons = [
        (m, n, p, roots[m], roots[n]) for (m, n), p in zip(cons_pairs, cons_proofs, strict=False)
    ]
    if timed:
        with Phase("verify", results):
            measure(
                results, "verify_inclusion", lambda a: verify_inclusion(*a), incl,
                job.phase_budget, job.repeat,
            )  # fmt: skip
            measure(
                results, "verify_consistency", lambda a: verify_consistency(*a), cons,
                job.phase_budget, job.repeat,
            )  # fmt: skip
    # Every proof is checked, also those a budget-cut timed loop did not reach.
    for a in incl:
        verify_inclusion(*a)
    for b in cons:
        verify_consistency(*b)
    return len(incl) + len(cons)


def run_worker(job: Job) -> dict[str, Any]:
    results: dict[str, Any] = {"job": job.name}
    _log(f"[{job.name}] loading leaves")
    ids, datas = read_leaves(Path(job.leaves_path), job.size)
    incl_pairs = proof_pairs(job.size, job.proofs, job.seed, "inclusion")
    cons_pairs = proof_pairs(job.size, job.proofs, job.seed, "consistency")
    gc.collect()
    gc.freeze()  # the loaded leaves are not the libraries' garbage to traverse
    results["rss_loaded_mb"] = _rss_bytes() / 2**20
    if job.library == "ours" and job.backend == "memory":
        _ours_memory(job, results, datas, incl_pairs, cons_pairs)
    elif job.library == "ours":
        _ours_store(job, results, ids, datas, incl_pairs, cons_pairs)
    elif job.backend == "memory":
        _pymerkle(job, results, datas, incl_pairs, cons_pairs, sqlite_path=None)
    else:
        path = str(Path(job.workdir) / f"pymerkle-{job.size}.db")
        _pymerkle(job, results, datas, incl_pairs, cons_pairs, sqlite_path=path)
    return results


def _best_build(results: dict[str, Any], job: Job, build: Callable[[], Any]) -> Any:
    """Build an in-memory tree ``repeat`` times; the fastest time, the first pass's memory
    (later passes reuse the memory the earlier trees freed, so only the first is fair)."""
    times: list[float] = []
    cpus: list[float] = []
    first: dict[str, Any] | None = None
    tree = None
    for k in range(max(1, job.repeat)):
        tree = None
        gc.collect()
        with Phase(f"build_{k}", results) as ph:
            tree = build()
        record = results["phases"].pop(f"build_{k}")
        first = first or record
        times.append(ph.seconds)
        cpus.append(record["cpu_seconds"])
    assert first is not None
    results["phases"]["build"] = {
        **first,
        "seconds": min(times),
        "cpu_seconds_best": min(cpus),
        "passes_seconds": times,
    }
    _rate(results, "build", job.size, min(times), job.size)
    return tree


def _ours_memory(
    job: Job,
    results: dict[str, Any],
    datas: list[bytes],
    incl_pairs: list[tuple[int, int]],
    cons_pairs: list[tuple[int, int]],
) -> None:
    from ledger.merkle import InMemoryTree, hash_leaf

    def build() -> InMemoryTree:
        tree = InMemoryTree()
        for start in range(0, len(datas), job.batch):
            tree.extend([hash_leaf(d) for d in datas[start : start + job.batch]])
        return tree

    tree = _best_build(results, job, build)
    assert tree.root().hex() == job.expected_root, "in-memory root differs from the reference"

    with Phase("proofs", results):
        incl = measure(
            results, "inclusion", lambda p: tree.inclusion_proof(*p), incl_pairs,
            job.phase_budget, job.repeat,
        )  # fmt: skip
        cons = measure(
            results, "consistency", lambda p: tree.consistency_proof(*p), cons_pairs,
            job.phase_budget, job.repeat,
        )  # fmt: skip

    roots = {s: tree.root(s) for s in set(_sizes_of(incl_pairs, cons_pairs))}
    leaf_hashes = [tree.leaf_hash(i) for i in range(tree.size)]
    results["verified"] = _verify_ours(
        results, job, incl_pairs, incl, cons_pairs, cons, leaf_hashes, roots, timed=True
    )


def _ours_store(
    job: Job,
    results: dict[str, Any],
    ids: list[str],
    datas: list[bytes],
    incl_pairs: list[tuple[int, int]],
    cons_pairs: list[tuple[int, int]],
) -> None:
    from ledger.checkpoint import generate_signer
    from ledger.log import LeafInput, MerkleLog
    from ledger.merkle import hash_leaf
    from ledger.store import create_engine, migrate

    if job.backend == "sqlite":
        db_path = Path(job.workdir) / f"ledger-{job.size}.db"
        url = f"sqlite+pysqlite:///{db_path}"
    else:
        url = job.url
    migrate(url)
    engine = create_engine(url)
    server_cpu: Callable[[], float] | None = None
    if job.backend == "postgresql":
        server_cpu = _track_backends(engine)
    inputs = [LeafInput(i, d) for i, d in zip(ids, datas, strict=True)]
    del ids
    log = MerkleLog(engine, origin=ORIGIN)
    try:
        with Phase("sequence", results, server_cpu) as seq:
            for start in range(0, len(inputs), job.batch):
                log.append(inputs[start : start + job.batch])
        _rate(results, "sequence", job.size, seq.seconds, job.size)
        with Phase("integrate", results, server_cpu) as integ:
            size = log.integrate_all()
        _rate(results, "integrate", job.size, integ.seconds, job.size)
        assert size == job.size, f"integrated {size}, want {job.size}"
        _rate(results, "build", job.size, seq.seconds + integ.seconds, job.size)
        del inputs

        signer = generate_signer("bench.civic-ledger.example", seed=b"\x07" * 32)
        with Phase("sign", results, server_cpu):
            signed = log.sign(signer)
        assert signed.checkpoint.root_hash.hex() == job.expected_root, "signed root differs"
        assert log.root(job.size).hex() == job.expected_root, "stored root differs"

        warm_incl = proof_pairs(job.size, job.proofs, job.seed + 1, "inclusion")
        warm_cons = proof_pairs(job.size, job.proofs, job.seed + 1, "consistency")
        proofs: dict[str, tuple[list[Any], list[Any]]] = {}
        for label in ("cold", "warm"):
            lg = MerkleLog(engine, origin=ORIGIN, cache_tiles=0) if label == "cold" else log
            with Phase(f"proofs_{label}", results):
                if label == "warm":
                    # Warm the default cache with other random proofs of the same kinds.
                    t0 = time.perf_counter()
                    for i, n in warm_incl:
                        lg.inclusion_proof(i, n)
                    for m, n in warm_cons:
                        lg.consistency_proof(m, n)
                    results["warmup_seconds"] = time.perf_counter() - t0
                    results["warm_cache_tiles"] = len(lg.reader._cache)
                incl = measure(
                    results, f"inclusion_{label}", lambda p, lg=lg: lg.inclusion_proof(*p),
                    incl_pairs, job.phase_budget, job.repeat, server_cpu=server_cpu,
                )  # fmt: skip
                cons = measure(
                    results, f"consistency_{label}", lambda p, lg=lg: lg.consistency_proof(*p),
                    cons_pairs, job.phase_budget, job.repeat, server_cpu=server_cpu,
                )  # fmt: skip
            proofs[label] = (incl, cons)

        # Independent roots: the in-memory reference tree over the same leaf hashes.
        leaf_hashes = [hash_leaf(d) for d in datas]
        roots = _reference_roots(leaf_hashes, _sizes_of(incl_pairs, cons_pairs))
        verified = 0
        for label, (incl, cons) in proofs.items():
            verified += _verify_ours(
                results, job, incl_pairs, incl, cons_pairs, cons, leaf_hashes, roots,
                timed=(label == "warm"),
            )  # fmt: skip
        results["verified"] = verified

        if job.backend == "sqlite":
            files = db_path.parent.glob(db_path.name + "*")
            results["db_mb"] = sum(p.stat().st_size for p in files) / 2**20
        else:
            from sqlalchemy import text

            with engine.connect() as conn:
                db_bytes = conn.execute(text("SELECT pg_database_size(current_database())"))
                results["db_mb"] = int(db_bytes.scalar_one()) / 2**20
    finally:
        engine.dispose()


def _track_backends(engine: Any) -> Callable[[], float] | None:
    """When the PostgreSQL server runs on this machine: a function giving the CPU seconds
    its backends for this engine's connections have used (from /proc), so store rows can
    also be counted by CPU time."""
    from sqlalchemy import event

    host = engine.url.host or "localhost"
    if host not in ("127.0.0.1", "localhost", "::1"):
        return None
    pids: set[int] = set()
    tick = os.sysconf("SC_CLK_TCK")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = int(cur.fetchone()[0])
        dbapi_connection.commit()
        pids.add(pid)

    def cpu_seconds() -> float:
        total = 0
        for pid in list(pids):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # a closed connection's backend (rare: the pool keeps them)
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    return cpu_seconds


def _pymerkle(
    job: Job,
    results: dict[str, Any],
    datas: list[bytes],
    incl_pairs: list[tuple[int, int]],
    cons_pairs: list[tuple[int, int]],
    sqlite_path: str | None,
) -> None:
    import pymerkle

    from ledger.merkle import hash_leaf

    def append_all(tree: Any) -> Any:
        # One call (one transaction for SqliteTree) per batch, as our sequencer commits.
        for start in range(0, len(datas), job.batch):
            tree.append_entries(datas[start : start + job.batch])
        return tree

    tree: Any
    if sqlite_path is None:
        tree = _best_build(results, job, lambda: append_all(pymerkle.InmemoryTree("sha256")))
    else:
        with Phase("build", results) as ph:
            tree = append_all(pymerkle.SqliteTree(sqlite_path, algorithm="sha256"))
        _rate(results, "build", job.size, ph.seconds, job.size)

    # pymerkle keeps no interior nodes in SQLite; it caches subtree roots in memory (LRU,
    # 1 GiB by default). "cold": each pass starts with that cache cleared, like our
    # cache_tiles=0; "warm": after the same warm-up proofs as ours. InmemoryTree keeps every
    # node, so it has one mode.
    modes = ("cold", "warm") if sqlite_path is not None else ("",)
    proofs: tuple[list[Any], list[Any]] = ([], [])
    for label in modes:
        suffix = f"_{label}" if label else ""
        clear = tree.cache_clear if label == "cold" else None
        with Phase(f"proofs{suffix}", results):
            if label == "warm":
                tree.cache_clear()
                for i, n in proof_pairs(job.size, job.proofs, job.seed + 1, "inclusion"):
                    tree.prove_inclusion(i + 1, n)
                for m, n in proof_pairs(job.size, job.proofs, job.seed + 1, "consistency"):
                    tree.prove_consistency(m, n)
            incl = measure(
                results, f"inclusion{suffix}", lambda p: tree.prove_inclusion(p[0] + 1, p[1]),
                incl_pairs, job.phase_budget, job.repeat, before=clear,
            )  # fmt: skip
            cons = measure(
                results, f"consistency{suffix}", lambda p: tree.prove_consistency(*p),
                cons_pairs, job.phase_budget, job.repeat, before=clear,
            )  # fmt: skip
        results[f"cache_info{suffix}"] = list(tree.get_cache_info())
        proofs = (incl, cons)
    incl, cons = proofs

    # The root of the whole tree from the stored leaves, cache cleared: pymerkle's analogue
    # of the recomputation our checkpoint signer does before signing.
    tree.cache_clear()
    t0 = time.perf_counter()
    root = tree.get_root()
    results["root_recompute_seconds"] = time.perf_counter() - t0
    assert root.hex() == job.expected_root, "pymerkle's root differs from ours"

    leaf_hashes = [hash_leaf(d) for d in datas]
    roots = _reference_roots(leaf_hashes, _sizes_of(incl_pairs, cons_pairs))
    for s in random.Random(job.seed).sample(sorted(roots), min(50, len(roots))):
        assert tree.get_root(s) == roots[s], f"pymerkle's root of size {s} differs from ours"

    incl_args = [
        (leaf_hashes[i], roots[n], p, i + 1, n) for (i, n), p in zip(incl_pairs, incl, strict=False)
    ]
    cons_args = [(roots[m], roots[n], p, m, n) for (m, n), p in zip(cons_pairs, cons, strict=False)]

    def v_incl(a: tuple[Any, ...]) -> None:
        pymerkle.verify_inclusion(a[0], a[1], a[2], index=a[3], size=a[4])

    def v_cons(a: tuple[Any, ...]) -> None:
        pymerkle.verify_consistency(a[0], a[1], a[2], prior_size=a[3], later_size=a[4])

    with Phase("verify", results):
        measure(results, "verify_inclusion", v_incl, incl_args, job.phase_budget, job.repeat)
        measure(results, "verify_consistency", v_cons, cons_args, job.phase_budget, job.repeat)
    for a in incl_args:
        v_incl(a)
    for a in cons_args:
        v_cons(a)
    results["verified"] = len(incl_args) + len(cons_args)
    if sqlite_path is not None:
        tree.close()
        results["db_mb"] = os.path.getsize(sqlite_path) / 2**20


# ---------------------------------------------------------------------------------------
# Checks before timing anything


def check_pymerkle_agrees(leaves_path: Path, n: int = 130) -> str:
    """Assert pymerkle (both backends) computes our roots and inclusion paths: same hashing."""
    import pymerkle

    from ledger.merkle import InMemoryTree, hash_leaf

    _ids, datas = read_leaves(leaves_path, n)
    ours = InMemoryTree(hash_leaf(d) for d in datas)
    mem = pymerkle.InmemoryTree(algorithm="sha256")
    assert not mem.security is False  # noqa: E714 - pymerkle's default: prefixes on
    mem.append_entries(datas)
    with tempfile.TemporaryDirectory() as tmp:
        sql = pymerkle.SqliteTree(str(Path(tmp) / "check.db"), algorithm="sha256")
        sql.append_entries(datas)
        for tree in (mem, sql):
            assert tree.get_root(0) == ours.root(0), "empty-tree roots differ"
            for size in range(1, n + 1):
                assert tree.get_root(size) == ours.root(size), f"roots differ at size {size}"
                # pymerkle's path is [leaf hash, siblings bottom-up]; ours is the siblings.
                step = 1 if size <= 40 else 7
                for index in range(0, size, step):
                    theirs = tree.prove_inclusion(index + 1, size).path
                    assert theirs[0] == ours.leaf_hash(index)
                    assert theirs[1:] == ours.inclusion_proof(index, size), (index, size)
        sql.close()
    return (
        f"pymerkle {pymerkle.__version__} (InmemoryTree, SqliteTree; sha256, security on) "
        f"gives our roots for sizes 0..{n} and our inclusion paths: asserted"
    )


def check_canonical(leaves_path: Path, n: int = 1000) -> None:
    """The generated leaf bytes are the JCS bytes ledger.entries would log."""
    from ledger.entries import Entry

    _ids, datas = read_leaves(leaves_path, n)
    for d in datas:
        assert Entry.from_leaf_data(d).leaf_data() == d


# ---------------------------------------------------------------------------------------
# Orchestration


def machine_info(pg_url: str | None) -> dict[str, Any]:
    import pymerkle
    import sqlalchemy

    info: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": "unknown",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "pymerkle": pymerkle.__version__,
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_total_gb"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        import psycopg

        info["psycopg"] = psycopg.__version__
    except ImportError:
        pass
    if pg_url:
        try:
            engine = _admin_engine(pg_url)
            with engine.connect() as conn:
                from sqlalchemy import text

                info["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
                for name in ("fsync", "synchronous_commit", "shared_buffers"):
                    info[f"pg_{name}"] = conn.execute(text(f"SHOW {name}")).scalar_one()
            engine.dispose()
        except Exception as exc:
            info["postgresql"] = f"unreachable ({' '.join(str(exc).split())[:200]})"
    return info


def _normalize_pg_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _admin_engine(url: str) -> Any:
    import sqlalchemy

    return sqlalchemy.create_engine(
        url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )


def _with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _pg_execute(url: str, sql: str) -> None:
    from sqlalchemy import text

    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def run_job(job: Job, timeout: float) -> dict[str, Any]:
    """Run one job in a fresh interpreter; its result, or why there is none."""
    fd, out = tempfile.mkstemp(prefix="job-", suffix=".json", dir=job.workdir)
    os.close(fd)
    job.out = out
    spec = json.dumps(job.__dict__)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", spec]
    _log(f"== {job.name} (timeout {timeout:.0f} s)")
    load_before = os.getloadavg()[0]
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _log(f"!! {job.name} timed out after {timeout:.0f} s")
        return {"job": job.name, "error": f"timed out after {timeout:.0f} s"}
    finally:
        elapsed = time.perf_counter() - t0
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        return {"job": job.name, "error": f"worker exited with {proc.returncode}"}
    with open(out) as f:
        result: dict[str, Any] = json.load(f)
    result["wall_seconds"] = elapsed
    # CPU time of the worker and the machine's load around it: this machine may be shared.
    result["cpu_seconds"] = (usage1.ru_utime - usage0.ru_utime) + (
        usage1.ru_stime - usage0.ru_stime
    )
    result["loadavg_1m"] = [load_before, os.getloadavg()[0]]
    return result


def _ledger_version() -> str:
    """The commit of the work tree and whether ledger/ differs from it."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "ledger"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit}" + (" with uncommitted changes in ledger/" if dirty else "")


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _die_with_parent() -> None:
    """Linux: the worker gets SIGTERM when the orchestrator dies, so none is left behind."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGTERM, _raise_interrupt)


def expected_roots(leaves_path: Path, sizes: Sequence[int]) -> dict[int, str]:
    from ledger.merkle import CompactRange, hash_leaf, root_from_range

    _ids, datas = read_leaves(leaves_path, max(sizes))
    compact = CompactRange()
    roots: dict[int, str] = {}
    done = 0
    for size in sorted(sizes):
        compact.extend([hash_leaf(d) for d in datas[done:size]])
        done = size
        roots[size] = root_from_range(compact.hashes()).hex()
    return roots


@dataclass
class Row:
    name: str
    ours: float | None
    theirs: float | None = None
    unit: str = "/s"  # "/s" (higher is better), "s" or "MB" (lower is better)
    target: float | None = None
    note: str = ""

    @property
    def higher_is_better(self) -> bool:
        return self.unit == "/s"

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.theirs is None or self.ours == 0 or self.theirs == 0:
            return None
        if self.unit == "MB" and min(self.ours, self.theirs) < 1:
            return None  # a ratio of two near-zero memory figures means nothing
        return self.ours / self.theirs if self.higher_is_better else self.theirs / self.ours

    def met(self) -> str:
        verdicts = []
        if self.target is not None and self.ours is not None:
            verdicts.append(self.ours >= self.target)
        if self.ratio is not None and self.unit != "MB":
            verdicts.append(self.ratio > 1)
        if self.ours is None:
            return "n/a"
        if not verdicts:
            return ""
        return "yes" if all(verdicts) else "NO"

    def target_text(self) -> str:
        parts = []
        if self.target is not None:
            parts.append(f"≥ {_fmt(self.target, self.unit)}")
        if self.theirs is not None and self.unit != "MB":
            parts.append("> pymerkle")
        return ", ".join(parts)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "s":
        return f"{value:.2f} s"
    return f"{value:,.0f} MB"


def _get(res: dict[str, Any] | None, *path: str) -> Any:
    cur: Any = res
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


def _best_pass(rate: dict[str, Any]) -> dict[str, Any]:
    """The fastest complete pass of a timed loop (the fastest pass if none completed)."""
    passes = rate.get("passes") or [rate]
    complete = [p for p in passes if p["count"] == rate["wanted"]] or passes
    return max(complete, key=lambda p: p["count"] / p["seconds"])


def _rate_of(res: dict[str, Any] | None, key: str) -> float | None:
    rate = _get(res, "rates", key)
    if not rate:
        return None
    best = _best_pass(rate)
    return float(best["count"]) / float(best["seconds"])


def _partial(res: dict[str, Any] | None, key: str, lib: str) -> str:
    r = _get(res, "rates", key)
    if r and _best_pass(r)["count"] != r["wanted"]:
        return f"{lib}: {_best_pass(r)['count']} of {r['wanted']} done within the phase budget"
    return ""


def build_rows(
    size: int,
    backends: Sequence[str],
    results: dict[tuple[str, str, int], dict[str, Any]],
    notes: dict[tuple[str, str, int], str],
) -> list[Row]:
    rows: list[Row] = []

    def res(lib: str, backend: str) -> dict[str, Any] | None:
        r = results.get((lib, backend, size))
        return None if r is None or "error" in r else r

    def note(backend: str, *extra: str) -> str:
        """Why a figure is missing or partial: errors, skips, loops cut short."""
        parts = [p for p in extra if p]
        for lib in ("ours", "pymerkle"):
            r = results.get((lib, backend, size))
            if r is not None and "error" in r:
                parts.append(f"{lib}: {r['error']}")
            if notes.get((lib, backend, size)):
                parts.append(f"{lib}: not run at this size, see the notes below the table")
        return "; ".join(parts)

    # Build
    for b in backends:
        target = {"memory": TARGET_MEMORY_LEAVES, "postgresql": TARGET_PG_LEAVES}.get(b)
        label = "build (hash + tree)" if b == "memory" else "build (sequence + integrate)"
        rows.append(
            Row(
                f"{b}: {label}, leaves/s",
                _rate_of(res("ours", b), "build"),
                _rate_of(res("pymerkle", b), "build"),
                target=target,
                note=note(b),
            )
        )
        if b != "memory":
            rows.append(
                Row(f"{b}:   sequence only, leaves/s", _rate_of(res("ours", b), "sequence"))
            )
            rows.append(
                Row(f"{b}:   integrate only, leaves/s", _rate_of(res("ours", b), "integrate"))
            )
            theirs = _get(res("pymerkle", b), "root_recompute_seconds") if b == "sqlite" else None
            rows.append(
                Row(
                    f"{b}: sign checkpoint (root from all leaves), s",
                    _get(res("ours", b), "phases", "sign", "seconds"),
                    theirs,
                    unit="s",
                    note="pymerkle: get_root() from stored leaves, cache cleared"
                    if theirs is not None
                    else "",
                )
            )
        rows.append(
            Row(
                f"{b}: build peak RSS Δ, MB",
                _get(res("ours", b), "phases", "build", "peak_delta_mb")
                if b == "memory"
                else _max_delta(res("ours", b), ("sequence", "integrate")),
                _get(res("pymerkle", b), "phases", "build", "peak_delta_mb"),
                unit="MB",
                note="ratio = pymerkle/ours (>1: we use less)" if b in PYMERKLE_BACKENDS else "",
            )
        )
    # Proofs
    for kind in ("inclusion", "consistency"):
        for b in backends:
            theirs = _rate_of(res("pymerkle", b), kind)
            if b == "memory":
                rows.append(
                    Row(
                        f"memory: {kind} proofs/s",
                        _rate_of(res("ours", b), kind),
                        theirs,
                        note=note(
                            b,
                            _partial(res("ours", b), kind, "ours"),
                            _partial(res("pymerkle", b), kind, "pymerkle"),
                        ),
                    )
                )
                continue
            for label in ("cold", "warm"):
                target = TARGET_PG_PROOFS if b == "postgresql" else None
                rows.append(
                    Row(
                        f"{b}: {kind} proofs/s, {label} cache",
                        _rate_of(res("ours", b), f"{kind}_{label}"),
                        _rate_of(res("pymerkle", b), f"{kind}_{label}"),
                        target=target,
                        note=note(
                            b,
                            _partial(res("ours", b), f"{kind}_{label}", "ours"),
                            _partial(res("pymerkle", b), f"{kind}_{label}", "pymerkle"),
                        ),
                    )
                )
    for b in backends:
        if b == "memory":
            continue
        rows.append(
            Row(
                f"{b}: warm proofs peak RSS Δ, MB",
                _get(res("ours", b), "phases", "proofs_warm", "peak_delta_mb"),
                _get(res("pymerkle", b), "phases", "proofs_warm", "peak_delta_mb"),
                unit="MB",
                note="incl. cache warm-up; pymerkle: its subroot cache"
                if b in PYMERKLE_BACKENDS
                else "incl. cache warm-up",
            )
        )
    # Verification: every worker of a library verifies the same proofs with the same
    # function; the row is the best of them (each already the best of its passes).
    for kind in ("inclusion", "consistency"):
        best: dict[str, float | None] = {}
        for lib in ("ours", "pymerkle"):
            rates = [_rate_of(res(lib, b), f"verify_{kind}") for b in backends]
            present = [r for r in rates if r is not None]
            best[lib] = max(present) if present else None
        rows.append(
            Row(
                f"verify {kind}/s",
                best["ours"],
                best["pymerkle"],
                target=TARGET_VERIFICATIONS,
                note="best over the workers of each library",
            )
        )
    return rows


def _max_delta(res: dict[str, Any] | None, phases: Sequence[str]) -> float | None:
    values = [_get(res, "phases", p, "peak_delta_mb") for p in phases]
    present = [v for v in values if v is not None]
    return max(present) if present else None


def render_table(sections: list[tuple[str, list[Row]]]) -> str:
    header = ("row", "ours", "pymerkle", "ratio", "target", "met?", "note")
    lines_data: list[tuple[str, ...] | str] = []
    for title, rows in sections:
        lines_data.append(title)
        for r in rows:
            ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
            lines_data.append(
                (
                    r.name,
                    _fmt(r.ours, r.unit),
                    _fmt(r.theirs, r.unit) if r.theirs is not None else "—",
                    ratio,
                    r.target_text(),
                    r.met(),
                    r.note,
                )
            )
    cells = [header] + [x for x in lines_data if isinstance(x, tuple)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header) - 1)]
    out = []

    def fmt(c: Sequence[str]) -> str:
        left = c[0].ljust(widths[0])
        mid = "  ".join(c[i].rjust(widths[i]) for i in range(1, 4))
        return f"{left}  {mid}  {c[4].ljust(widths[4])}  {c[5].ljust(widths[5])}  {c[6]}".rstrip()

    out.append(fmt(header))
    out.append("-" * (sum(widths) + 2 * len(widths) + 4))
    for x in lines_data:
        out.append(f"-- {x}" if isinstance(x, str) else fmt(x))
    return "\n".join(out)


def render_markdown(sections: list[tuple[str, list[Row]]]) -> str:
    out = [
        "| row | ours | pymerkle | ratio | target | met? | note |",
        "| --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for title, rows in sections:
        out.append(f"| **{title}** | | | | | | |")
        for r in rows:
            ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
            theirs = _fmt(r.theirs, r.unit) if r.theirs is not None else "—"
            out.append(
                f"| {r.name} | {_fmt(r.ours, r.unit)} | {theirs} | {ratio} | {r.target_text()} "
                f"| {r.met()} | {r.note} |"
            )
    return "\n".join(out)


def _parse_sizes(text: str) -> list[int]:
    return sorted({int(float(s.replace("_", ""))) for s in text.split(",") if s.strip()})


def _use_project_venv() -> None:
    """Started by a Python without the project's packages (``#!/usr/bin/env python3``):
    run again with the work tree's .venv, once."""
    try:
        import pymerkle  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        venv_python = ROOT / ".venv" / "bin" / "python"
        if venv_python.exists() and not os.environ.get("BENCH_LOG_REEXEC"):
            os.environ["BENCH_LOG_REEXEC"] = "1"
            os.execv(venv_python, [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
        raise SystemExit(
            "bench_log.py needs the project's packages (SQLAlchemy, pymerkle, ...): run it with "
            "the project's virtualenv, e.g. .venv/bin/python scripts/bench_log.py"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", help="log sizes, comma-separated (default 100000,1000000)")
    parser.add_argument("--proofs", type=int, help="proofs of each kind (default 10000)")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="memory,sqlite,postgresql (default all)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LEDGER_TEST_DATABASE_URL") or DEFAULT_PG_URL,
        help="server to create throwaway databases on (default $LEDGER_TEST_DATABASE_URL "
        f"or {DEFAULT_PG_URL})",
    )
    parser.add_argument("--skip-pymerkle", action="store_true", help="measure civic-ledger only")
    parser.add_argument(
        "--quick", action="store_true", help="10^4 leaves and 10^3 proofs: a smoke run"
    )
    parser.add_argument("--json", type=Path, help="write every measurement to this file")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown here")
    parser.add_argument("--batch", type=int, default=10_000, help="leaves per append (10000)")
    parser.add_argument("--seed", type=int, default=20261201, help="seed of leaves and proofs")
    parser.add_argument(
        "--time-limit", type=float, default=2400, help="hard limit for the whole run, s (2400)"
    )
    parser.add_argument(
        "--phase-budget",
        type=float,
        default=60,
        help="at most this many seconds per timed proof/verify loop (all its passes); a "
        "loop cut short reports its rate over what it did and says so (60)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="passes of each timed proof/verify loop and in-memory build; the best is reported (3)",
    )
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a temp dir)")
    parser.add_argument(
        "--from-json", type=Path, help="print the report of a run saved with --json, and exit"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.from_json:
        sections = report(json.loads(args.from_json.read_text()))
        if args.markdown:
            args.markdown.write_text(render_markdown(sections) + "\n")
        return 0
    if args.worker:
        job = Job(**json.loads(args.worker))
        # The ledger/ snapshot taken when the run started, whatever happened to the tree since.
        sys.path.insert(0, job.src)
        _die_with_parent()
        result = run_worker(job)
        with open(job.out, "w") as f:
            json.dump(result, f)
        return 0

    # Interrupts (also when started in the background, where SIGINT is ignored) and
    # SIGTERM unwind through the cleanup below: the worker is killed, databases dropped.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    deadline = started + args.time_limit
    sizes = _parse_sizes(args.sizes) if args.sizes else ([10_000] if args.quick else [10**5, 10**6])
    proofs = args.proofs if args.proofs is not None else (1_000 if args.quick else 10_000)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; choose from {BACKENDS}")
    pg_url = _normalize_pg_url(args.postgres_url) if "postgresql" in backends else None

    info = machine_info(pg_url)
    if pg_url and str(info.get("postgresql", "")).startswith("unreachable"):
        _log(f"!! PostgreSQL {info['postgresql']}: the postgresql backend is skipped")
        backends.remove("postgresql")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_log_"))
    workdir.mkdir(parents=True, exist_ok=True)
    run_id = f"{os.getpid()}_{secrets.token_hex(3)}"
    created_dbs: list[str] = []
    results: dict[tuple[str, str, int], dict[str, Any]] = {}
    notes: dict[tuple[str, str, int], str] = {}
    try:
        # Workers import this copy of ledger/, so edits to the work tree during a long run
        # cannot mix two versions of the code in one table.
        src = workdir / "src"
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(
            ROOT / "ledger", src / "ledger", ignore=shutil.ignore_patterns("__pycache__")
        )
        info["ledger"] = _ledger_version()
        leaves_path = workdir / "leaves.bin"
        _log(f"generating {max(sizes):,} leaves into {leaves_path}")
        t0 = time.perf_counter()
        leaves_info = write_leaves(leaves_path, max(sizes), args.seed)
        leaves_info["generate_seconds"] = time.perf_counter() - t0
        check_canonical(leaves_path)
        agreement = "" if args.skip_pymerkle else check_pymerkle_agrees(leaves_path)
        if agreement:
            _log(agreement)
        roots = expected_roots(leaves_path, sizes)

        for size in sizes:
            plan = [("ours", b) for b in backends]
            if not args.skip_pymerkle:
                plan += [("pymerkle", b) for b in backends if b in PYMERKLE_BACKENDS]
            for library, backend in plan:
                key = (library, backend, size)
                remaining = deadline - time.monotonic()
                skip = _too_slow(key, results, sizes, remaining, args.phase_budget)
                if skip:
                    notes[key] = skip
                    _log(f"!! skipping {library}/{backend}/{size}: {skip}")
                    continue
                if remaining < 30:
                    notes[key] = "not run: the run's time limit was reached"
                    continue
                job = Job(
                    library=library,
                    backend=backend,
                    size=size,
                    proofs=proofs,
                    seed=args.seed,
                    batch=args.batch,
                    leaves_path=str(leaves_path),
                    src=str(src),
                    expected_root=roots[size],
                    phase_budget=args.phase_budget,
                    repeat=args.repeat,
                    workdir=str(workdir),
                )
                if backend == "postgresql":
                    assert pg_url is not None
                    db = f"bench_log_{run_id}_{size}"
                    _pg_execute(pg_url, f'CREATE DATABASE "{db}"')
                    created_dbs.append(db)
                    job.url = _with_database(pg_url, db)
                try:
                    results[key] = run_job(job, timeout=remaining)
                finally:
                    if backend == "postgresql":
                        assert pg_url is not None
                        _pg_execute(pg_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                        created_dbs.remove(db)
                    for p in workdir.glob(f"*-{size}.db*"):
                        p.unlink()
                _annotate_fallback(key, results, notes, sizes)
    finally:
        for db in created_dbs:
            assert pg_url is not None
            try:
                _pg_execute(pg_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            except Exception as exc:
                _log(f"!! could not drop database {db}: {exc}")
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    payload = {
        "args": {k: str(v) for k, v in vars(args).items() if k != "worker"},
        "sizes": sizes,
        "proofs": proofs,
        "backends": backends,
        "loadavg_1m_at_start": load_at_start,
        "total_wall_seconds": time.monotonic() - started,
        "machine": info,
        "leaves": leaves_info,
        "pymerkle_agreement": agreement,
        "results": {"/".join(map(str, k)): v for k, v in results.items()},
        "notes": {"/".join(map(str, k)): v for k, v in notes.items()},
    }
    sections = report(payload)
    payload["table"] = {
        title: [
            {
                "row": r.name,
                "ours": r.ours,
                "pymerkle": r.theirs,
                "unit": r.unit,
                "ratio": r.ratio,
                "target": r.target,
                "met": r.met(),
                "note": r.note,
            }
            for r in rows
        ]
        for title, rows in sections
    }
    if args.markdown:
        args.markdown.write_text(render_markdown(sections) + "\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 1 if any("error" in r for r in results.values()) else 0


def _key(text: str) -> tuple[str, str, int]:
    lib, backend, size = text.split("/")
    return lib, backend, int(size)


def report(payload: dict[str, Any]) -> list[tuple[str, list[Row]]]:
    """Print the report of a run (also of one saved with --json); returns the table."""
    info = payload["machine"]
    args = payload["args"]
    results = {_key(k): v for k, v in payload["results"].items()}
    sizes = [int(x) for x in payload.get("sizes", sorted({k[2] for k in results}))]
    proofs = int(payload.get("proofs", args["proofs"]))
    backends = list(
        payload.get("backends", [b for b in BACKENDS if any(k[1] == b for k in results)])
    )
    notes = {_key(k): v for k, v in payload["notes"].items()}
    leaves_info = payload["leaves"]
    sections = [
        (
            f"{size:,} leaves, {proofs:,} proofs of each kind",
            build_rows(size, backends, results, notes),
        )
        for size in sizes
    ]
    cpu_sections = [
        (f"{size:,} leaves, by CPU time", cpu_rows(size, backends, results)) for size in sizes
    ]

    print()
    print("civic-ledger Merkle log benchmark")
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu']}), {info.get('mem_total_gb', '?')} GB RAM; "
        f"Python {info['python']}; SQLite {info['sqlite']}; "
        f"PostgreSQL {info.get('postgresql', 'not used')}"
        + (
            f" (fsync={info['pg_fsync']}, synchronous_commit={info['pg_synchronous_commit']}, "
            f"shared_buffers={info['pg_shared_buffers']})"
            if "pg_fsync" in info
            else ""
        )
        + f"; pymerkle {info['pymerkle']}; SQLAlchemy {info['sqlalchemy']}"
        + (f"; psycopg {info['psycopg']}" if "psycopg" in info else "")
    )
    print(f"platform: {info['platform']}")
    if "ledger" in info:
        print(f"ledger/ code: commit {info['ledger']} (a copy taken at the start is what ran)")
    print(
        f"run: sizes {', '.join(f'{x:,}' for x in sizes)}; {proofs:,} proofs of each kind; "
        f"best of {args['repeat']} passes per proof/verify loop; "
        f"1-min load average at start {payload['loadavg_1m_at_start']:.2f} "
        "(2 CPUs: other work on the machine lowers every wall-clock figure)"
    )
    print(
        f"leaves: {leaves_info['count']:,} generated (seed {args['seed']}), mean "
        f"{leaves_info['mean_bytes']:.0f} bytes (JCS JSON with Chinese text), "
        f"appended in batches of {int(args['batch']):,}"
    )
    if payload["pymerkle_agreement"]:
        print(payload["pymerkle_agreement"])
    print(
        "memory: peak RSS per phase (VmHWM, reset at phase start), Δ = peak − RSS at phase "
        "start; each (library, backend, size) in its own process"
    )
    print()
    print(render_table(sections))
    for key, text in notes.items():
        print(f"note {key[0]}/{key[1]}/{key[2]:,}: {text}")
    for r in results.values():
        if "error" in r:
            print(f"error {r['job']}: {r['error']}")
    misses = [(t, r) for t, rows in sections for r in rows if r.met() == "NO"]
    print()
    print(f"targets/comparisons missed (wall clock): {len(misses)}")
    for title, r in misses:
        print(f"  {title}: {r.name}: ours {_fmt(r.ours, r.unit)} ({r.target_text()})")
    print()
    print(
        "The same rates counted by CPU time instead of wall time (the worker's, plus its "
        "local PostgreSQL backends'; the least CPU per item of the passes): an estimate for "
        "an otherwise idle machine. It leaves out waiting (fsync, network, scheduling) and "
        "adds up client and server work even where they overlap; the wall-clock table above "
        "is the measurement."
    )
    print(render_table(cpu_sections))
    print()
    print("jobs (wall s, worker CPU s, 1-min load average before → after; 2 CPUs):")
    for r in results.values():
        if "error" in r:
            continue
        before, after = r["loadavg_1m"]
        print(
            f"  {r['job']}: {r['wall_seconds']:.0f} s wall, {r['cpu_seconds']:.0f} s CPU, "
            f"load {before:.2f} → {after:.2f}"
        )
    if "total_wall_seconds" in payload:
        print(f"total wall time: {float(payload['total_wall_seconds']):.0f} s")
    return sections + cpu_sections


def cpu_rows(
    size: int, backends: Sequence[str], results: dict[tuple[str, str, int], dict[str, Any]]
) -> list[Row]:
    """The rows again, with rates over CPU time: the worker's, plus its local PostgreSQL
    backends'. Leaves out waiting (fsync, scheduling), and counts client and server work
    one after the other even where they overlap: an idle-machine estimate, not a figure."""

    def res(lib: str, backend: str) -> dict[str, Any] | None:
        r = results.get((lib, backend, size))
        return None if r is None or "error" in r else r

    def build(lib: str, backend: str) -> float | None:
        phases = (
            ("build",) if lib == "pymerkle" or backend == "memory" else ("sequence", "integrate")
        )
        total = 0.0
        for name in phases:
            ph = _get(res(lib, backend), "phases", name)
            if not ph:
                return None
            total += float(ph.get("cpu_seconds_best", ph.get("cpu_seconds")) or 0)
            total += float(ph.get("server_cpu_seconds") or 0)
        return size / total if total else None

    def rate(lib: str, backend: str, key: str) -> float | None:
        r = _get(res(lib, backend), "rates", key)
        if not r:
            return None
        if "cpu_per_second" in r:
            return float(r["cpu_per_second"])
        return float(r["count"]) / float(r["cpu_seconds"]) if r.get("cpu_seconds") else None

    rows = []
    for b in backends:
        target = {"memory": TARGET_MEMORY_LEAVES, "postgresql": TARGET_PG_LEAVES}.get(b)
        rows.append(
            Row(f"{b}: build, leaves/s", build("ours", b), build("pymerkle", b), target=target)
        )
    for kind in ("inclusion", "consistency"):
        for b in backends:
            if b == "memory":
                rows.append(
                    Row(
                        f"memory: {kind} proofs/s",
                        rate("ours", b, kind),
                        rate("pymerkle", b, kind),
                    )
                )
                continue
            for label in ("cold", "warm"):
                rows.append(
                    Row(
                        f"{b}: {kind} proofs/s, {label} cache",
                        rate("ours", b, f"{kind}_{label}"),
                        rate("pymerkle", b, f"{kind}_{label}"),
                        target=TARGET_PG_PROOFS if b == "postgresql" else None,
                    )
                )
    for kind in ("inclusion", "consistency"):
        best: dict[str, float | None] = {}
        for lib in ("ours", "pymerkle"):
            present = [r for b in backends if (r := rate(lib, b, f"verify_{kind}")) is not None]
            best[lib] = max(present) if present else None
        rows.append(
            Row(
                f"verify {kind}/s",
                best["ours"],
                best["pymerkle"],
                target=TARGET_VERIFICATIONS,
                note="best over the workers of each library",
            )
        )
    return rows


def _too_slow(
    key: tuple[str, str, int],
    results: dict[tuple[str, str, int], dict[str, Any]],
    sizes: Sequence[int],
    remaining: float,
    phase_budget: float,
) -> str:
    """Why a pymerkle job should not start (its smaller run predicts it will not fit), or ''."""
    library, backend, size = key
    if library != "pymerkle":
        return ""
    smaller = [
        s
        for s in sizes
        if s < size and "error" not in results.get((library, backend, s), {"error": 1})
    ]
    if not smaller:
        return ""
    s = max(smaller)
    prev = results[(library, backend, s)]
    # Builds scale linearly with the size (a little worse: deeper trees, bigger indexes);
    # each timed loop is cut at the phase budget; the rest (loading, checks) with the wall.
    scale = size / s
    build = sum(
        float(ph["seconds"]) * scale for name, ph in prev.get("phases", {}).items()
        if name.startswith("build")
    )  # fmt: skip
    loops = 0.0
    for rate in prev.get("rates", {}).values():
        if "passes" in rate:
            loops += min(phase_budget, sum(p["seconds"] for p in rate["passes"]) * 2)
    estimate = build + loops + float(prev.get("wall_seconds", 0)) * scale * 0.25
    if estimate > remaining:
        return (
            f"measured at {s:,} leaves only: at {size:,} it would take about "
            f"{estimate:.0f} s, more than the {remaining:.0f} s left in the time limit"
        )
    return ""


def _annotate_fallback(
    key: tuple[str, str, int],
    results: dict[tuple[str, str, int], dict[str, Any]],
    notes: dict[tuple[str, str, int], str],
    sizes: Sequence[int],
) -> None:
    library, backend, size = key
    r = results.get(key, {})
    if library == "pymerkle" and "error" in r:
        smaller = [
            s
            for s in sizes
            if s < size and "error" not in results.get((library, backend, s), {"error": 1})
        ]
        if smaller:
            notes[key] = f"too slow at {size:,} ({r['error']}); see its {max(smaller):,} figures"


if __name__ == "__main__":
    _use_project_venv()
    sys.exit(main())
