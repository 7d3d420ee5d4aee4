"""``ledger receipt RECORD_ID [-o FILE]``: write a record's receipt (DESIGN.md "Receipt")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.cli.output import JsonOption, emit, run
from ledger.config import Settings
from ledger.errors import InvalidInputError
from ledger.receipts import build_receipt
from ledger.runtime import Ledger


def receipt(
    record_id: Annotated[
        str, typer.Argument(metavar="RECORD_ID", help="The record's (entry's) id.")
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the receipt to this file, not stdout."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the receipt of a record once its checkpoint is anchored and final."""
    result = run(
        as_json,
        lambda: _run_receipt(settings=Settings.from_env(), record_id=record_id, output=output),
    )
    if output is None:
        typer.echo(result["receipt_text"], nl=False)
        return
    del result["receipt_text"]
    emit(
        result,
        as_json=as_json,
        text=lambda r: (
            f"wrote the receipt of {r['record_id']} (leaf {r['leaf_index']} in tree "
            f"{r['tree_size']}, anchored on chain {r['chain_id']} at block "
            f"{r['block_number']}) to {r['file']}"
        ),
    )


def _run_receipt(*, settings: Settings, record_id: str, output: Path | None) -> dict[str, Any]:
    ledger = Ledger.open(settings, create=False)
    try:
        built = build_receipt(
            ledger.engine,
            record_id,
            verifier_key=ledger.signer.verifier().to_verifier_key(),
            origin=settings.log_origin,
            reader=ledger.log.reader,
        )
    finally:
        ledger.close()
    text = built.to_text()
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot write {output}: {exc.strerror or exc}") from exc
    return {
        "record_id": record_id,
        "file": str(output) if output is not None else None,
        "leaf_index": built.leaf_index,
        "tree_size": built.checkpoint.tree_size,
        "chain_id": built.anchor.chain_id,
        "contract": built.anchor.contract,
        "block_number": built.anchor.block_number,
        "receipt_text": text,
    }
