"""``ledger log …``: append entries, sign checkpoints, show the log's state, prove inclusion."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.checkpoint import open_checkpoint
from ledger.cli.output import JsonOption, emit, run
from ledger.config import Settings
from ledger.entries import Entry, EntryError
from ledger.log import TreeSizeError
from ledger.merkle import hash_leaf, verify_inclusion
from ledger.runtime import Ledger

app = typer.Typer(help="The Merkle log: append, checkpoint, status, prove.", no_args_is_help=True)


@app.command()
def append(
    source: Annotated[str, typer.Argument(help="A file of entries (JSON lines), or - for stdin.")],
    as_json: JsonOption = False,
) -> None:
    """Append entries (one JSON object per line) to the log. All or nothing."""
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    result = run(as_json, lambda: _run_append(settings=Settings.from_env(), text=text))
    emit(result, as_json=as_json, text=lambda r: f"appended {r['count']} entries at {r['indices']}")


def _run_append(*, settings: Settings, text: str) -> dict[str, Any]:
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(Entry.from_json(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise EntryError(f"line {number}: not JSON ({exc.msg})") from None
        except EntryError as exc:
            raise EntryError(f"line {number}: {exc.message}") from None
    ledger = Ledger.open(settings)
    try:
        indices = ledger.append(entries)
    finally:
        ledger.close()
    span = f"[{indices.start}, {indices.stop})" if indices else "[]"
    return {"count": len(indices), "indices": span, "first": indices.start if indices else None}


@app.command()
def checkpoint(as_json: JsonOption = False) -> None:
    """Integrate every sequenced entry, verify the tree against the stored leaves, and sign."""
    result = run(as_json, lambda: _run_checkpoint(settings=Settings.from_env()))
    emit(result, as_json=as_json, text=lambda r: r["note"].rstrip("\n"))


def _run_checkpoint(*, settings: Settings) -> dict[str, Any]:
    ledger = Ledger.open(settings)
    try:
        signed = ledger.checkpoint()
    finally:
        ledger.close()
    return {
        "tree_size": signed.checkpoint.size,
        "root_hash": signed.checkpoint.root_hash.hex(),
        "note": signed.note,
    }


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Sequenced and integrated sizes and the newest checkpoint."""
    result = run(as_json, lambda: _run_status(settings=Settings.from_env()))
    emit(
        result,
        as_json=as_json,
        text=lambda r: (
            f"sequenced: {r['sequenced_size']}\nintegrated: {r['integrated_size']}\n"
            f"checkpoint: {r['checkpoint_size']} {r['checkpoint_root'] or ''}"
        ),
    )


def _run_status(*, settings: Settings) -> dict[str, Any]:
    ledger = Ledger.open(settings, create=False)
    try:
        latest = ledger.log.latest_checkpoint()
        return {
            "sequenced_size": ledger.log.sequenced_size(),
            "integrated_size": ledger.log.size(),
            "checkpoint_size": latest.checkpoint.size if latest else None,
            "checkpoint_root": latest.checkpoint.root_hash.hex() if latest else None,
        }
    finally:
        ledger.close()


@app.command()
def prove(
    leaf_index: Annotated[int, typer.Argument(min=0, help="The leaf to prove.")],
    as_json: JsonOption = False,
) -> None:
    """Prove a leaf's inclusion in the newest checkpoint, and check the proof."""
    result = run(as_json, lambda: _run_prove(settings=Settings.from_env(), leaf_index=leaf_index))
    emit(
        result,
        as_json=as_json,
        text=lambda r: "\n".join(
            [f"leaf {r['leaf_index']} of {r['tree_size']}: verified", *r["inclusion_proof"]]
        ),
    )


def _run_prove(*, settings: Settings, leaf_index: int) -> dict[str, Any]:
    ledger = Ledger.open(settings, create=False)
    try:
        latest = ledger.log.latest_checkpoint()
        if latest is None or leaf_index >= latest.checkpoint.size:
            size = latest.checkpoint.size if latest else 0
            raise TreeSizeError(
                f"leaf {leaf_index} is not in the newest checkpoint (tree size {size})"
            )
        # Check against what the log's key signed, with the hash of the data as stored.
        checkpoint = open_checkpoint(
            latest.note, ledger.signer.verifier(), origin=latest.checkpoint.origin
        )
        size = checkpoint.size
        leaf = ledger.log.leaf(leaf_index)
        assert leaf is not None
        leaf_hash = hash_leaf(leaf[0])
        proof = ledger.log.inclusion_proof(leaf_index, size)
        verify_inclusion(leaf_index, size, leaf_hash, proof, checkpoint.root_hash)
        return {
            "leaf_index": leaf_index,
            "tree_size": size,
            "leaf_hash": leaf_hash.hex(),
            "root_hash": checkpoint.root_hash.hex(),
            "inclusion_proof": [h.hex() for h in proof],
        }
    finally:
        ledger.close()
