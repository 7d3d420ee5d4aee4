"""``ledger init`` and ``ledger serve``."""

from __future__ import annotations

import logging
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
    app = create_app(settings)
    url = f"http://{host or settings.host}:{port or settings.port}"
    typer.echo(f"civic-ledger on {url} (docs at {url}/docs; data in {settings.data_dir})")
    if done.admin_key and not done.key_file:
        typer.echo(f"platform admin API key (shown once): {done.admin_key}")
    elif key_file.exists():
        typer.echo(f"platform admin API key: in {key_file}")
    # Our loggers (checkpoints signed, anchors sent, refusals) beside uvicorn's.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    uvicorn.run(app, host=host or settings.host, port=port or settings.port, log_level="info")
