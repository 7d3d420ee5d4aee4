"""``ledger init`` and ``ledger serve``."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer

from ledger.cli.output import JsonOption, emit, run
from ledger.config import Settings
from ledger.runtime import Ledger


def init(as_json: JsonOption = False) -> None:
    """Create the data directory, the database schema and the log's signing key."""
    result = run(as_json, lambda: _run_init(settings=Settings.from_env()))
    emit(
        result,
        as_json=as_json,
        text=lambda r: (
            f"database:     {r['database']}\n"
            f"log origin:   {r['origin']}\n"
            f"log key:      {r['key_file']}\n"
            f"verifier key: {r['verifier_key']}\n"
            f"tree size:    {r['tree_size']}"
        ),
    )


def _run_init(*, settings: Settings) -> dict[str, Any]:
    ledger = Ledger.open(settings, create=True)
    try:
        return {
            "database": ledger.engine.url.render_as_string(hide_password=True),
            "origin": settings.log_origin,
            "key_file": str(settings.log_key_file),
            "verifier_key": ledger.signer.verifier().to_verifier_key(),
            "tree_size": ledger.log.size(),
        }
    finally:
        ledger.close()


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run the HTTP API, signing a checkpoint every LEDGER_ANCHOR_INTERVAL seconds."""
    import uvicorn

    from api.main import create_app

    settings = Settings.from_env()
    app = create_app(settings)
    typer.echo(
        f"civic-ledger on http://{host or settings.host}:{port or settings.port} "
        f"(docs at /docs; data in {settings.data_dir})"
    )
    # Our loggers (checkpoints signed, anchors sent, refusals) beside uvicorn's.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level="info")
