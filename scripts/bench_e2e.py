#!/usr/bin/env python3
"""End-to-end benchmark of civic-ledger: the real service (uvicorn, PostgreSQL, anvil) on loopback.

The script starts everything itself: a throwaway PostgreSQL database (created on the server
at ``--postgres-url`` and dropped at the end; the server's fsync stays as it is, on), an
anvil on a free port (``ledger.chain.node.Anvil``), ``ledger init`` (contracts, platform
administrator) and ``ledger serve --workers 2`` with ``LEDGER_ANCHOR_INTERVAL`` set, then
measures

1. **ingest**: ``--clients`` (32) concurrent clients posting single records (realistic
   entries with Chinese text, ~500 bytes, a third with a ``personal`` part) to
   ``POST /v1/records``: records/s, p50/p95/p99 latency, errors; afterwards every
   acknowledged record is looked up in the database (acknowledged = committed). Then bulk
   ingest through ``POST /v1/records/batch`` (1,000 records a request): records/s;
2. **time to provable**: for a sample of the records acknowledged under that load, the
   time from the acknowledgement to ``GET /v1/records/{id}/receipt`` answering 200; a
   sample of those receipts is verified (``ledger.receipts.verify_receipt`` with
   ``ledger.chain.lookup.anchored_root_from_rpc`` against the anvil);
3. **proof serving**: the log is filled to ``--log-size`` entries (10^6) directly in the
   database (``ledger.log.sequence`` in big batches, with their ``records`` rows, then
   ``integrate``), the service signs and anchors it, and then receipts/s and inclusion
   proofs/s (``GET /v1/log/proofs/inclusion``) are measured for random records;
4. **verification**: receipts verified per second by ``verify_receipt`` with the chain
   lookup answered from memory (no round trips, in one process and in one per CPU) and
   with a fresh ``anchored_root_from_rpc`` per receipt (its round trips included), and by
   ``ledger verify`` on receipt files (``--jobs 1`` and the default);
5. **baselines in the same run**: (a) a naive design anchoring each record in its own
   transaction (``LogAnchor.anchor`` per record, on a LogAnchor of its own on the same
   anvil): records/s and gas per record, against our gas per record with 10^5 records per
   checkpoint (``LogAnchor.anchor`` of checkpoints of the same log, 10^5 records apart) and
   our ingest rates; (b) pymerkle for the tree work (``scripts/bench_log.py``'s workers);
6. **profile** of the ingest path: the app in one process, cProfile in every thread (each
   timed by its own CPU time) while clients post records; the shares of the CPU under the
   main steps and the top functions are printed (``--profiler inline``: a pyinstrument call
   tree of requests run one at a time instead).

Every figure is printed with its target; targets missed do not change the exit status
(only errors do: 1). docs/benchmarks.md has the figures of a full run.

Usage::

    .venv/bin/python scripts/bench_e2e.py --quick        # about 80 s: a smoke run
    .venv/bin/python scripts/bench_e2e.py --json var/bench_e2e.json --markdown var/e2e.md
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT, ROOT / "scripts"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# Targets of issue #6 (2 cores, PostgreSQL, fsync on).
TARGET_INGEST = 800.0  # records/s, single records, 32 clients
TARGET_INGEST_P99_MS = 100.0
TARGET_BULK = 20_000.0  # records/s
TARGET_PROVABLE_SLACK = 5.0  # s beyond the anchoring interval
TARGET_RECEIPTS_SERVED = 5_000.0  # /s
TARGET_RECEIPTS_VERIFIED = 10_000.0  # /s offline
TARGET_GAS_PER_RECORD = 1.0  # at 10^5 records per checkpoint
TARGET_NAIVE_RATIO = 100.0  # ours / naive, records/s and gas per record


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Realistic records: village notices, meeting minutes, service logs (Chinese text)

_VILLAGE_NAMES = ("防川村", "孟岭村", "密江村", "解放村", "三安村", "马新村", "红星村", "团结社区")
_TOPICS = (
    "道路硬化工程",
    "集体经济收益分配",
    "低保对象民主评议",
    "防汛物资储备",
    "农村人居环境整治",
    "高标准农田建设",
    "村集体土地承包",
    "护林防火责任落实",
    "乡村振兴衔接资金使用",
    "饮水安全巩固提升",
)
_PHRASES = (
    "经村民代表会议讨论通过",
    "现予以公示",
    "公示期为七天",
    "如有异议请向村务监督委员会反映",
    "资金使用情况如下",
    "按照上级文件要求",
    "全体村民代表参加",
    "会议由村党组织书记主持",
    "已完成验收并交付使用",
    "相关票据已归档备查",
    "群众满意度调查结果良好",
    "下一步将继续做好跟踪服务",
    "严格执行四议两公开程序",
    "接受全体村民监督",
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林金朴崔"
_GIVEN = "秀英桂兰玉珍建国志强海燕春梅红梅丽娟明哲成浩永哲美花顺子"
_KINDS = ("record.village_notice", "record.meeting_minutes", "record.service_log")


def make_record(rng: random.Random, n: int) -> dict[str, Any]:
    """One realistic record request body (~500 bytes as JSON); every third has a
    ``personal`` part. No floats: amounts are integers (fen)."""
    village = rng.choice(_VILLAGE_NAMES)
    topic = rng.choice(_TOPICS)
    kind = _KINDS[n % 3]
    text = "，".join(rng.sample(_PHRASES, 5)) + "。"
    body: dict[str, Any] = {
        "title": f"{village}关于{topic}的公示",
        "period": f"2026年第{1 + n % 4}季度",
        "content": text,
        "amount_fen": rng.randrange(10**8),
        "items": [
            {"item": rng.choice(_TOPICS), "amount_fen": rng.randrange(10**7)} for _ in range(2)
        ],
        "seq": n,
    }
    if kind == "record.meeting_minutes":
        body["attendees"] = rng.randint(15, 60)
    record: dict[str, Any] = {"kind": kind, "body": body}
    if n % 3 == 2:
        record["personal"] = {
            "name": rng.choice(_SURNAMES) + "".join(rng.sample(_GIVEN, 2)),
            "phone": f"13{rng.randrange(10**9):09d}",
            "address": f"珲春市敬信镇{village}{rng.randint(1, 9)}组{rng.randint(1, 80)}号",
        }
    return record


# ---------------------------------------------------------------------------------------
# A lean HTTP/1.1 keep-alive client: the load generator shares the 2 CPUs with the
# service and PostgreSQL, so it should cost as little as possible per request.


class HttpError(Exception):
    pass


class Http:
    """One keep-alive HTTP/1.1 connection (asyncio streams)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes | None = None, token: str | None = None
    ) -> tuple[int, bytes]:
        for attempt in (0, 1):
            if self.writer is None:
                await self._open()
            assert self.reader is not None and self.writer is not None
            head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            if token:
                head += f"Authorization: Bearer {token}\r\n"
            if body is not None:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            self.writer.write(head.encode() + b"\r\n" + (body or b""))
            try:
                raw = await self.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                # A keep-alive connection the server closed meanwhile: once more, fresh.
                await self.close()
                if attempt:
                    raise
                continue
            status = int(raw[9:12])
            length, chunked, close = 0, False, False
            for line in raw.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection" and b"close" in value.lower():
                    close = True
            if chunked:
                data = bytearray()
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    data += await self.reader.readexactly(size + 2)
                    if size == 0:
                        break
                    del data[-2:]
                payload = bytes(data[:-2]) if data.endswith(b"\r\n") else bytes(data)
            else:
                payload = await self.reader.readexactly(length)
            if close:
                await self.close()
            return status, payload
        raise HttpError("unreachable")


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


# ---------------------------------------------------------------------------------------
# The database, the chain node and the service


def _normalize_pg_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _with_database(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _pg_execute(url: str, sql: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(
        url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(sql))
    finally:
        engine.dispose()


@contextlib.contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A fresh database on the server at ``server_url``, dropped afterwards."""
    name = f"bench_e2e_{os.getpid()}_{secrets.token_hex(3)}"
    _pg_execute(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server_url, name)
    finally:
        try:
            _pg_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as exc:
            _log(f"!! could not drop database {name}: {exc}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    """``ledger serve`` in a subprocess (its own process group), logging to a file."""

    env: dict[str, str]
    port: int
    workers: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        cmd = [sys.executable, "-m", "ledger.cli", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port)]
        if self.workers != 1:
            cmd += ["--workers", str(self.workers)]
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                cmd, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"ledger serve exited with {self.process.returncode}; see {self.log_path}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as s,
            ):
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"ledger serve did not answer within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGINT)  # uvicorn's graceful shutdown
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def cpu_seconds(self) -> float:
        """CPU time of the service's processes (the group) so far, from /proc."""
        if self.process is None:
            return 0.0
        return _group_cpu(self.process.pid)


def _group_cpu(pgid: int) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 (pgrp), after pid and comm
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / tick, total / tick


class CpuMeter:
    """CPU seconds over a phase: this process (the load generator), the service's
    processes, and the whole machine (PostgreSQL's backends come and go with the pool,
    so their share is the machine's busy time less the two others, roughly)."""

    def __init__(self, service: ServiceProcess | None) -> None:
        self.service = service

    def __enter__(self) -> CpuMeter:
        self.t0 = time.perf_counter()
        self.own0 = time.process_time()
        self.svc0 = self.service.cpu_seconds() if self.service else 0.0
        self.machine0 = _machine_cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.own = time.process_time() - self.own0
        self.svc = (self.service.cpu_seconds() - self.svc0) if self.service else 0.0
        busy, total = _machine_cpu()
        self.busy = busy - self.machine0[0]
        self.capacity = total - self.machine0[1]

    @property
    def busy_share(self) -> float:
        return self.busy / self.capacity if self.capacity > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "wall_s": self.wall,
            "client_cpu_s": self.own,
            "service_cpu_s": self.svc,
            "machine_busy_s": self.busy,
            "machine_busy_share": self.busy_share,
        }

    def text(self) -> str:
        rest = self.busy - self.svc - self.own
        return (
            f"CPU over {self.wall:.1f} s: machine {self.busy_share:.0%} busy; service "
            f"{self.svc:.1f} s, load generator {self.own:.1f} s, the rest (PostgreSQL, anvil, "
            f"other work) {rest:.1f} s"
        )


@dataclass
class Bench:
    """What the phases share: the running service and who may call it."""

    args: argparse.Namespace
    workdir: Path
    db_url: str
    anvil_url: str
    service: ServiceProcess
    env: dict[str, str]
    admin_key: str = ""
    verifier_key: str = ""
    origin: str = ""
    clerk_keys: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)  # for phase 4
    deadline: float = float("inf")

    @property
    def port(self) -> int:
        return self.service.port

    def http(self) -> Http:
        return Http("127.0.0.1", self.port)

    def engine(self) -> Any:
        from ledger.store import create_engine

        return create_engine(self.db_url)

    def time_left(self) -> float:
        return self.deadline - time.monotonic()


def ledger_cli(bench: Bench, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        env=bench.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def set_up(bench: Bench) -> None:
    """``ledger init`` (schema, contracts, administrator), ``ledger serve``, then units and
    one village clerk (and API key) per client."""
    t0 = time.perf_counter()
    done = ledger_cli(bench, "init", "--json")
    if done.returncode != 0:
        raise RuntimeError(f"ledger init failed: {done.stderr.strip()[-2000:]}")
    init = json.loads(done.stdout)
    bench.admin_key = init["admin_api_key"]
    bench.verifier_key = init["verifier_key"]
    bench.origin = init["origin"]
    bench.service.start()
    _log(f"service up on 127.0.0.1:{bench.port} ({time.perf_counter() - t0:.1f} s)")
    asyncio.run(_create_principals(bench))


async def _create_principals(bench: Bench) -> None:
    http = bench.http()

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode()
        status, payload = await http.request("POST", path, data, bench.admin_key)
        if status != 201:
            raise RuntimeError(f"POST {path}: {status} {payload[:300]!r}")
        result: dict[str, Any] = json.loads(payload)
        return result

    await post("/v1/units", {"code": "BENCH-T1", "name": "敬信镇(基准测试)", "level": "township"})
    villages = [f"BENCH-V{i}" for i in range(1, 5)]
    for code, name in zip(villages, _VILLAGE_NAMES, strict=False):
        await post(
            "/v1/units",
            {"code": code, "name": f"{name}(基准测试)", "level": "village", "parent": "BENCH-T1"},
        )
    bench.units = villages
    for k in range(max(bench.args.clients, 4)):
        issued = await post(
            "/v1/principals",
            {"unit": villages[k % len(villages)], "role": "village_clerk", "label": f"clerk {k}"},
        )
        bench.clerk_keys.append(issued["api_key"])
    await http.close()


# ---------------------------------------------------------------------------------------
# 1 + 2. Ingest, and time to provable under that load


@dataclass
class Sample:
    record_id: str
    leaf_index: int
    acked: float  # perf_counter at the acknowledgement
    provable: float | None = None


class ProvableWatcher:
    """Finds when sampled records become provable (their receipt answers 200).

    A record's receipt exists once a checkpoint covering its leaf index is anchored, so
    records become provable in leaf order: only the oldest pending sample is polled
    (every ``poll`` s); when it turns 200 the next ones are asked, 8 at a time, until one
    is not provable yet.
    """

    def __init__(self, bench: Bench, poll: float = 0.1) -> None:
        self.bench = bench
        self.poll = poll
        self.pending: list[Sample] = []
        self.done: list[Sample] = []
        self.receipts: list[dict[str, Any]] = []
        self.requests = 0
        self.errors: dict[str, int] = {}
        self.stop_when_empty = False

    def add(self, sample: Sample) -> None:
        self.pending.append(sample)

    async def _ask(self, http: Http, token: str, sample: Sample) -> bool:
        self.requests += 1
        status, payload = await http.request(
            "GET", f"/v1/records/{sample.record_id}/receipt", token=token
        )
        if status == 200:
            sample.provable = time.perf_counter()
            if len(self.receipts) < 2000:
                self.receipts.append(json.loads(payload))
            return True
        if status != 409:
            key = f"receipt {status}"
            self.errors[key] = self.errors.get(key, 0) + 1
        return False

    async def run(self, give_up_at: float) -> None:
        token = self.bench.clerk_keys[0]
        conns = [self.bench.http() for _ in range(8)]
        try:
            while time.perf_counter() < give_up_at:
                if not self.pending:
                    if self.stop_when_empty:
                        return
                    await asyncio.sleep(self.poll)
                    continue
                self.pending.sort(key=lambda s: s.leaf_index)
                if not await self._ask(conns[0], token, self.pending[0]):
                    await asyncio.sleep(self.poll)
                    continue
                self.done.append(self.pending.pop(0))
                while self.pending:
                    batch = self.pending[:8]
                    oks = await asyncio.gather(
                        *(self._ask(c, token, s) for c, s in zip(conns, batch, strict=False))
                    )
                    for s, ok in zip(batch, oks, strict=True):
                        if ok:
                            self.done.append(s)
                            self.pending.remove(s)
                    if not all(oks):
                        break
        finally:
            for c in conns:
                await c.close()


async def _post_load(
    bench: Bench,
    path: str,
    bodies: Sequence[bytes],
    clients: int,
    on_ack: Callable[[dict[str, Any], float], None],
    stop_at: float,
) -> dict[str, Any]:
    """``clients`` connections posting ``bodies`` (each once) as fast as answered."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    next_index = 0

    async def client(k: int) -> None:
        nonlocal next_index
        http = bench.http()
        token = bench.clerk_keys[k % len(bench.clerk_keys)]
        try:
            while next_index < len(bodies) and time.perf_counter() < stop_at:
                i = next_index
                next_index += 1
                t0 = time.perf_counter()
                try:
                    status, payload = await http.request("POST", path, bodies[i], token)
                except Exception as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    await http.close()
                    continue
                t1 = time.perf_counter()
                if status == 201:
                    latencies.append(t1 - t0)
                    on_ack(json.loads(payload), t1)
                else:
                    key = f"HTTP {status}"
                    errors[key] = errors.get(key, 0) + 1
                    if len(errors) < 5:
                        _log(f"  !! {path}: {status} {payload[:200]!r}")
        finally:
            await http.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.perf_counter() - t0
    return {"latencies": latencies, "errors": errors, "wall_s": wall, "sent": next_index}


def phase_ingest(bench: Bench) -> None:
    args = bench.args
    rng = random.Random(args.seed)
    total = args.records
    bodies = [
        json.dumps(make_record(rng, i), ensure_ascii=False).encode("utf-8") for i in range(total)
    ]
    mean_bytes = statistics.fmean(len(b) for b in bodies)
    acked: list[tuple[str, int]] = []
    watcher = ProvableWatcher(bench)
    sample_every = max(1, total // args.provable_samples)
    count = 0

    def on_ack(created: dict[str, Any], t: float) -> None:
        nonlocal count
        acked.append((created["id"], created["leaf_index"]))
        count += 1
        if count % sample_every == 0:
            watcher.add(Sample(created["id"], created["leaf_index"], t))

    interval = args.anchor_interval

    spread: dict[str, int] = {}

    async def look_at_connections() -> None:
        await asyncio.sleep(3)
        spread.update(_connections_per_process(bench.port))

    async def run() -> dict[str, Any]:
        stop_at = time.perf_counter() + max(5.0, min(args.phase_limit, bench.time_left() - 60))
        watch = asyncio.create_task(watcher.run(give_up_at=stop_at + 3 * interval + 60))
        looking = asyncio.create_task(look_at_connections())
        load = await _post_load(bench, "/v1/records", bodies, args.clients, on_ack, stop_at)
        await looking
        watcher.stop_when_empty = True
        t_end = time.perf_counter()
        await watch
        load["drain_s"] = time.perf_counter() - t_end
        return load

    _log(f"== 1. ingest: {total:,} single records, {args.clients} clients ({mean_bytes:.0f} B)")
    with CpuMeter(bench.service) as cpu:
        load = asyncio.run(run())
    lat = load.pop("latencies")
    n = len(lat)
    wall = load["wall_s"]
    res = {
        "records": total,
        "clients": args.clients,
        "mean_request_bytes": mean_bytes,
        "personal_share": sum(1 for b in bodies if b'"personal"' in b) / total,
        "acknowledged": n,
        "errors": load["errors"],
        "wall_s": wall,
        "per_second": n / wall if wall else 0.0,
        "latency_ms": {
            "p50": percentile(lat, 50) * 1e3,
            "p95": percentile(lat, 95) * 1e3,
            "p99": percentile(lat, 99) * 1e3,
            "max": max(lat) * 1e3 if lat else float("nan"),
            "mean": statistics.fmean(lat) * 1e3 if lat else float("nan"),
        },
        "cpu": cpu.as_dict(),
        # How the kernel spread the keep-alive connections over the workers (SO_REUSEPORT).
        "connections_per_worker": sorted(spread.values(), reverse=True),
    }
    # Acknowledged means committed: every acknowledged id must be in the database now.
    res["found_in_database"] = _count_records(bench, [i for i, _ in acked])
    bench.results["ingest"] = res
    _log(
        f"  {res['per_second']:,.0f} records/s, p50 {res['latency_ms']['p50']:.1f} ms, "
        f"p95 {res['latency_ms']['p95']:.1f} ms, p99 {res['latency_ms']['p99']:.1f} ms, "
        f"errors {sum(load['errors'].values())}; {res['found_in_database']:,} of {n:,} "
        "acknowledged found in the database"
    )
    _log(f"  {cpu.text()}; connections per worker {res['connections_per_worker']}")

    ttp = [s.provable - s.acked for s in watcher.done if s.provable is not None]
    verified = _verify_sample(bench, watcher.receipts[:200])
    bench.receipts.extend(watcher.receipts)
    bench.results["provable"] = {
        "anchor_interval_s": interval,
        "samples": len(watcher.done) + len(watcher.pending),
        "provable": len(ttp),
        "not_provable_in_time": len(watcher.pending),
        "p50_s": percentile(ttp, 50),
        "p99_s": percentile(ttp, 99),
        "max_s": max(ttp) if ttp else float("nan"),
        "receipt_polls": watcher.requests,
        "poll_errors": watcher.errors,
        "drain_s": load["drain_s"],
        **verified,
    }
    p = bench.results["provable"]
    _log(
        f"== 2. time to provable (interval {interval} s): p50 {p['p50_s']:.2f} s, "
        f"p99 {p['p99_s']:.2f} s, max {p['max_s']:.2f} s over {p['provable']} samples; "
        f"{p['verified_ok']}/{p['verified']} receipts verified (steps 0-4)"
    )


def _connections_per_process(port: int) -> dict[str, int]:
    """Established connections to ``port`` by the process holding them (``ss``)."""
    try:
        out = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {}
    counts: dict[str, int] = {}
    for line in out.splitlines():
        if "pid=" in line:
            pid = line.split("pid=", 1)[1].split(",", 1)[0]
            counts[pid] = counts.get(pid, 0) + 1
    return counts


def _count_records(bench: Bench, ids: Sequence[str]) -> int:
    from sqlalchemy import func, select

    from ledger.store.domain import records

    engine = bench.engine()
    found = 0
    try:
        with engine.connect() as conn:
            for i in range(0, len(ids), 10_000):
                chunk = list(ids[i : i + 10_000])
                found += int(
                    conn.execute(
                        select(func.count()).select_from(records).where(records.c.id.in_(chunk))
                    ).scalar_one()
                )
    finally:
        engine.dispose()
    return found


def _verify_sample(bench: Bench, receipts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Verify receipts in full (steps 0-4) against the anvil, as ``ledger verify`` does."""
    from ledger.chain.lookup import anchored_root_from_rpc
    from ledger.receipts import verify_receipt_json

    lookup = anchored_root_from_rpc(bench.anvil_url)
    failures = []
    for r in receipts:
        v = verify_receipt_json(r, anchored_root=lookup, log_key=bench.verifier_key)
        if not v.ok:
            failures.append(str(v.failure))
    if failures:
        bench.errors.append(f"{len(failures)} receipts failed verification: {failures[:3]}")
    return {"verified": len(receipts), "verified_ok": len(receipts) - len(failures)}


def phase_bulk(bench: Bench) -> None:
    args = bench.args
    rng = random.Random(args.seed + 1)
    size = 1000
    bodies = []
    for b in range(args.bulk_batches):
        batch = [make_record(rng, b * size + i) for i in range(size)]
        bodies.append(json.dumps({"records": batch}, ensure_ascii=False).encode("utf-8"))
    acked = 0

    def on_ack(created: dict[str, Any], _t: float) -> None:
        nonlocal acked
        acked += len(created["records"])

    _log(
        f"== 1b. bulk ingest: {args.bulk_batches} x {size} records, "
        f"{args.bulk_clients} clients ({statistics.fmean(len(b) for b in bodies) / 1e6:.2f} MB "
        "a request)"
    )
    stop_at = time.perf_counter() + max(5.0, min(args.phase_limit, bench.time_left() - 60))
    with CpuMeter(bench.service) as cpu:
        load = asyncio.run(
            _post_load(bench, "/v1/records/batch", bodies, args.bulk_clients, on_ack, stop_at)
        )
    lat = load["latencies"]
    res = {
        "batches": args.bulk_batches,
        "batch_size": size,
        "clients": args.bulk_clients,
        "acknowledged": acked,
        "errors": load["errors"],
        "wall_s": load["wall_s"],
        "per_second": acked / load["wall_s"] if load["wall_s"] else 0.0,
        "request_ms_p50": percentile(lat, 50) * 1e3,
        "request_ms_max": max(lat) * 1e3 if lat else float("nan"),
        "cpu": cpu.as_dict(),
    }
    bench.results["bulk"] = res
    _log(
        f"  {res['per_second']:,.0f} records/s ({acked:,} records, request p50 "
        f"{res['request_ms_p50']:.0f} ms); {cpu.text()}"
    )


# ---------------------------------------------------------------------------------------
# 3. Proof serving from a big log


def _leaf_templates(rng: random.Random, count: int = 1000) -> list[str]:
    """Canonical (RFC 8785) body JSON of ``count`` realistic records, without personal
    parts: for string, integer and null values with ASCII keys, sorted keys and no spaces
    is exactly JCS (a sample of the leaves is checked against ``ledger.entries``)."""
    out = []
    for n in range(count):
        body = make_record(rng, n)["body"]
        out.append(json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    return out


def fill_log(bench: Bench, target: int) -> dict[str, Any]:
    """Append realistic entries until the log holds ``target``, straight into the database:
    ``ledger.log.sequence`` in batches of 10^5 (one transaction each, with the entries'
    ``records`` rows, as ``journal.write`` indexes them), then ``integrate``."""
    from ledger.entries import Entry
    from ledger.log import LeafInput, MerkleLog, sequence
    from ledger.log.bulk import insert_rows
    from ledger.log.counters import read_counter
    from ledger.store.domain import records
    from ledger.store.models import SEQUENCED_SIZE

    engine = bench.engine()
    rng = random.Random(bench.args.seed + 3)
    templates = _leaf_templates(rng)
    units = bench.units
    kinds = _KINDS
    at = datetime.now(UTC)
    at_text = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    ids: list[str] = []
    t0 = time.perf_counter()
    try:
        with engine.connect() as conn:
            start = read_counter(conn, SEQUENCED_SIZE)
        need = max(0, target - start)
        batch = 100_000
        done = 0
        checked = False
        while done < need:
            n = min(batch, need - done)
            leaves, rows = [], []
            for k in range(n):
                entry_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                kind, unit = kinds[k % 3], units[k % len(units)]
                data = (
                    f'{{"at":"{at_text}","body":{templates[k % len(templates)]},'
                    f'"id":"{entry_id}","kind":"{kind}","sealed":null,"unit":"{unit}","v":1}}'
                ).encode()
                leaves.append(LeafInput(entry_id, data))
                ids.append(entry_id)
                rows.append((entry_id, kind, unit))
            if not checked:
                for leaf in leaves[:: max(1, n // 500)]:
                    assert Entry.from_leaf_data(leaf.leaf_data).leaf_data() == leaf.leaf_data
                checked = True
            with engine.begin() as conn:
                indices = sequence(conn, leaves, now=at)
                insert_rows(
                    conn,
                    records,
                    [
                        {
                            "id": i, "kind": kind, "unit_code": unit, "subject": None,
                            "leaf_index": index, "created_at": at, "principal_id": None,
                        }
                        for (i, kind, unit), index in zip(rows, indices, strict=True)
                    ],
                )  # fmt: skip
            done += n
            _log(f"  appended {start + done:,} of {target:,}")
        sequenced = time.perf_counter() - t0
        log = MerkleLog(engine, origin=bench.origin, cache_tiles=0)
        size = log.integrate_all()
        total = time.perf_counter() - t0
    finally:
        engine.dispose()
    return {
        "start_size": start,
        "appended": need,
        "size": size,
        "sequence_s": sequenced,
        "fill_s": total,
        "ids": ids,
    }


def _wait_anchored(bench: Bench, size: int, timeout: float) -> float | None:
    """Seconds until a final anchor covers tree size ``size`` (the service's loop signs and
    anchors it), or None on timeout."""
    from sqlalchemy import func, select

    from ledger.store.models import chain_anchors

    engine = bench.engine()
    t0 = time.perf_counter()
    try:
        while time.perf_counter() - t0 < timeout:
            with engine.connect() as conn:
                top = conn.execute(
                    select(func.max(chain_anchors.c.tree_size)).where(
                        chain_anchors.c.status == "final"
                    )
                ).scalar()
            if top is not None and int(top) >= size:
                return time.perf_counter() - t0
            time.sleep(0.25)
    finally:
        engine.dispose()
    return None


async def _get_load(
    bench: Bench,
    paths: Sequence[str],
    clients: int,
    stop_at: float,
    keep: int = 0,
) -> dict[str, Any]:
    """``clients`` connections GETting ``paths`` (each once) as fast as answered."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    kept: list[bytes] = []
    next_index = 0

    async def client(k: int) -> None:
        nonlocal next_index
        http = bench.http()
        token = bench.clerk_keys[k % len(bench.clerk_keys)]
        try:
            while next_index < len(paths) and time.perf_counter() < stop_at:
                i = next_index
                next_index += 1
                t0 = time.perf_counter()
                try:
                    status, payload = await http.request("GET", paths[i], token=token)
                except Exception as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    await http.close()
                    continue
                if status == 200:
                    latencies.append(time.perf_counter() - t0)
                    if len(kept) < keep:
                        kept.append(payload)
                else:
                    key = f"HTTP {status}"
                    errors[key] = errors.get(key, 0) + 1
                    if sum(errors.values()) < 4:
                        _log(f"  !! GET {paths[i]}: {status} {payload[:200]!r}")
        finally:
            await http.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    wall = time.perf_counter() - t0
    return {
        "count": len(latencies),
        "errors": errors,
        "wall_s": wall,
        "per_second": len(latencies) / wall if wall else 0.0,
        "p50_ms": percentile(latencies, 50) * 1e3,
        "p99_ms": percentile(latencies, 99) * 1e3,
        "kept": kept,
    }


def phase_proofs(bench: Bench) -> None:
    args = bench.args
    _log(f"== 3. proof serving: filling the log to {args.log_size:,} entries in the database")
    fill = fill_log(bench, args.log_size)
    ids = fill.pop("ids")
    size = fill["size"]
    _log(
        f"  +{fill['appended']:,} entries: sequenced in {fill['sequence_s']:.1f} s, integrated "
        f"by {fill['fill_s']:.1f} s; waiting for the service to sign and anchor size {size:,}"
    )
    waited = _wait_anchored(bench, size, timeout=max(30.0, min(240.0, bench.time_left() - 60)))
    fill["anchored_after_s"] = waited
    bench.results["fill"] = fill
    if waited is None:
        bench.errors.append(f"the service did not anchor tree size {size} in time")
        return
    _log(f"  anchored {waited:.1f} s after integration")
    rng = random.Random(args.seed + 5)
    count = 3_000 if args.quick else 40_000
    clients = args.proof_clients
    receipt_paths = [f"/v1/records/{rng.choice(ids)}/receipt" for _ in range(count)]
    proof_paths = [
        f"/v1/log/proofs/inclusion?leaf_index={rng.randrange(size)}&tree_size={size}"
        for _ in range(count)
    ]
    budget = 2.5 if args.quick else 15.0
    out: dict[str, Any] = {"log_size": size, "clients": clients, "requests": count}
    for name, paths in (("receipts", receipt_paths), ("inclusion_proofs", proof_paths)):
        for label in ("first_pass", "warm"):
            stop_at = time.perf_counter() + max(3.0, min(budget, bench.time_left() - 90))
            with CpuMeter(bench.service) as cpu:
                res = asyncio.run(
                    _get_load(
                        bench, paths, clients, stop_at, keep=2000 if name == "receipts" else 0
                    )
                )
            kept = res.pop("kept")
            if name == "receipts" and label == "first_pass":
                bench.receipts.extend(json.loads(k) for k in kept)
            res["cpu"] = cpu.as_dict()
            out[f"{name}_{label}"] = res
            _log(
                f"  {name} ({label}): {res['per_second']:,.0f}/s, p50 {res['p50_ms']:.1f} ms, "
                f"p99 {res['p99_ms']:.1f} ms, {res['count']:,} done, errors "
                f"{sum(res['errors'].values())}; {cpu.text()}"
            )
    bench.results["proofs"] = out


# ---------------------------------------------------------------------------------------
# 4. Verification


def _verify_texts(texts: Sequence[str], roots: dict[Any, bytes], log_key: str) -> int:
    """Verify receipt texts (steps 0-4) with the chain's answers taken from ``roots``."""
    from ledger.receipts import verify_receipt_json

    def lookup(chain_id: int, contract: str, size: int) -> bytes | None:
        return roots.get((chain_id, contract.lower(), size))

    ok = 0
    for text in texts:
        ok += verify_receipt_json(text, anchored_root=lookup, log_key=log_key).ok
    return ok


def _timed_verify(args: tuple[list[str], dict[Any, bytes], str, float]) -> tuple[int, int, float]:
    """Verify ``texts`` again and again for ``seconds``: (done, ok, wall)."""
    texts, roots, log_key, seconds = args
    done = ok = 0
    t0 = time.perf_counter()
    while True:
        ok += _verify_texts(texts, roots, log_key)
        done += len(texts)
        if time.perf_counter() - t0 >= seconds:
            return done, ok, time.perf_counter() - t0


def phase_verify(bench: Bench) -> None:
    import multiprocessing

    from ledger.chain.lookup import anchored_root_from_rpc
    from ledger.receipts import parse_receipt, verify_receipt_json

    receipts = bench.receipts[-2000:]
    if not receipts:
        bench.errors.append("phase verify: no receipts to verify (phases ingest/proofs not run?)")
        return
    texts = [json.dumps(r, ensure_ascii=False, indent=2) + "\n" for r in receipts]
    tree_sizes = sorted({parse_receipt(r).checkpoint.tree_size for r in receipts})
    _log(
        f"== 4. verification: {len(texts):,} receipts (tree sizes {tree_sizes[0]:,}"
        f"..{tree_sizes[-1]:,}, {len(tree_sizes)} checkpoints)"
    )
    # The chain's answers fetched once: verification without round trips.
    lookup = anchored_root_from_rpc(bench.anvil_url)
    roots: dict[Any, bytes] = {}
    for r in map(parse_receipt, receipts):
        key = (r.anchor.chain_id, r.anchor.contract.lower(), r.checkpoint.tree_size)
        if key not in roots:
            root = lookup(r.anchor.chain_id, r.anchor.contract, r.checkpoint.tree_size)
            assert root is not None
            roots[key] = root
    seconds = 1.5 if bench.args.quick else 4.0
    out: dict[str, Any] = {"receipts": len(texts), "checkpoints": len(tree_sizes)}
    done, ok, wall = _timed_verify((texts, roots, bench.verifier_key, seconds))
    out["offline_1_process"] = {"done": done, "ok": ok, "per_second": done / wall}
    if ok != done:
        bench.errors.append(f"verification: {done - ok} of {done} receipts failed offline")
    procs = len(os.sched_getaffinity(0))
    ctx = multiprocessing.get_context("fork")
    t0 = time.perf_counter()
    with ctx.Pool(procs) as pool:
        parts = pool.map(
            _timed_verify,
            [(texts[k::procs], roots, bench.verifier_key, seconds) for k in range(procs)],
        )
    wall = time.perf_counter() - t0
    done, ok = sum(p[0] for p in parts), sum(p[1] for p in parts)
    out["offline_processes"] = {
        "processes": procs,
        "done": done,
        "ok": ok,
        # The rate of the pool as a whole, its start-up included.
        "per_second": done / wall,
    }
    # Round trips included: a fresh lookup per receipt, as a verifier holding one receipt
    # does (eth_chainId, eth_getCode, rootAt).
    sample = texts[: 100 if bench.args.quick else 300]
    t0 = time.perf_counter()
    ok = 0
    for text in sample:
        fresh = anchored_root_from_rpc(bench.anvil_url)
        ok += verify_receipt_json(text, anchored_root=fresh, log_key=bench.verifier_key).ok
    wall = time.perf_counter() - t0
    out["with_round_trips"] = {"done": len(sample), "ok": ok, "per_second": len(sample) / wall}
    # And `ledger verify` itself on receipt files (a process: start-up and the web3 import
    # included; one rootAt per checkpoint and worker process). The receipts are repeated
    # to make enough files for the start-up not to be all there is.
    folder = bench.workdir / "receipts"
    folder.mkdir(exist_ok=True)
    files = []
    for k in range(2_000 if bench.args.quick else 10_000):
        path = folder / f"r{k:05d}.json"
        path.write_text(texts[k % len(texts)], encoding="utf-8")
        files.append(str(path))
    runs = (("cli_start", ["--jobs", "1"], files[:1]), ("cli_1_job", ["--jobs", "1"], files),
            ("cli_default_jobs", [], files))  # fmt: skip
    for label, extra, chosen in runs:
        t0 = time.perf_counter()
        done_cli = ledger_cli(
            bench, "verify", "--json", "--rpc", bench.anvil_url, "--log-key", bench.verifier_key,
            *extra, *chosen,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        results = json.loads(done_cli.stdout) if done_cli.stdout.strip() else []
        ok = sum(1 for r in results if r["ok"])
        out[label] = {"done": len(chosen), "ok": ok, "wall_s": wall,
                      "per_second": len(chosen) / wall}  # fmt: skip
        if label != "cli_start":
            spent = wall - out["cli_start"]["wall_s"]
            out[label]["per_second_after_start"] = len(chosen) / spent if spent > 0 else None
        if done_cli.returncode != 0 or ok != len(chosen):
            bench.errors.append(
                f"ledger verify {' '.join(extra)}: exit {done_cli.returncode}, "
                f"{ok}/{len(chosen)} ok; {done_cli.stderr.strip()[-300:]}"
            )
    bench.results["verify"] = out
    _log(
        "  offline: {:,.0f}/s in 1 process, {:,.0f}/s in {} processes; with round trips "
        "{:,.0f}/s; ledger verify on {:,} files: {:,.0f}/s (--jobs 1), {:,.0f}/s (default)".format(
            out["offline_1_process"]["per_second"],
            out["offline_processes"]["per_second"],
            procs,
            out["with_round_trips"]["per_second"],
            len(files),
            out["cli_1_job"]["per_second"],
            out["cli_default_jobs"]["per_second"],
        )
    )


# ---------------------------------------------------------------------------------------
# 5a. The naive design: one transaction per record


def _fresh_chain(bench: Bench) -> Any:
    """A Chain on the bench's anvil with a new funded account (not the service's)."""
    from eth_account import Account
    from web3.types import RPCEndpoint

    from ledger.chain.client import Chain

    chain = Chain.connect(bench.anvil_url, Account.create())
    chain.w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [chain.address, hex(10**24)])
    return chain


def _deploy_anchor(chain: Any) -> Any:
    contract, _ = chain.deploy("LogAnchor", chain.address)
    role = contract.functions.ANCHORER_ROLE().call()
    chain.transact(contract.functions.grantRole(role, chain.address))
    return contract


def _send_anchors(
    chain: Any, contract: Any, anchors: Sequence[tuple[int, bytes, list[bytes]]]
) -> tuple[list[int], float]:
    """Build, sign and send ``anchor(size, root, proof)`` transactions back to back (one
    nonce after the other, no waiting between them), then wait for all: (gas used, wall)."""
    w3 = chain.w3
    gas_price = int(w3.eth.gas_price)
    nonce = int(w3.eth.get_transaction_count(chain.address, "pending"))
    chain_id = chain.chain_id
    t0 = time.perf_counter()
    hashes = []
    for k, (size, root, proof) in enumerate(anchors):
        tx = contract.functions.anchor(size, root, proof).build_transaction(
            {
                "from": chain.address,
                "nonce": nonce + k,
                "chainId": chain_id,
                "gas": 500_000,
                "gasPrice": gas_price,
            }
        )
        signed = chain.account.sign_transaction(tx)
        hashes.append(w3.eth.send_raw_transaction(signed.raw_transaction))
    receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=120) for h in hashes]
    wall = time.perf_counter() - t0
    if any(r["status"] != 1 for r in receipts):
        raise RuntimeError("an anchor transaction reverted")
    return [int(r["gasUsed"]) for r in receipts], wall


def _leaf_hashes(bench: Bench, count: int) -> list[bytes]:
    from ledger.log.integrator import read_leaf_hashes

    engine = bench.engine()
    out: list[bytes] = []
    try:
        with engine.connect() as conn:
            for start in range(0, count, 100_000):
                out.extend(read_leaf_hashes(conn, start, min(count, start + 100_000)))
    finally:
        engine.dispose()
    return out


def phase_naive(bench: Bench) -> None:
    from ledger.log.counters import read_counter
    from ledger.merkle import InMemoryTree
    from ledger.store.models import INTEGRATED_SIZE

    args = bench.args
    engine = bench.engine()
    with engine.connect() as conn:
        size = read_counter(conn, INTEGRATED_SIZE)
    engine.dispose()
    naive_n = 200 if args.quick else 1000
    per_checkpoint = 10**5
    _log(
        f"== 5a. baseline: one anchor transaction per record ({naive_n:,} records), and "
        f"checkpoints of {per_checkpoint:,} records, on LogAnchors of their own"
    )
    hashes = _leaf_hashes(bench, size)
    tree = InMemoryTree(hashes)
    chain = _fresh_chain(bench)
    out: dict[str, Any] = {"log_size": size}

    # The naive design: every record anchored in its own transaction, as it arrives.
    naive = _deploy_anchor(chain)
    anchors = [
        (n, tree.root(n), tree.consistency_proof(n - 1, n) if n > 1 else [])
        for n in range(1, naive_n + 1)
    ]
    gas, wall = _send_anchors(chain, naive, anchors)
    block_gas = int(chain.w3.eth.get_block("latest")["gasLimit"])
    per_record = statistics.fmean(gas[1:])
    out["naive"] = {
        "records": naive_n,
        "wall_s": wall,
        "records_per_second": naive_n / wall,
        "gas_per_record_mean": per_record,
        "gas_first": gas[0],
        "block_gas_limit": block_gas,
        # What a chain could carry of it at all: full blocks of such transactions.
        "records_per_block": block_gas // per_record,
    }
    # Ours: one anchor per checkpoint of `per_checkpoint` records, over the same log (the
    # first checkpoint smaller when the log holds fewer than two of them).
    points = list(range(size % per_checkpoint or per_checkpoint, size + 1, per_checkpoint))
    if len(points) < 2:
        points = [max(1, min(1000, size // 100)), size]
    ours = _deploy_anchor(chain)
    anchors = [
        (n, tree.root(n), tree.consistency_proof(points[k - 1], n) if k else [])
        for k, n in enumerate(points)
    ]
    gas, wall = _send_anchors(chain, ours, anchors)
    covered = [b - a for a, b in itertools.pairwise(points)]
    per_record_ours = [g / c for g, c in zip(gas[1:], covered, strict=True)]
    out["checkpoints"] = {
        "records_per_checkpoint": statistics.median(covered),
        "anchors": len(gas),
        "sizes": points,
        "gas": gas,
        "gas_per_record_mean": statistics.fmean(per_record_ours),
        "gas_per_record_max": max(per_record_ours),
    }
    out["service_anchors"] = _service_anchor_gas(bench, chain)
    bench.results["naive"] = out
    n, c = out["naive"], out["checkpoints"]
    _log(
        f"  naive: {n['records_per_second']:,.0f} records/s, {n['gas_per_record_mean']:,.0f} gas "
        f"per record; checkpoints of {c['records_per_checkpoint']:,}: "
        f"{c['gas_per_record_mean']:.3f} gas per record (max {c['gas_per_record_max']:.3f})"
    )


def _service_anchor_gas(bench: Bench, chain: Any) -> list[dict[str, Any]]:
    """The service's own anchors in this run: records covered and gas."""
    from sqlalchemy import select

    from ledger.store.models import chain_anchors

    engine = bench.engine()
    with engine.connect() as conn:
        rows = conn.execute(
            select(chain_anchors.c.tree_size, chain_anchors.c.tx_hash)
            .where(chain_anchors.c.status == "final")
            .order_by(chain_anchors.c.tree_size)
        ).all()
    engine.dispose()
    out = []
    previous = 0
    for size, tx_hash in rows:
        gas = int(chain.w3.eth.get_transaction_receipt(tx_hash)["gasUsed"])
        records = int(size) - previous
        out.append({"tree_size": int(size), "records": records, "gas": gas,
                    "gas_per_record": gas / records})  # fmt: skip
        previous = int(size)
    return out


# ---------------------------------------------------------------------------------------
# 5b. pymerkle for the tree work (scripts/bench_log.py's workers)


def phase_pymerkle(bench: Bench) -> None:
    import bench_log as bl

    args = bench.args
    size = 10**4 if args.quick else 10**5
    proofs = 10**3 if args.quick else 10**4
    backends = ["memory"] if args.quick else ["memory", "sqlite"]
    work = bench.workdir / "bench_log"
    work.mkdir(exist_ok=True)
    src = work / "src"
    shutil.copytree(ROOT / "ledger", src / "ledger", ignore=shutil.ignore_patterns("__pycache__"))
    leaves = work / "leaves.bin"
    _log(f"== 5b. baseline: pymerkle, {size:,} leaves, {proofs:,} proofs ({', '.join(backends)})")
    bl.write_leaves(leaves, size, args.seed)
    bl.check_canonical(leaves)
    agreement = bl.check_pymerkle_agrees(leaves)
    roots = bl.expected_roots(leaves, [size])
    results: dict[tuple[str, str, int], dict[str, Any]] = {}
    for library in ("ours", "pymerkle"):
        for backend in backends:
            remaining = bench.time_left() - 20
            if remaining < 30:
                bench.errors.append(f"pymerkle phase: {library}/{backend} not run (time limit)")
                continue
            job = bl.Job(
                library=library, backend=backend, size=size, proofs=proofs, seed=args.seed,
                batch=10_000, leaves_path=str(leaves), src=str(src), expected_root=roots[size],
                phase_budget=5.0 if args.quick else 12.0, repeat=1 if args.quick else 2,
                workdir=str(work),
            )  # fmt: skip
            results[(library, backend, size)] = bl.run_job(job, timeout=remaining)
    errors = [r["error"] for r in results.values() if "error" in r]
    bench.errors.extend(f"pymerkle phase: {e}" for e in errors)
    rows = bl.build_rows(size, backends, results, {})
    bench.results["pymerkle"] = {
        "size": size,
        "proofs": proofs,
        "agreement": agreement,
        "rows": [
            {
                "row": r.name,
                "ours": r.ours,
                "pymerkle": r.theirs,
                "unit": r.unit,
                "ratio": r.ratio,
                "note": r.note,
            }
            for r in rows
        ],
        "table": bl.render_table([(f"{size:,} leaves, {proofs:,} proofs of each kind", rows)]),
    }


# ---------------------------------------------------------------------------------------
# 6. Profile of the ingest path


def profile_worker(spec: dict[str, Any]) -> int:
    """The app in this process (``ledger serve`` as one worker would run it), profiled while
    clients post records.

    ``threads`` (the default): cProfile in every thread, each timed by its own CPU time
    (``time.thread_time``), merged: where the CPU goes under real concurrency (FastAPI runs
    sync endpoints and dependencies in a thread pool, group commit batches the writes).
    ``inline``: pyinstrument on the event loop's thread with the thread pool inlined, so
    one profile holds a request's whole call tree (requests then run one at a time, and
    group commit has nothing to batch).
    """
    import cProfile
    import pstats

    import uvicorn

    inline = spec["mode"] == "inline"
    if inline:
        import fastapi.dependencies.utils
        import fastapi.routing

        async def run_here(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        fastapi.routing.run_in_threadpool = run_here  # type: ignore[assignment]
        fastapi.dependencies.utils.run_in_threadpool = run_here  # type: ignore[assignment]

    from api.main import create_app
    from ledger.chain.session import open_chain
    from ledger.config import Settings

    settings = Settings.from_env()
    # The chain for the EIP-712 domains only: the service measured alongside keeps signing
    # and anchoring (two anchorers on one account would race for nonces).
    app = create_app(
        settings,
        checkpoint_in_background=False,
        chain=lambda ledger: open_chain(settings, ledger.engine, ledger.signer.verifier()),
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=spec["port"], log_level="warning")
    )
    profiles: dict[int, tuple[str, cProfile.Profile]] = {}
    lock = threading.Lock()

    def start_in_thread(*_: Any) -> None:
        sys.setprofile(None)
        profile = cProfile.Profile(time.thread_time)
        with lock:
            profiles[threading.get_ident()] = (threading.current_thread().name, profile)
        profile.enable()

    def stop_in_thread(barrier: threading.Barrier | None) -> None:
        # A profiler must be stopped in its own thread: stopped from another, the frames
        # still open in its thread (the idle worker's wait) are closed with the other
        # thread's clock.
        found = profiles.get(threading.get_ident())
        if found is not None:
            found[1].disable()
        if barrier is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)

    async def stop_all() -> None:
        import anyio.to_thread

        threading.setprofile(None)  # type: ignore[arg-type]
        workers = len(profiles) - 1
        if workers > 0:
            # One call per worker thread, all held until every one has started, so that each
            # lands in a thread of its own.
            barrier = threading.Barrier(workers)
            async with anyio.create_task_group() as group:
                for _ in range(workers):
                    group.start_soon(anyio.to_thread.run_sync, stop_in_thread, barrier)
        stop_in_thread(None)

    sampler: Any = None

    async def run() -> None:
        nonlocal sampler
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.05)
        if inline:
            from pyinstrument import Profiler

            sampler = Profiler(interval=0.0005, async_mode="disabled")
            sampler.start()
        else:
            threading.setprofile(start_in_thread)
            start_in_thread()  # this thread: the event loop
        Path(spec["ready"]).write_text("ready")
        while not Path(spec["stop"]).exists():
            await asyncio.sleep(0.1)
        if inline:
            sampler.stop()
        else:
            await stop_all()
        server.should_exit = True
        await task

    asyncio.run(run())
    if inline:
        Path(spec["text"]).write_text(
            sampler.output_text(unicode=True, color=False, show_all=False, timeline=False)
        )
        Path(spec["json"]).write_text(json.dumps({"mode": "inline"}))
        return 0
    per_thread: dict[str, float] = {}
    merged: pstats.Stats | None = None
    for name, profile in profiles.values():
        stats = pstats.Stats(profile)
        kind = "event loop" if name == "MainThread" else name.rstrip("0123456789_- ")
        per_thread[kind] = per_thread.get(kind, 0.0) + stats.total_tt  # type: ignore[attr-defined]
        if merged is None:
            merged = stats
        else:
            merged.add(stats)
    assert merged is not None
    merged.dump_stats(spec["pstats"])
    with open(spec["text"], "w") as out:
        pstats.Stats(spec["pstats"], stream=out).sort_stats("cumulative").print_stats(60)
    Path(spec["json"]).write_text(
        json.dumps({"mode": "threads", **_cprofile_costs(merged, per_thread)})
    )
    return 0


def _short(file: str, func: str) -> str:
    for marker in ("site-packages/", "/main/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{file}:{func}"


def _cprofile_costs(stats: Any, per_thread: dict[str, float]) -> dict[str, Any]:
    """Total CPU per kind of thread, the CPU under chosen functions, and the top functions
    by their own time."""
    own: dict[str, float] = {}
    under: dict[str, float] = {}
    calls: dict[str, int] = {}
    for (file, _line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        name = _short(file, func)
        own[name] = own.get(name, 0.0) + tt
        under[name] = max(under.get(name, 0.0), ct)
        calls[name] = calls.get(name, 0) + nc
    return {
        "threads": per_thread,
        "total_s": sum(per_thread.values()),
        "under": {key: under[key] for key, _ in _PROFILE_POINTS if key in under},
        "calls": {key: calls[key] for key, _ in _PROFILE_POINTS if key in calls},
        "self": sorted(own.items(), key=lambda kv: -kv[1])[:25],
    }


def phase_profile(bench: Bench) -> None:
    args = bench.args
    count = 500 if args.quick else 3000
    port = free_port()
    names = ("ready", "stop", "text", "json", "pstats")
    files = {k: str(bench.workdir / f"profile.{k}") for k in names}
    spec = json.dumps({"port": port, "mode": args.profiler, **files})
    _log(
        f"== 6. profile: {count:,} single records, {args.clients} clients, the app in one "
        f"process under {'pyinstrument (inline)' if args.profiler == 'inline' else 'cProfile'}"
    )
    log = open(bench.workdir / "profile.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--profile-worker", spec],
        env=bench.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not Path(files["ready"]).exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the profiling worker did not start; see profile.log")
            time.sleep(0.1)
        rng = random.Random(args.seed + 7)
        bodies = [
            json.dumps(make_record(rng, i), ensure_ascii=False).encode() for i in range(count)
        ]
        target = ServiceProcess({}, port, 1, bench.workdir / "unused.log")
        profiled = Bench(args, bench.workdir, bench.db_url, bench.anvil_url, target, {})
        profiled.clerk_keys = bench.clerk_keys
        stop_at = time.perf_counter() + max(5.0, min(args.phase_limit, bench.time_left() - 20))
        load = asyncio.run(
            _post_load(profiled, "/v1/records", bodies, args.clients, lambda c, t: None, stop_at)
        )
        Path(files["stop"]).write_text("stop")
        proc.wait(120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    done = len(load["latencies"])
    costs = json.loads(Path(files["json"]).read_text())
    text = Path(files["text"]).read_text()
    bench.results["profile"] = {
        "requests": done,
        "per_second_profiled": done / load["wall_s"],
        "text": text,
        **costs,
    }
    if costs["mode"] == "threads":
        _log(
            f"  {done} requests, {costs['total_s']:.1f} s of CPU profiled "
            f"({costs['total_s'] / max(done, 1) * 1e3:.2f} ms a request, profiler overhead "
            "included)"
        )


# ---------------------------------------------------------------------------------------
# The report


@dataclass
class Row:
    name: str
    ours: float | None
    unit: str  # "/s", "ms", "s", "gas", "n"
    target: str = ""
    met: bool | None = None
    baseline: float | None = None
    ratio: float | None = None  # ours / baseline, oriented so that > 1 is better for us
    note: str = ""


def _fmt(value: float | None, unit: str) -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "s":
        return f"{value:,.2f} s"
    if unit == "gas":
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,.0f}"


def build_rows(results: dict[str, Any]) -> list[tuple[str, list[Row]]]:
    sections: list[tuple[str, list[Row]]] = []
    naive = results.get("naive", {})
    naive_rate = (naive.get("naive") or {}).get("records_per_second")
    naive_gas = (naive.get("naive") or {}).get("gas_per_record_mean")

    def vs_naive(rate: float | None) -> tuple[float | None, float | None]:
        if rate is None or not naive_rate:
            return None, None
        return naive_rate, rate / naive_rate

    if "ingest" in results:
        r = results["ingest"]
        lat = r["latency_ms"]
        errors = sum(r["errors"].values())
        base, ratio = vs_naive(r["per_second"])
        rows = [
            Row(f"single records, {r['clients']} clients: records/s", r["per_second"], "/s",
                f"≥ {TARGET_INGEST:,.0f}/s; ≥ {TARGET_NAIVE_RATIO:.0f}× naive",
                r["per_second"] >= TARGET_INGEST
                and (ratio is None or ratio >= TARGET_NAIVE_RATIO),
                base, ratio, "baseline: one anchor transaction per record; connections per "
                f"worker {'/'.join(map(str, r.get('connections_per_worker') or [])) or '?'}"),
            Row("  latency p50", lat["p50"], "ms"),
            Row("  latency p95", lat["p95"], "ms"),
            Row("  latency p99", lat["p99"], "ms", f"≤ {TARGET_INGEST_P99_MS:.0f} ms",
                lat["p99"] <= TARGET_INGEST_P99_MS),
            Row("  errors", errors, "n", "0", errors == 0),
            Row("  acknowledged and found in the database", r["found_in_database"], "n",
                f"all {r['acknowledged']:,}", r["found_in_database"] == r["acknowledged"]),
        ]  # fmt: skip
        if "bulk" in results:
            b = results["bulk"]
            base, ratio = vs_naive(b["per_second"])
            rows.append(
                Row(f"bulk, batches of {b['batch_size']:,}, {b['clients']} clients: records/s",
                    b["per_second"], "/s", f"≥ {TARGET_BULK:,.0f}/s",
                    b["per_second"] >= TARGET_BULK and sum(b["errors"].values()) == 0,
                    base, ratio)
            )  # fmt: skip
        sections.append(("1. Ingest (POST /v1/records, /v1/records/batch)", rows))
    if "provable" in results:
        p = results["provable"]
        limit = p["anchor_interval_s"] + TARGET_PROVABLE_SLACK
        sections.append(
            (
                f"2. Time to provable (anchoring interval {p['anchor_interval_s']:g} s, "
                f"{p['samples']} samples under the ingest load)",
                [
                    Row("ack → receipt 200, p50", p["p50_s"], "s"),
                    Row(
                        "ack → receipt 200, p99",
                        p["p99_s"],
                        "s",
                        f"≤ {limit:g} s",
                        p["p99_s"] <= limit,
                    ),
                    Row(
                        "ack → receipt 200, max",
                        p["max_s"],
                        "s",
                        f"≤ {limit:g} s",
                        p["max_s"] <= limit and p["not_provable_in_time"] == 0,
                    ),
                    Row(
                        "receipts verified (steps 0-4, anvil)",
                        p["verified_ok"],
                        "n",
                        f"all {p['verified']}",
                        p["verified_ok"] == p["verified"],
                    ),
                ],
            )
        )
    if "proofs" in results:
        q = results["proofs"]
        rows = []
        for key, label, target in (
            ("receipts", "receipts served", TARGET_RECEIPTS_SERVED),
            ("inclusion_proofs", "inclusion proofs served", None),
        ):
            for phase in ("first_pass", "warm"):
                r = q.get(f"{key}_{phase}")
                if not r:
                    continue
                ok = None if target is None else r["per_second"] >= target and not r["errors"]
                rows.append(
                    Row(f"{label}/s ({phase.replace('_', ' ')}), {q['clients']} clients",
                        r["per_second"], "/s", f"≥ {target:,.0f}/s" if target else "", ok,
                        note=f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms")
                )  # fmt: skip
        sections.append((f"3. Proof serving (log of {q['log_size']:,} entries)", rows))
    if "verify" in results:
        v = results["verify"]
        procs = v["offline_processes"]["processes"]
        target = f"≥ {TARGET_RECEIPTS_VERIFIED:,.0f}/s"
        sections.append(
            (
                f"4. Receipts verified ({v['receipts']:,} receipts, {v['checkpoints']} "
                "checkpoints)",
                [
                    Row(
                        "verify_receipt, no round trips, 1 process",
                        v["offline_1_process"]["per_second"],
                        "/s",
                    ),
                    Row(
                        f"verify_receipt, no round trips, {procs} processes",
                        v["offline_processes"]["per_second"],
                        "/s",
                        target,
                        v["offline_processes"]["per_second"] >= TARGET_RECEIPTS_VERIFIED,
                    ),
                    Row(
                        "verify_receipt, fresh chain lookup per receipt",
                        v["with_round_trips"]["per_second"],
                        "/s",
                        note="eth_chainId + eth_getCode + rootAt per receipt",
                    ),
                    Row(
                        f"`ledger verify --jobs 1`, {v['cli_1_job']['done']:,} files",
                        v["cli_1_job"]["per_second"],
                        "/s",
                        note=f"{_fmt(v['cli_1_job'].get('per_second_after_start'), '/s')} "
                        f"after its start-up ({v['cli_start']['wall_s']:.1f} s for one file)",
                    ),
                    Row(
                        f"`ledger verify` ({procs} jobs), {v['cli_default_jobs']['done']:,} files",
                        v["cli_default_jobs"]["per_second"],
                        "/s",
                        note=f"{_fmt(v['cli_default_jobs'].get('per_second_after_start'), '/s')} "
                        "after its start-up",
                    ),
                ],
            )
        )
    if naive:
        c = naive["checkpoints"]
        ours_gas = c["gas_per_record_mean"]
        ratio = naive_gas / ours_gas if naive_gas and ours_gas else None
        nv = naive["naive"]
        rows = [
            Row(
                "naive: records/s (one anchor tx per record, sent back to back)",
                naive_rate,
                "/s",
                note=f"on anvil (automine); a chain carries {nv['records_per_block']:,.0f} "
                f"such transactions per {nv['block_gas_limit'] / 1e6:.0f}M-gas block",
            ),
            Row("naive: gas per record", naive_gas, "gas"),
            Row(f"ours: gas per record, {c['records_per_checkpoint']:,.0f} records per checkpoint",
                ours_gas, "gas",
                f"< {TARGET_GAS_PER_RECORD:g}; ≥ {TARGET_NAIVE_RATIO:.0f}× less than naive",
                ours_gas < TARGET_GAS_PER_RECORD
                and (ratio is None or ratio >= TARGET_NAIVE_RATIO),
                naive_gas, ratio, f"max {c['gas_per_record_max']:.3f}"),
        ]  # fmt: skip
        service = naive.get("service_anchors") or []
        if service:
            during = [a for a in service if a["records"] < 10**5]
            if during:
                med = statistics.median(a["gas_per_record"] for a in during)
                recs = statistics.median(a["records"] for a in during)
                rows.append(
                    Row("the service's own anchors in this run: gas per record (median)", med,
                        "gas", note=f"{len(during)} anchors, median {recs:,.0f} records each")
                )  # fmt: skip
            big = max(service, key=lambda a: a["records"])
            rows.append(
                Row(f"the service's anchor of {big['records']:,} records: gas per record",
                    big["gas_per_record"], "gas", note=f"{big['gas']:,} gas")
            )  # fmt: skip
        sections.append(("5a. Baseline: anchoring each record in its own transaction", rows))
    return sections


def render(sections: list[tuple[str, list[Row]]], markdown: bool = False) -> str:
    header = ("row", "ours", "baseline", "ratio", "target", "met?", "note")
    lines: list[tuple[str, ...] | str] = []
    for title, rows in sections:
        lines.append(title)
        for r in rows:
            met = "" if r.met is None else ("yes" if r.met else "NO")
            ratio = "" if r.ratio is None else f"{r.ratio:,.1f}×"
            lines.append(
                (r.name, _fmt(r.ours, r.unit),
                 _fmt(r.baseline, r.unit) if r.baseline is not None else "",
                 ratio, r.target, met, r.note)
            )  # fmt: skip
    if markdown:
        out = ["| " + " | ".join(header) + " |", "| --- | ---: | ---: | ---: | --- | --- | --- |"]
        for x in lines:
            if isinstance(x, str):
                out.append(f"| **{x}** | | | | | | |")
            else:
                out.append("| " + " | ".join(c.replace("|", "\\|") for c in x) + " |")
        return "\n".join(out)
    cells = [header] + [x for x in lines if isinstance(x, tuple)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    out = []
    for x in [header, *lines]:
        if isinstance(x, str):
            out.append(f"-- {x}")
        else:
            out.append(
                "  ".join(
                    c.rjust(widths[i]) if i in (1, 2, 3) else c.ljust(widths[i])
                    for i, c in enumerate(x)
                ).rstrip()
            )
    return "\n".join(out)


def machine_info(pg_url: str) -> dict[str, Any]:
    import platform

    import sqlalchemy
    import uvicorn

    info: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "uvicorn": uvicorn.__version__,
        "sqlalchemy": sqlalchemy.__version__,
    }
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
        with open("/proc/meminfo") as f:
            info["mem_total_gb"] = round(int(f.readline().split()[1]) / 2**20, 1)
    try:
        engine = sqlalchemy.create_engine(pg_url, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers"):
                info[f"pg_{name}"] = conn.execute(sqlalchemy.text(f"SHOW {name}")).scalar_one()
        engine.dispose()
    except Exception as exc:
        info["pg_server_version"] = f"unreachable ({' '.join(str(exc).split())[:200]})"
    try:
        info["anvil"] = subprocess.run(
            [str(_anvil_binary()), "--version"], capture_output=True, text=True, timeout=10,
        ).stdout.strip().splitlines()[0]  # fmt: skip
    except Exception:
        info["anvil"] = "unknown"
    try:
        info["commit"] = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "ledger", "api"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        if dirty:
            info["commit"] += " with uncommitted changes in ledger/ or api/"
    except (OSError, subprocess.CalledProcessError):
        info["commit"] = "unknown"
    return info


def _anvil_binary() -> Path:
    from ledger.chain.node import anvil_binary

    return anvil_binary()


def report(payload: dict[str, Any]) -> list[tuple[str, list[Row]]]:
    """Print the report of a run; returns its table."""
    info, args, results = payload["machine"], payload["args"], payload["results"]
    sections = build_rows(results)
    print()
    print("civic-ledger end-to-end benchmark")
    print(
        f"machine: {info['nproc']} CPUs ({info.get('cpu', '?')}), "
        f"{info.get('mem_total_gb', '?')} GB RAM; {info['platform']}; Python {info['python']}; "
        f"PostgreSQL {info.get('pg_server_version')} (fsync={info.get('pg_fsync')}, "
        f"synchronous_commit={info.get('pg_synchronous_commit')}, shared_buffers="
        f"{info.get('pg_shared_buffers')}); {info.get('anvil')}; uvicorn {info['uvicorn']}"
    )
    print(f"code: commit {info.get('commit')}; run {payload['started']} UTC")
    print(
        f"service: `ledger serve --workers {args['workers']}`, LEDGER_ANCHOR_INTERVAL="
        f"{args['anchor_interval']} s, embedded anvil (final when mined); 1-min load average "
        f"{payload['loadavg'][0]:.2f} at start, {payload['loadavg'][1]:.2f} at the end "
        f"({info['nproc']} CPUs: the load generator shares them with the service and "
        "PostgreSQL, and so does anything else running)"
    )
    if "ingest" in results:
        r = results["ingest"]
        print(
            f"records: {r['mean_request_bytes']:.0f} bytes of JSON on average (Chinese text), "
            f"{r['personal_share']:.0%} with a personal part"
        )
    print()
    print(render(sections))
    if "pymerkle" in results:
        pm = results["pymerkle"]
        print()
        print("-- 5b. Baseline: pymerkle for the tree work (scripts/bench_log.py workers)")
        print(pm["agreement"])
        print(pm["table"])
    if "profile" in results:
        pr = results["profile"]
        print()
        if pr["mode"] == "inline":
            print("-- 6. Profile of POST /v1/records (pyinstrument, requests one at a time)")
            print(pr["text"])
        else:
            total = pr["total_s"]
            print(
                f"-- 6. Profile of POST /v1/records: {pr['requests']:,} requests, "
                f"{args['clients']} clients, one process, cProfile in every thread "
                f"(thread CPU time; {total:.1f} s in all, profiler overhead included: "
                "read the shares, not the seconds)"
            )
            print("   CPU by thread: " + ", ".join(
                f"{name} {t / total:.0%}" for name, t in sorted(
                    pr["threads"].items(), key=lambda kv: -kv[1])
            ))  # fmt: skip
            print("   CPU under (inclusive, share of all the CPU; calls):")
            for key, label in _PROFILE_POINTS:
                if key in pr["under"]:
                    print(
                        f"   {pr['under'][key] / total:6.1%}  {label}  "
                        f"({pr['calls'].get(key, 0):,} calls)"
                    )
            print("   own time, top 15:")
            for name, t in pr["self"][:15]:
                print(f"   {t / total:6.1%}  {name}")
    misses = [(t, r) for t, rows in sections for r in rows if r.met is False]
    print()
    print(f"targets missed: {len(misses)}")
    for title, r in misses:
        print(f"  {title.split(' (')[0]}: {r.name.strip()}: {_fmt(r.ours, r.unit)} ({r.target})")
    for e in payload.get("errors", []):
        print(f"error: {e}")
    print(f"total wall time: {payload['wall_s']:.0f} s")
    return sections


# Functions whose inclusive time says where a request's time goes.
_PROFILE_POINTS = (
    ("uvicorn/protocols/http/h11_impl.py:data_received", "HTTP in (h11 parsing)"),
    ("uvicorn/protocols/http/h11_impl.py:send", "HTTP out (h11)"),
    ("uvicorn/protocols/http/h11_impl.py:run_asgi", "the ASGI app on the event loop"),
    ("fastapi/dependencies/utils.py:request_body_to_args", "request body validation"),
    ("fastapi/routing.py:serialize_response", "response model"),
    ("anyio/_backends/_asyncio.py:run_sync_in_worker_thread", "handing work to the thread pool"),
    ("api/deps.py:dependency", "authentication (dependency, in the pool)"),
    ("ledger/units/service.py:authenticate", "  authenticate (its query)"),
    ("api/routers/records.py:create_record", "the endpoint (in the pool)"),
    ("ledger/records.py:prepare", "  checks, entry JCS, sealing (records.prepare)"),
    ("ledger/journal.py:write", "  group commit (GroupCommit.write)"),
    ("ledger/journal.py:_lead", "    leading a group: the shared transaction"),
    ("ledger/journal.py:write_batches", "      its statements (write_batches)"),
    ("ledger/log/sequencer.py:sequence", "        sequencing (lock, insert, counter)"),
    ("sqlalchemy/engine/base.py:commit", "      commit"),
)


# ---------------------------------------------------------------------------------------
# Orchestration

PHASES = ("ingest", "bulk", "proofs", "verify", "naive", "pymerkle", "profile")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LEDGER_BENCH_DATABASE_URL") or DEFAULT_PG_URL,
        help="server to create the throwaway database on "
        f"(default $LEDGER_BENCH_DATABASE_URL or {DEFAULT_PG_URL})",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent ingest clients (32)")
    parser.add_argument("--records", type=int, help="single records to post (20000; quick 1500)")
    parser.add_argument(
        "--provable-samples", type=int, default=500, help="time-to-provable samples"
    )
    parser.add_argument("--bulk-batches", type=int, help="batches of 1000 (100; quick 5)")
    parser.add_argument("--bulk-clients", type=int, default=4, help="concurrent bulk clients (4)")
    parser.add_argument(
        "--log-size", type=int, help="log size for proof serving (10^6; quick 10^5)"
    )
    parser.add_argument(
        "--proof-clients", type=int, default=16, help="concurrent receipt/proof clients (16)"
    )
    parser.add_argument("--anchor-interval", type=float, default=5.0, help="LEDGER_ANCHOR_INTERVAL")
    parser.add_argument("--workers", type=int, default=2, help="ledger serve --workers (2)")
    parser.add_argument("--phases", default=",".join(PHASES), help="phases to run (default all)")
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--time-limit", type=float, help="hard limit, s (600; quick 150)")
    parser.add_argument("--phase-limit", type=float, help="most seconds of load per phase")
    parser.add_argument("--json", type=Path, help="write every measurement to this file")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--profiler",
        choices=("threads", "inline"),
        default="threads",
        help="phase 6: cProfile in every thread under concurrency (threads), or pyinstrument "
        "with requests run one at a time on the event loop (inline)",
    )
    parser.add_argument("--profile-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile_worker:
        return profile_worker(json.loads(args.profile_worker))
    q = args.quick
    args.records = args.records or (1_500 if q else 20_000)
    args.bulk_batches = args.bulk_batches or (5 if q else 100)
    args.log_size = args.log_size or (10**5 if q else 10**6)
    args.time_limit = args.time_limit or (150.0 if q else 600.0)
    args.phase_limit = args.phase_limit or (10.0 if q else 60.0)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # The hard limit: phases plan within --time-limit; past it (and a minute's grace for
    # a phase that overruns), everything is stopped and cleaned up, and the run fails.
    signal.signal(signal.SIGALRM, _raise_interrupt)
    signal.alarm(int(args.time_limit) + 60)
    started = time.monotonic()
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    load0 = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="bench_e2e_"))
    pg_url = _normalize_pg_url(args.postgres_url)
    info = machine_info(pg_url)
    from ledger.chain.node import Anvil

    bench: Bench | None = None
    try:
        with throwaway_database(pg_url) as db_url, Anvil(log_file=workdir / "anvil.log") as anvil:
            env = {
                **os.environ,
                "LEDGER_DATA_DIR": str(workdir / "data"),
                "LEDGER_DATABASE_URL": db_url,
                "LEDGER_ANVIL_PORT": str(anvil.port),
                "LEDGER_ANCHOR_INTERVAL": str(args.anchor_interval),
                "LEDGER_ENV": "development",
            }
            for name in ("LEDGER_CHAIN_URL", "LEDGER_MASTER_KEY", "LEDGER_LOG_KEY_FILE"):
                env.pop(name, None)
            service = ServiceProcess(env, free_port(), args.workers, workdir / "service.log")
            bench = Bench(args, workdir, db_url, anvil.url, service, env)
            bench.deadline = started + args.time_limit
            try:
                set_up(bench)
                for name in phases:
                    if bench.time_left() < 15:
                        bench.errors.append(f"phase {name} not run: time limit reached")
                        continue
                    try:
                        globals()[f"phase_{name}"](bench)
                    except Exception as exc:
                        import traceback

                        traceback.print_exc()
                        bench.errors.append(f"phase {name} failed: {type(exc).__name__}: {exc}")
            finally:
                service.stop()
    finally:
        if args.keep:
            _log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    assert bench is not None
    payload = {
        "args": {k: v for k, v in vars(args).items() if k != "profile_worker"},
        "machine": info,
        "started": started_at,
        "loadavg": [load0, os.getloadavg()[0]],
        "wall_s": time.monotonic() - started,
        "results": bench.results,
        "errors": bench.errors,
    }
    sections = report(payload)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(render(sections, markdown=True) + "\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 1 if bench.errors else 0


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _use_project_venv() -> None:
    """Started by a Python without the project's packages: run again with .venv's, once."""
    try:
        import sqlalchemy  # noqa: F401
    except ImportError:
        venv_python = ROOT / ".venv" / "bin" / "python"
        if venv_python.exists() and not os.environ.get("BENCH_E2E_REEXEC"):
            os.environ["BENCH_E2E_REEXEC"] = "1"
            os.execv(venv_python, [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
        raise SystemExit(
            "bench_e2e.py needs the project's packages: run it with the project's virtualenv, "
            "e.g. .venv/bin/python scripts/bench_e2e.py"
        ) from None


if __name__ == "__main__":
    _use_project_venv()
    sys.exit(main())
