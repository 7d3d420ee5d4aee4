"""Running the real service (``ledger serve``) and the ``ledger`` CLI as subprocesses.

:class:`Service` starts ``python -m ledger.cli serve`` on a data dir with its own ports;
the service starts its embedded anvil (its own process group) and stops it on shutdown.
Everything started is stopped in :meth:`Service.stop`, and :func:`kill_anvil_on` finds
an anvil left listening on our port (by its command line) and kills that process by id,
so a failing test never leaves a node behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class HttpError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def http(
    method: str, url: str, body: Any = None, *, token: str | None = None, timeout: float = 30
) -> tuple[int, Any]:
    """One JSON request; returns (status, decoded body), 4xx/5xx included."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token is not None:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, text


def rpc_answers(port: int) -> bool:
    """Whether a JSON-RPC node answers eth_chainId on 127.0.0.1:``port``."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}",
        data=body.encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def anvil_pids(port: int) -> list[int]:
    """Process ids of anvil nodes started with ``--port <port>`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"anvil") and b"--port" in argv:
            at = argv.index(b"--port")
            if at + 1 < len(argv) and argv[at + 1] == str(port).encode():
                found.append(int(entry.name))
    return found


def kill_anvil_on(port: int) -> list[int]:
    """Kill (by id) every anvil still listening on ``port``; returns their ids."""
    pids = anvil_pids(port)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def cli_env(base: dict[str, str]) -> dict[str, str]:
    """The environment for a ``ledger`` subprocess: ours without LEDGER_*, plus ``base``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return {**env, **base}


def ledger_cli(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        env=cli_env(env),
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Service:
    """``ledger serve`` on ``data_dir``, the API on ``port``, its anvil on ``anvil_port``."""

    data_dir: Path
    port: int
    anvil_port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {
            "LEDGER_DATA_DIR": str(self.data_dir),
            "LEDGER_PORT": str(self.port),
            "LEDGER_ANVIL_PORT": str(self.anvil_port),
            "LEDGER_ANCHOR_INTERVAL": "1",
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rpc(self) -> str:
        return f"http://127.0.0.1:{self.anvil_port}"

    def start(self, timeout: float = 180) -> None:
        assert self.process is None, "already running"
        self.starts += 1
        with open(self.log, "ab") as out:
            out.write(f"\n---- start {self.starts} ----\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ledger.cli", "serve", "--port", str(self.port)],
                env=cli_env(self.env),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"ledger serve exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                status, _ = http("GET", f"{self.url}/readyz", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"ledger serve not ready within {timeout} s:\n{self.tail()}")

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 60) -> int | None:
        """Stop the service (``sig``, then SIGKILL to its group); returns its exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return process.returncode

    def stop_cleanly(self, sig: signal.Signals) -> None:
        """Stop with ``sig`` and check the shutdown ran (uvicorn re-raises the signal after
        a graceful shutdown, so the exit code may be the signal's)."""
        code = self.stop(sig)
        assert code in (0, -sig, 128 + sig), f"exit code {code}:\n{self.tail()}"
        assert self.tail(10).count("Application shutdown complete") >= 1, self.tail()

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def admin_key(self) -> str:
        return (self.data_dir / "admin-api-key").read_text().strip()
