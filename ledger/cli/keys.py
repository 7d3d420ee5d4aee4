"""``ledger keys …``: API keys for principals (a unit and a role)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ledger.cli.operator import operator_context
from ledger.cli.output import JsonOption, emit, run
from ledger.config import Settings
from ledger.units import service

app = typer.Typer(help="API keys: create principals with keys, revoke keys.", no_args_is_help=True)


@app.command("create")
def create(
    unit: Annotated[str, typer.Argument(help="The unit the principal acts for.")],
    role: Annotated[str, typer.Argument(help="Its role, e.g. village_clerk, unit_handler.")],
    label: Annotated[str, typer.Option(help="A post, not a person's name.")] = "operator-made",
    as_json: JsonOption = False,
) -> None:
    """Create a principal and print its API key (shown once, stored hashed)."""
    result = run(
        as_json,
        lambda: _run_create(settings=Settings.from_env(), unit=unit, role=role, label=label),
    )
    emit(
        result,
        as_json=as_json,
        text=lambda r: f"principal {r['principal_id']}\nAPI key (shown once): {r['api_key']}",
    )


def _run_create(*, settings: Settings, unit: str, role: str, label: str) -> dict[str, Any]:
    with operator_context(settings) as (_, ctx):
        issued = service.create_principal(ctx, unit=unit, role=role, label=label)
    return {"principal_id": issued.principal_id, "key_id": issued.key_id, "api_key": issued.token}


@app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (the 12 hex digits after cl_).")],
    as_json: JsonOption = False,
) -> None:
    """Revoke an API key for good."""
    result = run(as_json, lambda: _run_revoke(settings=Settings.from_env(), key_id=key_id))
    emit(result, as_json=as_json, text=lambda r: f"revoked {r['key_id']} at {r['revoked_at']}")


def _run_revoke(*, settings: Settings, key_id: str) -> dict[str, Any]:
    with operator_context(settings) as (_, ctx):
        return service.revoke_key(ctx, key_id)
