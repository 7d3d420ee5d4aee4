"""Units, principals and API keys: registering the city's units, who acts for them, and
authenticating a bearer token to a :class:`~ledger.auth.Caller`.

Each unit gets its own EIP-712 signing key when it is registered. The platform holds
it for the unit (custodial), sealed under the master key; the unit's decisions and
grants are signed with it and the contracts check the signature against the key
UnitRegistry holds for the unit. The registration is an entry in the log and a
message in the chain outbox.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eth_account import Account
from sqlalchemy import Connection, bindparam, insert, select

from ledger import journal, sealing
from ledger.auth import (
    Caller,
    Capability,
    Role,
    UnauthenticatedError,
    new_api_key,
    parse_api_key,
    secret_matches,
)
from ledger.chain import vetting as chain_vetting
from ledger.context import Context
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.outbox import enqueue
from ledger.store.domain import api_key_revocations, api_keys, principals, unit_keys, units

UNIT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", re.ASCII)
LEVELS = ("village", "township", "county")
_CHAIN_LEVEL = {
    "village": chain_vetting.Level.VILLAGE,
    "township": chain_vetting.Level.TOWNSHIP,
    "county": chain_vetting.Level.COUNTY,
}
PLATFORM_UNIT = ("SZ", "珲春市政务服务和数字化建设管理局")
"""The data authority (市政数局) that runs the platform; `ledger init` registers it."""


@dataclass(frozen=True)
class UnitInfo:
    code: str
    name: str
    level: str
    parent_code: str | None
    signing_address: str
    record_id: str


@dataclass(frozen=True)
class IssuedKey:
    principal_id: str
    key_id: str
    token: str


# ---- units ----------------------------------------------------------------------------------


def register_unit(
    ctx: Context, *, code: str, name: str, level: str, parent: str | None
) -> UnitInfo:
    """Register a unit with a new signing key; refuses a taken code or a wrong parent."""
    ctx.caller.require(Capability.MANAGE_UNITS)
    return _register_unit(
        ctx.conn,
        ctx.master,
        code=code,
        name=name,
        level=level,
        parent=parent,
        now=ctx.now,
        principal_id=ctx.caller.principal_id,
    )


def _register_unit(
    conn: Connection,
    master: sealing.MasterKey,
    *,
    code: str,
    name: str,
    level: str,
    parent: str | None,
    now: datetime,
    principal_id: str | None,
) -> UnitInfo:
    if not UNIT_CODE.fullmatch(code):
        raise InvalidInputError(
            f"unit code {code!r}: want 1-32 of A-Z a-z 0-9 _ - (a division or department code)"
        )
    if level not in LEVELS:
        raise InvalidInputError(f"level {level!r}: want one of {', '.join(LEVELS)}")
    if get_unit(conn, code) is not None:
        raise ConflictError(f"unit {code} is already registered", unit=code)
    if level == "village":
        township = get_unit(conn, parent) if parent else None
        if township is None or township.level != "township":
            raise InvalidInputError(
                f"a village's parent must be a registered township, got {parent!r}"
            )
    elif parent is not None:
        raise InvalidInputError(f"a {level} unit has no parent, got {parent!r}")
    account = Account.create()
    key, box = sealing.seal(master, _key_record(code), {"private_key": account.key.hex()})
    written = journal.write_one(
        conn,
        journal.Draft(
            kind="unit.registered",
            unit=code,
            body={
                "code": code,
                "name": name,
                "level": level,
                "parent": parent,
                "signing_address": account.address,
            },
            subject=code,
        ),
        now=now,
        principal_id=principal_id,
    )
    conn.execute(
        insert(units).values(
            code=code,
            name=name,
            level=level,
            parent_code=parent,
            signing_address=account.address,
            created_at=now,
            record_id=written.id,
        )
    )
    conn.execute(
        insert(unit_keys).values(
            unit_code=code,
            address=account.address,
            wrapped_key=key.wrapped,
            nonce=box.nonce,
            ciphertext=box.ciphertext,
        )
    )
    enqueue(
        conn,
        "unit",
        "0x" + chain_vetting.unit_id(code).hex(),
        {
            "unit_id": "0x" + chain_vetting.unit_id(code).hex(),
            "level": int(_CHAIN_LEVEL[level]),
            "parent_id": "0x" + (chain_vetting.unit_id(parent) if parent else bytes(32)).hex(),
            "key": account.address,
        },
        now=now,
    )
    return UnitInfo(code, name, level, parent, account.address, written.id)


def _key_record(code: str) -> str:
    return f"unit-key:{code}"


def unit_private_key(conn: Connection, master: sealing.MasterKey, code: str) -> bytes:
    """The unit's signing key, unsealed for one signature."""
    row = conn.execute(select(unit_keys).where(unit_keys.c.unit_code == code)).first()
    if row is None:
        raise NotFoundError(f"unit {code} has no signing key", unit=code)
    personal = sealing.open_sealed(
        master,
        _key_record(code),
        sealing.DataKey(bytes(row.wrapped_key)),
        sealing.SealedData(bytes(row.nonce), bytes(row.ciphertext)),
    )
    return bytes.fromhex(str(personal["private_key"]).removeprefix("0x"))


def get_unit(conn: Connection, code: str | None) -> UnitInfo | None:
    if code is None:
        return None
    row = conn.execute(select(units).where(units.c.code == code)).first()
    if row is None:
        return None
    return UnitInfo(
        row.code, row.name, row.level, row.parent_code, row.signing_address, row.record_id
    )


def require_unit(conn: Connection, code: str) -> UnitInfo:
    unit = get_unit(conn, code)
    if unit is None:
        raise NotFoundError(f"no unit {code}", unit=code)
    return unit


def list_units(conn: Connection, *, after: str | None, limit: int) -> list[UnitInfo]:
    query = select(units).order_by(units.c.code).limit(limit)
    if after is not None:
        query = query.where(units.c.code > after)
    return [
        UnitInfo(r.code, r.name, r.level, r.parent_code, r.signing_address, r.record_id)
        for r in conn.execute(query)
    ]


def reach_of(conn: Connection, unit: UnitInfo) -> frozenset[str] | None:
    """The units whose data ``unit`` may touch: None (all) for a county-level unit."""
    if unit.level == "county":
        return None
    if unit.level == "village":
        return frozenset({unit.code})
    villages = conn.execute(select(units.c.code).where(units.c.parent_code == unit.code)).scalars()
    return frozenset({unit.code, *villages})


# ---- principals and keys --------------------------------------------------------------------


def create_principal(ctx: Context, *, unit: str, role: str, label: str) -> IssuedKey:
    """A principal acting for ``unit`` with ``role``, and its first API key (shown once)."""
    ctx.caller.require(Capability.MANAGE_PRINCIPALS)
    try:
        parsed = Role(role)
    except ValueError:
        raise InvalidInputError(
            f"role {role!r}: want one of {', '.join(r.value for r in Role)}"
        ) from None
    target = require_unit(ctx.conn, unit)
    _check_role_fits_unit(parsed, target)
    return _create_principal(
        ctx.conn, unit=unit, role=parsed, label=label, now=ctx.now, by=ctx.caller.principal_id
    )


_ROLE_LEVELS: dict[Role, tuple[str, ...]] = {
    Role.VILLAGE_CLERK: ("village",),
    Role.VILLAGE_PARTY_SEC: ("village",),
    Role.TOWNSHIP_REVIEWER: ("township",),
    Role.UNIT_HANDLER: ("county",),
    Role.LEAD_ORG_ADMIN: ("county",),
    Role.PROVIDER_APPROVER: ("county",),
    Role.PLATFORM_ADMIN: ("county",),
    Role.AUDITOR: ("county",),
    Role.REQUESTER: ("village", "township", "county"),
}


def _check_role_fits_unit(role: Role, unit: UnitInfo) -> None:
    if unit.level not in _ROLE_LEVELS[role]:
        raise InvalidInputError(
            f"role {role.value} is for {' or '.join(_ROLE_LEVELS[role])} units; "
            f"{unit.code} is a {unit.level} unit"
        )


def _create_principal(
    conn: Connection, *, unit: str, role: Role, label: str, now: datetime, by: str | None
) -> IssuedKey:
    principal_id = str(uuid.uuid4())
    journal.write_one(
        conn,
        journal.Draft(
            kind="principal.created",
            unit=unit,
            body={"principal": principal_id, "unit": unit, "role": role.value, "label": label},
            subject=principal_id,
        ),
        now=now,
        principal_id=by,
    )
    conn.execute(
        insert(principals).values(
            id=principal_id,
            unit_code=unit,
            role=role.value,
            label=label,
            created_at=now,
            created_by=by,
        )
    )
    return _issue_key(conn, principal_id, now=now)


def issue_key(ctx: Context, principal_id: str) -> IssuedKey:
    """A further API key for a principal (for rotation: issue, switch, revoke the old)."""
    ctx.caller.require(Capability.MANAGE_PRINCIPALS)
    if (
        ctx.conn.execute(select(principals.c.id).where(principals.c.id == principal_id)).first()
        is None
    ):
        raise NotFoundError(f"no principal {principal_id}")
    return _issue_key(ctx.conn, principal_id, now=ctx.now)


def _issue_key(conn: Connection, principal_id: str, *, now: datetime) -> IssuedKey:
    key = new_api_key()
    conn.execute(
        insert(api_keys).values(
            id=key.key_id, principal_id=principal_id, secret_hash=key.secret_hash, created_at=now
        )
    )
    return IssuedKey(principal_id, key.key_id, key.token)


def revoke_key(ctx: Context, key_id: str) -> dict[str, Any]:
    """Revoke an API key for good; a second revocation is a conflict."""
    ctx.caller.require(Capability.MANAGE_PRINCIPALS)
    if ctx.conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id)).first() is None:
        raise NotFoundError(f"no API key {key_id}")
    revoked = ctx.conn.execute(
        select(api_key_revocations.c.revoked_at).where(api_key_revocations.c.key_id == key_id)
    ).first()
    if revoked is not None:
        raise ConflictError(f"API key {key_id} is already revoked", key_id=key_id)
    ctx.conn.execute(
        insert(api_key_revocations).values(
            key_id=key_id, revoked_at=ctx.now, revoked_by=ctx.caller.principal_id
        )
    )
    return {"key_id": key_id, "revoked_at": ctx.now.isoformat()}


# Every request runs this one: built once (building and hashing a four-table select costs
# as much as running it).
_CALLER_BY_KEY = (
    select(
        api_keys.c.secret_hash,
        principals.c.id,
        principals.c.unit_code,
        principals.c.role,
        api_key_revocations.c.revoked_at,
        units.c.name,
        units.c.level,
        units.c.parent_code,
        units.c.signing_address,
        units.c.record_id,
    )
    .join(principals, principals.c.id == api_keys.c.principal_id)
    .outerjoin(units, units.c.code == principals.c.unit_code)
    .outerjoin(api_key_revocations, api_key_revocations.c.key_id == api_keys.c.id)
    .where(api_keys.c.id == bindparam("key_id"))
)


def authenticate(conn: Connection, token: str) -> Caller:
    """The caller a bearer token stands for; UnauthenticatedError for any bad token."""
    key_id, presented = parse_api_key(token)
    # One query for the key, its principal, its unit and any revocation; only a
    # township's reach takes a second one.
    row = conn.execute(_CALLER_BY_KEY, {"key_id": key_id}).first()
    # One message for every failure: a prober learns nothing about which keys exist.
    if row is None or not secret_matches(bytes(row.secret_hash), presented):
        raise UnauthenticatedError("invalid or revoked API key")
    if row.revoked_at is not None:
        raise UnauthenticatedError("invalid or revoked API key")
    if row.level is None:  # as require_unit says for a unit that is not registered
        raise NotFoundError(f"no unit {row.unit_code}", unit=row.unit_code)
    unit = UnitInfo(
        row.unit_code, row.name, row.level, row.parent_code, row.signing_address, row.record_id
    )
    return Caller(
        principal_id=row.id,
        unit_code=row.unit_code,
        role=Role(row.role),
        key_id=key_id,
        reach=reach_of(conn, unit),
    )


def bootstrap(
    conn: Connection, master: sealing.MasterKey, *, now: datetime, label: str = "platform admin"
) -> IssuedKey | None:
    """Register the platform unit and its first administrator, once; None if done before."""
    if conn.execute(select(principals.c.id).limit(1)).first() is not None:
        return None
    code, name = PLATFORM_UNIT
    if get_unit(conn, code) is None:
        _register_unit(
            conn,
            master,
            code=code,
            name=name,
            level="county",
            parent=None,
            now=now,
            principal_id=None,
        )
    return _create_principal(
        conn, unit=code, role=Role.PLATFORM_ADMIN, label=label, now=now, by=None
    )
