"""Units, principals and API keys (the platform administrator's resources)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from api.deps import ManagePrincipals, ManageUnits, ReadUnits
from api.routers.common import ERRORS, After, Limit, Page, Strict, page
from ledger.auth import Role
from ledger.errors import NotFoundError
from ledger.units import service

router = APIRouter(prefix="/v1", tags=["units"], responses=ERRORS)

UnitCodePath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")]


class UnitCreate(Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", examples=["222404101"])
    name: str = Field(min_length=1, max_length=128, examples=["敬信镇"])
    level: Literal["village", "township", "county"]
    parent: str | None = Field(default=None, max_length=32)


class UnitPublic(BaseModel):
    code: str
    name: str
    level: str
    parent: str | None
    signing_address: str
    record_id: str


def _public(unit: service.UnitInfo) -> UnitPublic:
    return UnitPublic(
        code=unit.code,
        name=unit.name,
        level=unit.level,
        parent=unit.parent_code,
        signing_address=unit.signing_address,
        record_id=unit.record_id,
    )


@router.post("/units", status_code=201)
def create_unit(body: UnitCreate, svc: ManageUnits) -> UnitPublic:
    """Register a unit with its own signing key; relayed to UnitRegistry."""
    with svc.transaction() as ctx:
        unit = service.register_unit(
            ctx, code=body.code, name=body.name, level=body.level, parent=body.parent
        )
    return _public(unit)


@router.get("/units")
def list_units(svc: ReadUnits, limit: Limit = 100, after: After = None) -> Page[UnitPublic]:
    with svc.reading() as ctx:
        units = service.list_units(ctx.conn, after=after, limit=limit + 1)
    return page([_public(u) for u in units], limit, lambda u: u.code)


@router.get("/units/{code}")
def get_unit(code: UnitCodePath, svc: ReadUnits) -> UnitPublic:
    with svc.reading() as ctx:
        unit = service.get_unit(ctx.conn, code)
    if unit is None:
        raise NotFoundError(f"no unit {code}")
    return _public(unit)


class PrincipalCreate(Strict):
    unit: str = Field(max_length=32)
    role: Annotated[Role, Field(strict=False)]
    label: str = Field(
        min_length=1,
        max_length=64,
        description="A post, not a person's name (e.g. 'GA joint-review handler').",
    )


class IssuedKeyPublic(BaseModel):
    principal_id: str
    key_id: str
    api_key: str = Field(description="Shown once; only its hash is stored.")


@router.post("/principals", status_code=201)
def create_principal(body: PrincipalCreate, svc: ManagePrincipals) -> IssuedKeyPublic:
    """A principal acting for a unit with a role, and its first API key."""
    with svc.transaction() as ctx:
        issued = service.create_principal(ctx, unit=body.unit, role=body.role, label=body.label)
    return IssuedKeyPublic(
        principal_id=issued.principal_id, key_id=issued.key_id, api_key=issued.token
    )


@router.post("/principals/{principal_id}/keys", status_code=201)
def issue_key(
    principal_id: Annotated[str, Path(max_length=36)], svc: ManagePrincipals
) -> IssuedKeyPublic:
    """Another API key for the principal (rotate: issue, switch, revoke the old one)."""
    with svc.transaction() as ctx:
        issued = service.issue_key(ctx, principal_id)
    return IssuedKeyPublic(
        principal_id=issued.principal_id, key_id=issued.key_id, api_key=issued.token
    )


class KeyRevoked(BaseModel):
    key_id: str
    revoked_at: str


@router.post("/keys/{key_id}/revoke")
def revoke_key(
    key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")], svc: ManagePrincipals
) -> KeyRevoked:
    """Revoke an API key; it authenticates nobody from now on."""
    with svc.transaction() as ctx:
        revoked = service.revoke_key(ctx, key_id)
    return KeyRevoked(key_id=revoked["key_id"], revoked_at=revoked["revoked_at"])
