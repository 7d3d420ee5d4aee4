"""The authorisation matrix: every role × every endpoint, a revoked key, no key.

The endpoints are read from the app itself, with the capability each one declares
(its ``authorized(...)`` dependency), so a new endpoint is in the matrix the day it is
written. For each role the expectation comes from ``ledger.auth.GRANTED``, written
once: a role without the capability gets 403 ``forbidden`` and nothing is written; a
role with it is let through authorisation (whatever the request's fate after that).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from fastapi.routing import APIRoute

from ledger.auth import GRANTED, Capability, Role
from tests.api.env import ApiEnv, error_code

#: A principal of every role in the demo city (``admin`` is the platform administrator).
ROLE_PRINCIPALS = {
    Role.PLATFORM_ADMIN: "admin",
    Role.LEAD_ORG_ADMIN: "org_admin",
    Role.VILLAGE_CLERK: "clerk_DEMO-FANGCHUAN",
    Role.VILLAGE_PARTY_SEC: "sec_DEMO-FANGCHUAN",
    Role.TOWNSHIP_REVIEWER: "reviewer_222404101",
    Role.UNIT_HANDLER: "handler_GA",
    Role.PROVIDER_APPROVER: "approver_GA",
    Role.REQUESTER: "requester_org",
    Role.AUDITOR: "auditor",
}

_CAPABILITY = {f"authorize_{c.name.lower()}": c for c in Capability}


def _endpoints(env: ApiEnv) -> list[tuple[str, str, Capability | None]]:
    """(method, path, capability) of every route; capability None: public."""
    out = []
    for route in _api_routes(env.client.app.routes):  # type: ignore[attr-defined]
        caps = [
            _CAPABILITY[d.call.__name__]
            for d in route.dependant.dependencies
            if d.call is not None and d.call.__name__ in _CAPABILITY
        ]
        assert len(caps) <= 1, f"{route.path} declares {caps}"
        for method in sorted(route.methods):
            out.append((method, route.path, caps[0] if caps else None))
    return out


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """The API routes, also inside included routers (FastAPI keeps those nested)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(_api_routes(route.original_router.routes))
    return found


def _concrete(path: str) -> str:
    """A path with its parameters filled in with values that pass their patterns."""
    return re.sub(r"\{[^}]+\}", lambda m: "0123456789ab" if "key" in m.group() else "X1", path)


def _call(env: ApiEnv, method: str, path: str, who: str | None) -> Any:
    url = _concrete(path)
    if method == "GET":
        return env.get(url, who=who)
    return env.client.request(method, url, json={}, headers=env.headers(who))


PUBLIC = {"/healthz", "/readyz", "/openapi.json", "/docs", "/redoc"}


def test_every_endpoint_but_health_and_the_log_declares_a_capability(city: ApiEnv) -> None:
    undeclared = [
        (m, p)
        for m, p, cap in _endpoints(city)
        if cap is None and p not in PUBLIC and not p.startswith("/v1/log/")
    ]
    assert undeclared == []


def test_every_role_on_every_endpoint(city: ApiEnv) -> None:
    endpoints = [(m, p, c) for m, p, c in _endpoints(city) if c is not None]
    assert len(endpoints) >= 10
    checked = 0
    for role, who in ROLE_PRINCIPALS.items():
        for method, path, capability in endpoints:
            allowed = capability in GRANTED[role]
            with city.unchanged() if not allowed else contextlib.nullcontext():
                r = _call(city, method, path, who)
            label = f"{role.value} {method} {path}"
            if allowed:
                assert r.status_code != 401, label
                assert not (r.status_code == 403 and error_code(r) == "forbidden"), label
            else:
                assert r.status_code == 403, f"{label}: {r.status_code} {r.text}"
                assert error_code(r) == "forbidden", label
            checked += 1
    assert checked == len(ROLE_PRINCIPALS) * len(endpoints)


def test_no_key_and_a_revoked_key_are_refused_everywhere(city: ApiEnv) -> None:
    issued = city.ok(
        city.post("/v1/principals", {"unit": "ORG", "role": "lead_org_admin", "label": "x"}), 201
    )
    city.ok(city.post(f"/v1/keys/{issued['key_id']}/revoke"))
    for method, path, capability in _endpoints(city):
        if capability is None:
            continue
        with city.unchanged():
            for who in (None, issued["api_key"]):
                r = _call(city, method, path, who)
                assert r.status_code == 401, f"{method} {path} as {who}: {r.text}"
                assert error_code(r) == "unauthenticated"
