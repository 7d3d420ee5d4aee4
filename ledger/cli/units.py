"""``ledger units …``: list and register the city's units."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ledger.cli.operator import operator_context
from ledger.cli.output import JsonOption, emit, run
from ledger.config import Settings
from ledger.units import service

app = typer.Typer(help="The city's units: villages, townships, departments.", no_args_is_help=True)


@app.command("list")
def list_units(as_json: JsonOption = False) -> None:
    """List every registered unit."""
    result = run(as_json, lambda: _run_list(settings=Settings.from_env()))
    emit(
        result,
        as_json=as_json,
        text=lambda r: "\n".join(
            f"{u['code']:<16} {u['level']:<9} {u['parent'] or '-':<10} {u['name']}" for u in r
        ),
    )


def _run_list(*, settings: Settings) -> list[dict[str, Any]]:
    with operator_context(settings) as (_, ctx):
        units = service.list_units(ctx.conn, after=None, limit=100_000)
    return [
        {"code": u.code, "name": u.name, "level": u.level, "parent": u.parent_code} for u in units
    ]


@app.command("add")
def add(
    code: Annotated[str, typer.Argument(help="Division or department code, e.g. 222404101.")],
    name: Annotated[str, typer.Argument(help="The unit's name, e.g. 敬信镇.")],
    level: Annotated[str, typer.Option(help="village, township or county.")],
    parent: Annotated[str | None, typer.Option(help="A village's township.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a unit with its own signing key (relayed to UnitRegistry by the service)."""
    result = run(
        as_json,
        lambda: _run_add(
            settings=Settings.from_env(), code=code, name=name, level=level, parent=parent
        ),
    )
    emit(result, as_json=as_json, text=lambda r: f"registered {r['code']} ({r['level']})")


def _run_add(
    *, settings: Settings, code: str, name: str, level: str, parent: str | None
) -> dict[str, Any]:
    with operator_context(settings) as (_, ctx):
        unit = service.register_unit(ctx, code=code, name=name, level=level, parent=parent)
    return {
        "code": unit.code,
        "level": unit.level,
        "parent": unit.parent_code,
        "signing_address": unit.signing_address,
        "record_id": unit.record_id,
    }
