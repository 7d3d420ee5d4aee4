"""``ledger anchor``: integrate, sign and anchor the newest checkpoint (``--watch``: repeat)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from ledger.cli.output import JsonOption, emit, run
from ledger.config import Settings
from ledger.runtime import Ledger


def anchor(
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep anchoring every LEDGER_ANCHOR_INTERVAL seconds.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Integrate, verify and sign the log, then anchor the checkpoint on the chain."""
    settings = Settings.from_env()
    while True:
        result = run(as_json, lambda: _run_anchor(settings=settings))
        emit(
            result,
            as_json=as_json,
            text=_describe,
        )
        if not watch:
            return
        time.sleep(settings.anchor_interval)


def _describe(r: dict[str, Any]) -> str:
    if not r["tree_size"]:
        return "nothing to anchor: the log is empty"
    if r["status"] is None:
        return (
            f"tree size {r['tree_size']} not anchored now: another anchorer leads, "
            f"or the chain is already past it (contract {r['contract']})"
        )
    return (
        f"tree size {r['tree_size']} anchored on chain {r['chain_id']} "
        f"at {r['contract']} in block {r['block_number']} ({r['status']})"
    )


def _run_anchor(*, settings: Settings) -> dict[str, Any]:
    # web3 and eth-account take seconds to import: only the chain commands pay for them.
    from ledger.chain.session import open_chain

    ledger = Ledger.open(settings)
    try:
        signed = ledger.checkpoint()
        with open_chain(settings, ledger.engine, ledger.signer.verifier()) as session:
            relayed = session.relayer.relay_outbox()
            record = session.anchorer.anchor_latest()
            return {
                "tree_size": signed.checkpoint.size,
                "root_hash": signed.checkpoint.root_hash.hex(),
                "chain_id": session.chain.chain_id,
                "contract": session.deployment.address,
                "tx_hash": record.tx_hash if record else None,
                "block_number": record.block_number if record else None,
                "status": record.status if record else None,
                "relayed": len(relayed.landed),
                "relay_refused": len(relayed.failed),
            }
    finally:
        ledger.close()
