"""The embedded chain: a local anvil node (npm ``@foundry-rs/anvil-linux-amd64``).

When no ``LEDGER_CHAIN_URL`` is set, the service starts anvil on 127.0.0.1 with
its state kept in a file under the data dir (``--state``: loaded at start,
written at exit and every few seconds), and stops it cleanly on exit, so a
restart finds every earlier anchor. Tests start one the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from ledger.errors import LedgerError

ROOT = Path(__file__).resolve().parents[2]
ANVIL_PACKAGE_BIN = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
DEFAULT_CHAIN_ID = 31337


class ChainNodeError(LedgerError):
    code = "chain_node_error"


def anvil_binary() -> Path:
    """The anvil the npm package installed, else one on PATH."""
    if ANVIL_PACKAGE_BIN.exists():
        return ANVIL_PACKAGE_BIN
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ChainNodeError(
        f"anvil not found at {ANVIL_PACKAGE_BIN} nor on PATH; run scripts/setup (npm install)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Anvil:
    """A running anvil process. Use as a context manager, or call start() and stop()."""

    def __init__(
        self,
        *,
        state_file: Path | None = None,
        port: int | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
        block_time: float | None = None,
        state_interval: int = 2,
        log_file: Path | None = None,
    ) -> None:
        self.state_file = state_file
        self.port = port or free_port()
        self.chain_id = chain_id
        self.block_time = block_time
        self.state_interval = state_interval
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Anvil:
        args = [
            str(anvil_binary()),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
        ]
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            args += ["--state", str(self.state_file), "--state-interval", str(self.state_interval)]
        if self.block_time is not None:
            args += ["--block-time", str(self.block_time)]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            # Its own process group: a Ctrl-C meant for us is not also anvil's.
            self._process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()  # type: ignore[union-attr]
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
        request = urllib.request.Request(
            self.url, data=body.encode(), headers={"content-type": "application/json"}
        )
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise ChainNodeError(f"anvil exited with code {self._process.returncode} at start")
            try:
                with urllib.request.urlopen(request, timeout=1.0) as response:
                    if response.status == 200:
                        return
            except OSError:  # refused, reset or timed out: not up yet
                pass
            time.sleep(0.05)
        self.stop()
        raise ChainNodeError(f"anvil did not answer on {self.url} within {timeout} s")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop anvil; SIGTERM makes it write its state file first."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def kill(self) -> None:
        """Stop anvil abruptly (as a crash would): the state file keeps its last interval dump."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> Anvil:
        return self.start() if self._process is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
