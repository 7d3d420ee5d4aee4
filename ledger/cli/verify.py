"""``ledger verify RECEIPT... [--rpc URL]``: check receipts with nothing but a chain node.

No database, no settings, no API: each receipt is checked by
:func:`ledger.receipts.verify_receipt` (steps 0–4), the chain step through the
JSON-RPC node at ``--rpc``. Exit 0 when every receipt verifies, 1 when any fails
(each failing receipt is named with its step), 2 on bad usage.

Many receipts are checked by ``--jobs`` processes (one per CPU by default), each
with its own chain lookup; the roots it finds are cached per tree size, so a
batch of receipts costs one ``rootAt`` call per checkpoint and process.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.checkpoint import parse_verifier_key
from ledger.cli.output import EXIT_ERROR, JsonOption, emit, run
from ledger.errors import LedgerError
from ledger.receipts import AnchoredRoot, Verification, verify_receipt_json

DEFAULT_RPC = "http://127.0.0.1:8545"


def _check_log_key(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_verifier_key(value)
    except LedgerError as exc:
        raise typer.BadParameter(exc.message) from exc
    return value


def verify(
    receipts: Annotated[
        list[Path], typer.Argument(metavar="RECEIPT", help="Receipt files to verify.")
    ],
    rpc: Annotated[
        str | None,
        typer.Option(
            "--rpc",
            metavar="URL",
            help=f"The chain node's JSON-RPC URL (default: $LEDGER_CHAIN_URL, else {DEFAULT_RPC}).",
            show_default=False,
        ),
    ] = None,
    log_key: Annotated[
        str | None,
        typer.Option(
            "--log-key",
            metavar="KEY",
            help="Pin the log's C2SP verifier key; receipts must carry exactly this key.",
            callback=_check_log_key,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            min=1,
            help="Processes checking receipts (default: one per CPU; one for few receipts).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify receipts: entry, inclusion proof, checkpoint signature and the chain's anchor."""
    url = rpc or os.environ.get("LEDGER_CHAIN_URL") or DEFAULT_RPC
    results = run(as_json, lambda: _run_verify(files=receipts, rpc=url, log_key=log_key, jobs=jobs))
    emit(results, as_json=as_json, text=_describe)
    if not all(result["ok"] for result in results):
        raise typer.Exit(EXIT_ERROR)


def _describe(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        if r["ok"]:
            lines.append(
                f"OK  {r['file']}  (leaf {r['leaf_index']} in tree {r['tree_size']}, "
                f"anchored at block {r['block_number']})"
            )
        else:
            step = r["failed_step"]
            lines.append(
                f"FAIL {r['file']}: step {step['step']} ({step['name']}): {step['reason']}"
            )
    return "\n".join(lines)


PARALLEL_MIN = 400
"""Fewer receipts than this are checked in this process: starting workers costs more."""


def _run_verify(
    *,
    files: list[Path],
    rpc: str,
    log_key: str | None,
    anchored_root: AnchoredRoot | None = None,
    jobs: int | None = None,
) -> list[dict[str, Any]]:
    """Verify each file; ``anchored_root`` defaults to LogAnchor over the node at ``rpc``.

    Without an ``anchored_root`` of the caller's, many files are split between ``jobs``
    worker processes (default: one per CPU), in order; the results keep the files' order.
    """
    workers = jobs or _cpus()
    if anchored_root is None and workers > 1 and len(files) >= PARALLEL_MIN:
        return _run_parallel(files, rpc, log_key, workers)
    return _verify_files(files, log_key, anchored_root or _LazyLookup(rpc))


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):  # the CPUs this process may run on (Linux)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _run_parallel(
    files: list[Path], rpc: str, log_key: str | None, workers: int
) -> list[dict[str, Any]]:
    # Chunks of a few hundred files: few round trips between processes, and the work
    # still spreads evenly. Forked workers start at once with what this process imported:
    # web3 (seconds to import) is imported here once rather than in every worker.
    import ledger.chain.lookup  # noqa: F401

    size = max(100, min(1000, len(files) // (workers * 4) + 1))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        parts = pool.map(_verify_chunk, chunks, [rpc] * len(chunks), [log_key] * len(chunks))
        return [result for part in parts for result in part]


def _verify_chunk(files: list[Path], rpc: str, log_key: str | None) -> list[dict[str, Any]]:
    """One worker's share (each worker process keeps one chain lookup for all its chunks)."""
    global _worker_lookup
    if _worker_lookup is None:
        _worker_lookup = _LazyLookup(rpc)
    return _verify_files(files, log_key, _worker_lookup)


class _LazyLookup:
    """LogAnchor over the node at ``rpc``, connected when a receipt first reaches step 4
    (web3 takes seconds to import: only pay for it then)."""

    def __init__(self, rpc: str) -> None:
        self.rpc = rpc
        self.lookup: AnchoredRoot | None = None

    def __call__(self, chain_id: int, contract: str, tree_size: int) -> bytes | None:
        if self.lookup is None:
            from ledger.chain.lookup import anchored_root_from_rpc

            self.lookup = anchored_root_from_rpc(self.rpc)
        return self.lookup(chain_id, contract, tree_size)


_worker_lookup: _LazyLookup | None = None


def _verify_files(
    files: list[Path], log_key: str | None, chain: AnchoredRoot
) -> list[dict[str, Any]]:
    results = []
    for path in files:
        verification = _verify_file(path, chain, log_key)
        results.append({"file": str(path), **verification.to_json()})
    return results


def _verify_file(path: Path, chain: AnchoredRoot, log_key: str | None) -> Verification:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Verification.unparsed(f"cannot read {path}: {exc.strerror or exc}")
    return verify_receipt_json(data, anchored_root=chain, log_key=log_key)
