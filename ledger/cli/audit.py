"""``ledger audit [--rpc URL] [--json]``: the database, the log and the chain, each against
the others (:func:`ledger.audit.run_audit`).

Exit 0 when nothing is found (notices allowed), 1 when anything is (each finding names
its code, the record ids and the leaf indices), 2 on bad usage. The chain is ``--rpc``,
else ``LEDGER_CHAIN_URL``, else the embedded anvil (started from its state file for the
audit if the service is not running); ``--no-chain`` checks the database and log only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from ledger.audit import run_audit
from ledger.audit.chain_checks import ChainView
from ledger.audit.findings import ProgressCallback, no_progress
from ledger.cli.output import EXIT_ERROR, JsonOption, emit, run
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.runtime import Ledger


def audit(
    rpc: Annotated[
        str | None,
        typer.Option(
            "--rpc",
            metavar="URL",
            help="The chain node's JSON-RPC URL (default: $LEDGER_CHAIN_URL, else the "
            "embedded anvil).",
            show_default=False,
        ),
    ] = None,
    no_chain: Annotated[
        bool,
        typer.Option("--no-chain", help="Check the database and the log only (no chain)."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Audit DB ↔ log ↔ chain: re-hash every entry, recompute roots, check anchors,
    vetting and grant state, and every access entry. Exit 1 when anything is found."""
    if rpc is not None and no_chain:
        raise typer.BadParameter("--rpc and --no-chain exclude each other")
    settings = Settings.from_env()
    with _progress(enabled=not as_json) as progress:
        result = run(
            as_json,
            lambda: _run_audit(settings=settings, rpc=rpc, no_chain=no_chain, progress=progress),
        )
    emit(result, as_json=as_json, text=_describe)
    if not result["ok"]:
        raise typer.Exit(EXIT_ERROR)


def _run_audit(
    *,
    settings: Settings,
    rpc: str | None,
    no_chain: bool,
    progress: ProgressCallback = no_progress,
) -> dict[str, Any]:
    ledger = Ledger.open(settings, create=False)
    try:
        with contextlib.ExitStack() as stack:
            view: ChainView | None = None
            error = None
            if not no_chain:
                # web3 takes seconds to import: only the chain part pays for it.
                from ledger.chain.reads import open_reads

                try:
                    view = stack.enter_context(open_reads(settings, rpc))
                except LedgerError as exc:
                    error = exc.message
            report = run_audit(
                ledger.engine,
                verifier=ledger.signer.verifier(),
                origin=settings.log_origin,
                master=ledger.master,
                chain=view,
                chain_error=error,
                progress=progress,
            )
    finally:
        ledger.close()
    out = report.to_json()
    out["database"] = ledger.engine.url.render_as_string(hide_password=True)
    return out


@contextlib.contextmanager
def _progress(*, enabled: bool) -> Iterator[ProgressCallback]:
    """Rich progress bars on stderr, when it is a terminal and the output is not JSON."""
    if not enabled:
        yield no_progress
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield no_progress
        return
    with Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bars:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update


def _describe(r: dict[str, Any]) -> str:
    checked = r["checked"]
    chain = r["chain"]
    where = f"chain {chain['chain_id']} at {chain['rpc']}" if chain else "no chain"
    lines = [
        f"audited {r['database']}: {checked.get('leaves', 0)} leaves, "
        f"{checked.get('records', 0)} records, {checked.get('checkpoints', 0)} checkpoints, "
        f"{where} ({r['elapsed_seconds']} s)"
    ]
    for kind, items in (("ERROR", r["findings"]), ("NOTICE", r["notices"])):
        for f in items:
            about = []
            if f["record_ids"]:
                about.append("records " + ", ".join(f["record_ids"][:10]))
            if f["leaf_indices"]:
                about.append("leaves " + ", ".join(map(str, f["leaf_indices"][:10])))
            suffix = f"  [{'; '.join(about)}]" if about else ""
            lines.append(f"{kind} {f['code']}: {f['message']}{suffix}")
    for code, count in r["dropped"].items():
        lines.append(f"... and {count} more {code} findings")
    lines.append(
        "clean: nothing found"
        if r["ok"]
        else f"{len(r['findings'])} findings: the ledger has been tampered with or is damaged"
    )
    return "\n".join(lines)
