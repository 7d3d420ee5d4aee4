"""``ledger init`` and ``ledger serve``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.process
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from ledger.cli.output import JsonOption, emit, run
from ledger.config import Settings
from ledger.runtime import Ledger


def init(
    chain: Annotated[
        bool,
        typer.Option(
            "--chain/--no-chain",
            help="Deploy the contracts (embedded anvil, or LEDGER_CHAIN_URL) now.",
        ),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Create the schema, the log key, the contracts and the platform administrator.

    The administrator's API key is printed once (and, on the embedded default, written
    to <data dir>/admin-api-key with mode 0600). Running it again changes nothing.
    """
    result = run(as_json, lambda: _run_init(settings=Settings.from_env(), chain=chain))
    emit(result, as_json=as_json, text=_describe_init)


def _describe_init(r: dict[str, Any]) -> str:
    lines = [
        f"database:      {r['database']}",
        f"log origin:    {r['origin']}",
        f"log key:       {r['key_file']}",
        f"verifier key:  {r['verifier_key']}",
        f"tree size:     {r['tree_size']}",
    ]
    for name, address in (r.get("contracts") or {}).items():
        lines.append(f"{name + ':':<15}{address} (chain {r['chain_id']})")
    if r["admin_api_key"]:
        lines.append(f"admin API key: {r['admin_api_key']}  (shown once)")
        if r["admin_key_file"]:
            lines.append(f"               also in {r['admin_key_file']} (mode 0600)")
    else:
        lines.append("admin:         exists already (keys are shown only when made)")
    return "\n".join(lines)


def _run_init(*, settings: Settings, chain: bool) -> dict[str, Any]:
    from ledger.bootstrap import initialise

    ledger = Ledger.open(settings, create=True)
    try:
        done = initialise(ledger)
        result: dict[str, Any] = {
            "database": ledger.engine.url.render_as_string(hide_password=True),
            "origin": settings.log_origin,
            "key_file": str(settings.log_key_file),
            "verifier_key": ledger.signer.verifier().to_verifier_key(),
            "tree_size": ledger.log.size(),
            "admin_api_key": done.admin_key,
            "admin_key_file": str(done.key_file) if done.key_file else None,
            "chain_id": None,
            "contracts": None,
        }
        if chain:
            from ledger.chain.session import open_chain

            with open_chain(settings, ledger.engine, ledger.signer.verifier()) as session:
                result["chain_id"] = session.chain.chain_id
                result["contracts"] = {
                    name: d.address for name, d in session.contracts.deployments.items()
                }
                session.relayer.relay_outbox()
        return result
    finally:
        ledger.close()


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes serving the API (each uses one CPU core at most). With "
            "more than one, this process keeps the chain and does the signing, anchoring "
            "and relaying; the workers only serve requests.",
        ),
    ] = 1,
) -> None:
    """Run the HTTP API, signing a checkpoint every LEDGER_ANCHOR_INTERVAL seconds."""
    import uvicorn

    from api.main import create_app
    from ledger.bootstrap import admin_key_file, initialise

    settings = Settings.from_env()
    ledger = run(False, lambda: Ledger.open(settings, create=True))
    try:
        done = initialise(ledger)
        key_file = admin_key_file(ledger)
    finally:
        ledger.close()
    url = f"http://{host or settings.host}:{port or settings.port}"
    typer.echo(f"civic-ledger on {url} (docs at {url}/docs; data in {settings.data_dir})")
    if done.admin_key and not done.key_file:
        typer.echo(f"platform admin API key (shown once): {done.admin_key}")
    elif key_file.exists():
        typer.echo(f"platform admin API key: in {key_file}")
    # Our loggers (checkpoints signed, anchors sent, refusals) beside uvicorn's.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    host, port = host or settings.host, port or settings.port
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
        return
    if not hasattr(socket, "SO_REUSEPORT"):
        raise typer.BadParameter("--workers above 1 needs SO_REUSEPORT (Linux, BSD, macOS)")
    # Several workers: the chain (the embedded anvil, the contracts) is opened here first,
    # and this process alone checkpoints, anchors and relays, as one worker would; the
    # workers connect to that chain (for the EIP-712 domains) and serve requests.
    with _background_service(settings), _reserved(host, port):
        _supervise(host, port, workers)


def worker_app() -> Any:
    """The app of one ``ledger serve --workers N`` worker: no background work of its own."""
    from api.main import create_app
    from ledger.chain.session import open_chain

    settings = Settings.from_env()
    return create_app(
        settings,
        checkpoint_in_background=False,
        chain=lambda ledger: open_chain(settings, ledger.engine, ledger.signer.verifier()),
    )


# Each worker listens on a socket of its own, bound with SO_REUSEPORT, and the kernel
# spreads the connections over them. (uvicorn's own --workers share one listening socket:
# a worker that wakes up accepts every pending connection at once, and a benchmark's 32
# keep-alive connections ended up 31 on one worker and 1 on the other. Its socket also
# lacks IPPROTO_TCP, so asyncio does not set TCP_NODELAY and every response waits ~40 ms
# for the client's delayed ACK.)


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


@contextlib.contextmanager
def _reserved(host: str, port: int) -> Iterator[None]:
    """Bind the address first (failing early if it is taken) and hold it while serving: a
    socket that never listens gets no connections, but nobody else can take the port."""
    try:
        sock = _listening_socket(host, port)
    except OSError as exc:
        raise typer.BadParameter(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    with sock:
        yield


def _worker_main(host: str, port: int) -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    config = uvicorn.Config(
        "ledger.cli.server:worker_app", factory=True, host=host, port=port, log_level="info"
    )
    uvicorn.Server(config).run(sockets=[_listening_socket(host, port)])


def _supervise(host: str, port: int, workers: int) -> None:
    """Run ``workers`` worker processes until SIGINT or SIGTERM; a worker that dies is
    replaced (one that fails within seconds of starting stops the service instead)."""
    log = logging.getLogger("civic_ledger.serve")
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def start() -> tuple[multiprocessing.process.BaseProcess, float]:
        process = context.Process(target=_worker_main, args=(host, port), daemon=False)
        process.start()
        return process, time.monotonic()

    def stop(_signum: int, _frame: object) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = [start() for _ in range(workers)]
    try:
        while not stopping.wait(0.5):
            for k, (process, started) in enumerate(running):
                if process.is_alive() or stopping.is_set():
                    continue
                if process.exitcode != 0 and time.monotonic() - started < 10:
                    log.error("worker %s failed at start (exit %s)", process.pid, process.exitcode)
                    raise typer.Exit(1)
                log.warning(
                    "worker %s exited (%s); starting another", process.pid, process.exitcode
                )
                running[k] = start()
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        for process, _ in running:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _background_service(settings: Settings) -> Iterator[None]:
    """The app's background work (chain, checkpoints, anchors, relays) in a thread of this
    process, without serving HTTP: its lifespan runs until the block ends."""
    from api.main import create_app

    app = create_app(settings)
    started, stop = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.2)

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to serve below
            failure.append(exc)
        finally:
            started.set()

    thread = threading.Thread(target=target, name="ledger-background", daemon=True)
    thread.start()
    started.wait()
    if failure:
        raise failure[0]
    try:
        yield
    finally:
        stop.set()
        thread.join(60)
