"""``ledger verify RECEIPT... [--rpc URL]``: check receipts with nothing but a chain node.

No database, no settings, no API: each receipt is checked by
:func:`ledger.receipts.verify_receipt` (steps 0–4), the chain step through the
JSON-RPC node at ``--rpc``. Exit 0 when every receipt verifies, 1 when any fails
(each failing receipt is named with its step), 2 on bad usage.
"""

from __future__ import annotations

import os
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
    as_json: JsonOption = False,
) -> None:
    """Verify receipts: entry, inclusion proof, checkpoint signature and the chain's anchor."""
    url = rpc or os.environ.get("LEDGER_CHAIN_URL") or DEFAULT_RPC
    results = run(as_json, lambda: _run_verify(files=receipts, rpc=url, log_key=log_key))
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


def _run_verify(
    *,
    files: list[Path],
    rpc: str,
    log_key: str | None,
    anchored_root: AnchoredRoot | None = None,
) -> list[dict[str, Any]]:
    """Verify each file; ``anchored_root`` defaults to LogAnchor over the node at ``rpc``."""
    lookup = anchored_root

    def chain(chain_id: int, contract: str, tree_size: int) -> bytes | None:
        nonlocal lookup
        if lookup is None:
            # web3 takes seconds to import: only pay for it when a receipt reaches step 4.
            from ledger.chain.lookup import anchored_root_from_rpc

            lookup = anchored_root_from_rpc(rpc)
        return lookup(chain_id, contract, tree_size)

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
