"""Printing results and errors the same way in every command."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from ledger.errors import LedgerError

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
"""The ``--json`` flag every command has."""

EXIT_ERROR = 1


def emit(result: Any, *, as_json: bool, text: Callable[[Any], str]) -> None:
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else text(result))


def run(as_json: bool, action: Callable[[], T]) -> T:
    """Run ``action``; a LedgerError becomes a message (or JSON) on stderr and exit code 1."""
    try:
        return action()
    except LedgerError as exc:
        if as_json:
            typer.echo(json.dumps({"error": {"code": exc.code, "message": exc.message}}), err=True)
        else:
            typer.echo(f"error [{exc.code}]: {exc.message}", err=True)
        raise typer.Exit(EXIT_ERROR) from exc
