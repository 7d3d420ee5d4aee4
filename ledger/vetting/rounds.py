"""Election rounds (换届批次): opened by the lead department with its required departments.

A round is an entry in the log (``vetting.round.opened``) and a message in the chain
outbox (``round``: VettingRegistry.openRound with the departments' unit ids, in the
order that fixes each one's bit in the candidates' opinion bitmaps).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Final

from sqlalchemy import Connection, insert, select

from ledger import journal
from ledger.auth import Capability
from ledger.chain import vetting as v
from ledger.context import Context
from ledger.errors import InvalidInputError
from ledger.outbox import enqueue
from ledger.store.domain import election_rounds
from ledger.units.service import get_unit
from ledger.vetting.errors import (
    InvalidDepartmentError,
    InvalidElectionDayError,
    RoundExistsError,
)
from ledger.vetting.negative_list import ensure_negative_list
from ledger.vetting.state import RoundInfo, find_round, load_rounds, require_round, round_id

__all__ = ["KINDS", "get_round", "list_rounds", "open_round"]

ROUND_CODE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", re.ASCII)
KINDS: Final = ("GENERAL", "BY_ELECTION")
DEFAULT_DEFERRAL_DAYS: Final = 10
MAX_DEFERRAL_DAYS: Final = 90


def open_round(
    ctx: Context,
    *,
    code: str,
    name: str,
    kind: str,
    election_day: date,
    departments: Sequence[str],
    deferral_days: int = DEFAULT_DEFERRAL_DAYS,
) -> RoundInfo:
    """Open a round led by the caller's unit. Departments: 1 to 32 distinct registered
    county-level units, in bitmap order. The election day may not be in the past."""
    ctx.caller.require(Capability.MANAGE_ROUNDS)
    conn = ctx.conn
    if not ROUND_CODE.fullmatch(code):
        raise InvalidInputError(
            f"round code {code!r}: want 1-32 of A-Z a-z 0-9 _ - starting with a letter or digit"
        )
    if kind not in KINDS:
        raise InvalidInputError(f"kind {kind!r}: want one of {', '.join(KINDS)}")
    if election_day < ctx.now.date():
        raise InvalidElectionDayError(
            f"election_day {election_day.isoformat()} is before today "
            f"({ctx.now.date().isoformat()})"
        )
    if not 1 <= deferral_days <= MAX_DEFERRAL_DAYS:
        raise InvalidInputError(f"deferral_days {deferral_days}: want 1 to {MAX_DEFERRAL_DAYS}")
    _check_departments(conn, departments)
    if find_round(conn, code) is not None:
        raise RoundExistsError(f"round {code} already exists", round=code)

    ensure_negative_list(conn)
    rid = "0x" + round_id(code).hex()
    body = {
        "round": code,
        "round_id": rid,
        "name": name,
        "kind": kind,
        "election_day": election_day.isoformat(),
        "lead_department": ctx.caller.unit_code,
        "departments": list(departments),
        "deferral_days": deferral_days,
    }
    written = journal.write_one(
        conn,
        journal.Draft(
            kind="vetting.round.opened", unit=ctx.caller.unit_code, body=body, subject=rid
        ),
        now=ctx.now,
        principal_id=ctx.caller.principal_id,
    )
    conn.execute(
        insert(election_rounds).values(
            code=code,
            name=name,
            kind=kind,
            election_day=election_day,
            lead_department=ctx.caller.unit_code,
            departments=list(departments),
            deferral_days=deferral_days,
            created_at=ctx.now,
            record_id=written.id,
        )
    )
    enqueue(
        conn,
        "round",
        rid,
        {"round_id": rid, "departments": ["0x" + v.unit_id(d).hex() for d in departments]},
        now=ctx.now,
    )
    return require_round(conn, code)


def _check_departments(conn: Connection, departments: Sequence[str]) -> None:
    if not 1 <= len(departments) <= v.MAX_DEPARTMENTS:
        raise InvalidDepartmentError(
            f"{len(departments)} departments, want 1 to {v.MAX_DEPARTMENTS}"
        )
    seen: set[str] = set()
    for code in departments:
        if code in seen:
            raise InvalidDepartmentError(f"department {code} is listed twice", department=code)
        seen.add(code)
        unit = get_unit(conn, code)
        if unit is None or unit.level != "county":
            raise InvalidDepartmentError(
                f"department {code} is not a registered county-level unit", department=code
            )


def get_round(ctx: Context, code: str) -> RoundInfo:
    ctx.caller.require(Capability.READ_ROUNDS)
    return require_round(ctx.conn, code)


def list_rounds(ctx: Context, *, after: str | None, limit: int) -> list[RoundInfo]:
    ctx.caller.require(Capability.READ_ROUNDS)
    query = select(election_rounds.c.code).order_by(election_rounds.c.code).limit(limit)
    if after is not None:
        query = query.where(election_rounds.c.code > after)
    codes = list(ctx.conn.execute(query).scalars())
    found = load_rounds(ctx.conn, codes)
    return [found[c] for c in codes]
