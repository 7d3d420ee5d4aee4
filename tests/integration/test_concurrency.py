"""Many writers at once: gapless, unique indices and a tree over exactly what was sent.

PostgreSQL: threads with a connection each (row lock on the sequencer's counter) and
an integrator and signer running meanwhile, then processes with their own engines.
SQLite: threads again, through its ``BEGIN IMMEDIATE`` path. Afterwards the log must
hold every submitted entry exactly once, each batch in one contiguous range in the
order it was sent, with the data sent under its id; and the store's root over all of
it, and every root the integrator saw on the way, must be the textbook RFC 9162 root
of the leaves in index order.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
import queue
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import merkle_reference as ref
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from ledger.checkpoint import Signer, generate_signer, open_checkpoint
from ledger.log import LeafInput, MerkleLog
from ledger.store import create_engine, migrate

ORIGIN = "civic-ledger.test/concurrency"
JOIN_TIMEOUT = 60.0


@dataclass(frozen=True)
class Batch:
    """One append as a writer sent it, and the indices it got back."""

    ids: tuple[str, ...]
    datas: tuple[bytes, ...]
    got: range


@dataclass
class IntegratorLog:
    """What the integrator thread saw while the writers were writing."""

    roots: list[tuple[int, bytes]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def new_batch_inputs(rng: random.Random, prefix: str, k: int) -> list[LeafInput]:
    """1-5 leaves with unique ids and data that cannot be derived from the id alone."""
    return [
        LeafInput(f"{prefix}-a{k}-l{j}", f"{prefix}/{k}/{j}/".encode() + os.urandom(8))
        for j in range(rng.randint(1, 5))
    ]


def write_batches(
    log: MerkleLog,
    prefix: str,
    appends: int,
    seed: int,
    midway: Callable[[], None] | None = None,
) -> list[Batch]:
    rng = random.Random(seed)
    batches = []
    for k in range(appends):
        if k == appends // 2 and midway is not None:
            midway()
        leaves = new_batch_inputs(rng, prefix, k)
        got = log.append(leaves)
        batches.append(
            Batch(tuple(x.entry_id for x in leaves), tuple(x.leaf_data for x in leaves), got)
        )
    return batches


def integrate_until(
    log: MerkleLog,
    signer: Signer,
    done: threading.Event,
    seen: IntegratorLog,
    integrated: threading.Event,
) -> None:
    """Integrate small odd steps (and sign) until the writers are done."""
    rng = random.Random(7)
    while not done.is_set():
        step = log.integrate(max_leaves=rng.choice([1, 3, 17, 97, 255, 257]))
        if step.new_size > step.old_size:
            seen.roots.append((step.new_size, log.root(step.new_size)))
            seen.notes.append(log.sign(signer).note)
            integrated.set()


def run_threads(
    engine: sa.Engine, writers: int, appends: int, signer: Signer
) -> tuple[list[Batch], IntegratorLog]:
    """``writers`` threads of ``appends`` appends each, all started at once, and one
    integrator thread running until they finish."""
    log = MerkleLog(engine, origin=ORIGIN)
    start = threading.Barrier(writers + 1)
    done = threading.Event()
    # Writers wait halfway for the integrator's first step, so it surely runs while
    # they are writing (however the threads happen to be scheduled).
    integrated = threading.Event()
    results: dict[int, list[Batch]] = {}
    errors: list[BaseException] = []
    seen = IntegratorLog()

    def guarded(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # re-raised in the test's thread below
                errors.append(exc)
                done.set()

        return run

    def writer(n: int) -> None:
        start.wait(timeout=JOIN_TIMEOUT)
        results[n] = write_batches(
            log, f"t{n}", appends, seed=n, midway=lambda: integrated.wait(JOIN_TIMEOUT)
        )

    def integrator() -> None:
        start.wait(timeout=JOIN_TIMEOUT)
        integrate_until(log, signer, done, seen, integrated)

    threads = [
        threading.Thread(target=guarded(functools.partial(writer, n))) for n in range(writers)
    ]
    integrating = threading.Thread(target=guarded(integrator))
    for thread in [*threads, integrating]:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    done.set()
    integrating.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in [*threads, integrating]), "a thread hung"
    if errors:
        raise errors[0]
    assert sorted(results) == list(range(writers))
    return [b for n in range(writers) for b in results[n]], seen


def assert_log_holds_exactly(
    engine: sa.Engine, batches: list[Batch], signer: Signer, seen: IntegratorLog | None = None
) -> None:
    log = MerkleLog(engine, origin=ORIGIN)
    total = sum(len(b.ids) for b in batches)
    assert log.integrate_all() == total
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT leaf_index, entry_id, leaf_data, leaf_hash FROM log_leaves "
                "ORDER BY leaf_index"
            )
        ).all()
        counters = {
            r.name: r.value for r in conn.execute(sa.text("SELECT name, value FROM log_counters"))
        }
    indices = [r.leaf_index for r in rows]
    ids = [r.entry_id for r in rows]
    datas = [bytes(r.leaf_data) for r in rows]

    # Gapless and unique: exactly 0..N-1.
    assert indices == list(range(total)), "leaf indices are not exactly 0..N-1"
    assert counters == {"sequenced_size": total, "integrated_size": total}
    # Every submitted id exactly once, nothing else.
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    assert not repeated, f"entry ids logged twice: {repeated[:5]}"
    assert set(ids) == {i for b in batches for i in b.ids}
    # Each batch: one contiguous range, in the order sent, with the data sent.
    for b in batches:
        assert b.got.step == 1 and len(b.got) == len(b.ids), f"batch {b.ids[0]} got {b.got}"
        assert tuple(ids[b.got.start : b.got.stop]) == b.ids, f"batch {b.ids[0]} interleaved"
        assert tuple(datas[b.got.start : b.got.stop]) == b.datas, f"batch {b.ids[0]} data"
    ranges = sorted((b.got.start, b.got.stop) for b in batches)
    assert [lo for lo, _ in ranges] == [0, *(hi for _, hi in ranges[:-1])]
    for r in rows:
        assert bytes(r.leaf_hash) == hashlib.sha256(b"\x00" + bytes(r.leaf_data)).digest()

    # The tree over all of it is the textbook tree of the leaves in index order.
    assert log.root(total) == ref.mth(datas)
    final = log.sign(signer)
    assert open_checkpoint(final.note, signer.verifier(), ORIGIN).root_hash == ref.mth(datas)
    if seen is not None:
        # Every intermediate tree the integrator built is a prefix of the final one.
        sizes = [size for size, _ in seen.roots]
        assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
        for size, root in seen.roots:
            assert root == ref.mth(datas[:size]), f"root at {size} seen mid-flight is wrong"
        for note in seen.notes:
            cp = open_checkpoint(note, signer.verifier(), ORIGIN)
            assert cp.root_hash == ref.mth(datas[: cp.size])


@pytest.fixture
def signer() -> Signer:
    return generate_signer("civic-ledger.test", hashlib.sha256(b"concurrency").digest())


def test_postgresql_threads_sequence_while_integrating(postgres_url: str, signer: Signer) -> None:
    writers = 16
    engine = create_engine(postgres_url, pool_size=writers + 2, max_overflow=0)
    try:
        batches, seen = run_threads(engine, writers=writers, appends=50, signer=signer)
        assert len(batches) == writers * 50
        # The integrator did run while the writers were writing.
        # The integrator ran while the writers wrote: it integrated a prefix of the log
        # that the writers then went on extending.
        assert seen.roots, "the integrator never ran"
        assert seen.roots[0][0] < sum(len(b.ids) for b in batches)
        assert_log_holds_exactly(engine, batches, signer, seen)
    finally:
        engine.dispose()


def test_sqlite_threads_sequence_while_integrating(tmp_path: Path, signer: Signer) -> None:
    url = URL.create("sqlite+pysqlite", database=str(tmp_path / "log.sqlite3")).render_as_string()
    migrate(url)
    engine = create_engine(url, pool_size=10, max_overflow=0)
    try:
        batches, seen = run_threads(engine, writers=8, appends=25, signer=signer)
        assert len(batches) == 8 * 25
        # The integrator ran while the writers wrote: it integrated a prefix of the log
        # that the writers then went on extending.
        assert seen.roots, "the integrator never ran"
        assert seen.roots[0][0] < sum(len(b.ids) for b in batches)
        assert_log_holds_exactly(engine, batches, signer, seen)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------
# Processes (spawned: each imports this module and makes its own engine)

BatchRecord = tuple[tuple[str, ...], tuple[bytes, ...], int, int]


def process_writer(
    url: str,
    n: int,
    appends: int,
    start: multiprocessing.synchronize.Barrier,
    out: multiprocessing.Queue[tuple[int, list[BatchRecord] | str]],
) -> None:
    """A writer process: ``appends`` appends; sends back what it sent and what it got."""
    try:
        engine = create_engine(url)
        try:
            log = MerkleLog(engine, origin=ORIGIN)
            log.size()  # connect before the start line
            start.wait(timeout=JOIN_TIMEOUT)
            batches = write_batches(log, f"p{n}", appends, seed=1000 + n)
        finally:
            engine.dispose()
        out.put((n, [(b.ids, b.datas, b.got.start, b.got.stop) for b in batches]))
    except BaseException as exc:
        out.put((n, f"{type(exc).__name__}: {exc}"))
        raise


def test_postgresql_processes_sequence_concurrently(postgres_url: str, signer: Signer) -> None:
    processes = 4
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(processes)
    out: multiprocessing.Queue[tuple[int, list[BatchRecord] | str]] = ctx.Queue()
    workers = [
        ctx.Process(target=process_writer, args=(postgres_url, n, 100, start, out))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    results: dict[int, list[BatchRecord] | str] = {}
    try:
        for _ in range(processes):
            n, result = out.get(timeout=JOIN_TIMEOUT)
            results[n] = result
    except queue.Empty:
        pytest.fail(f"only {sorted(results)} of {processes} writer processes reported")
    finally:
        for worker in workers:
            worker.join(JOIN_TIMEOUT)
            if worker.is_alive():
                worker.kill()
    failed = {n: r for n, r in results.items() if isinstance(r, str)}
    assert not failed, f"writer processes failed: {failed}"
    assert [w.exitcode for w in workers] == [0] * processes
    batches = [
        Batch(ids, datas, range(lo, hi))
        for n in sorted(results)
        if not isinstance(records := results[n], str)
        for ids, datas, lo, hi in records
    ]
    assert len(batches) == processes * 100
    engine = create_engine(postgres_url)
    try:
        assert_log_holds_exactly(engine, batches, signer)
    finally:
        engine.dispose()
