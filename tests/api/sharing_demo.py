"""The demo's shared data (DOMAIN.md §7.5): datasets, rows, the six grants, and the calls
the sharing tests make. Used by test_sharing*.py and the privacy scan."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ledger import demo
from ledger.demo import PERSONS as PERSONS
from ledger.demo import data_item as item
from ledger.demo import values_for as values_for
from tests.api.env import ApiEnv, error_code

# ---- the demo's data (ledger.demo: synthetic persons, DOMAIN.md §7.4, §7.5) -----------------

SECRETS = [p["name"] for p in PERSONS] + [p["id_number"] for p in PERSONS]
"""Values that must never leave the sealed rows (log, outbox, chain)."""

IDENTITY = [item("name", masking="name"), item("id_number", masking="id_number")]

# code -> (owner approver, name, class, fields)
DATASETS: dict[str, tuple[str, str, str, list[dict[str, Any]]]] = {
    code: (f"approver_{d.owner}", d.name, d.sharing_class, list(d.fields))
    for code, d in demo.DEMO_DATASETS.items()
}

W1 = demo.WINDOW_ROUND  # G1, G2
W3 = demo.WINDOW_G3  # G3: one year, from February
W4 = demo.WINDOW_YEAR  # G4, G5, G6: one year


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def publish(env: ApiEnv, code: str) -> dict[str, Any]:
    who, name, sharing_class, fields = DATASETS[code]
    body = {"code": code, "name": name, "sharing_class": sharing_class, "fields": fields}
    published: dict[str, Any] = env.ok(env.post("/v1/datasets", body, who=who), 201)
    rows = [
        {"division": p["division"], "values": values_for(code, n)} for n, p in enumerate(PERSONS)
    ]
    env.ok(env.post(f"/v1/datasets/{code}/rows", {"rows": rows}, who=who), 201)
    return published


def request(
    env: ApiEnv,
    who: str,
    dataset: str,
    fields: list[str],
    purpose: str,
    window: tuple[str, str],
    **kw: Any,
) -> dict[str, Any]:
    body = {
        "dataset": dataset,
        "purpose": purpose,
        "scenario": kw.pop("scenario", demo.SCENARIO),
        "legal_basis": demo.LEGAL_BASIS,
        "fields": fields,
        "valid_from": window[0],
        "valid_until": window[1],
    }
    made: dict[str, Any] = env.ok(env.post("/v1/grant-requests", body, who=who), 201)
    return made


def answer(env: ApiEnv, who: str, request_id: str, **body: Any) -> dict[str, Any]:
    answered: dict[str, Any] = env.ok(
        env.post(f"/v1/grant-requests/{request_id}/answer", body, who=who)
    )
    return answered


def read(env: ApiEnv, who: str, grant: str, purpose: str, **body: Any) -> Any:
    return env.post(f"/v1/grants/{grant}/reads", {"purpose": purpose, **body}, who=who)


def access_count(env: ApiEnv) -> int:
    with env.ledger.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM access_entries")).scalar_one())


def refused(env: ApiEnv, response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert error_code(response) == code


def demo_grants(env: ApiEnv) -> dict[str, str]:
    """Publish the six datasets with their rows and make G1..G6; returns name -> grant id."""
    for code in DATASETS:
        publish(env, code)
    made = {
        name: request(
            env,
            demo.REQUESTERS[g.requester],
            g.dataset,
            list(g.fields),
            g.purpose,
            g.window,
            scenario=g.scenario,
        )
        for name, g in demo.DEMO_GRANTS.items()
    }
    answered: dict[str, dict[str, Any]] = {}
    for name, g in demo.DEMO_GRANTS.items():
        if g.answer is None:  # UNCONDITIONAL: approved by the platform at once
            assert made[name]["status"] == "APPROVED" and made[name]["answer"]["automatic"]
            answered[name] = made[name]
            continue
        assert made[name]["status"] == "PENDING" and made[name]["answer"] is None
        body: dict[str, Any] = {"decision": g.answer.decision}
        if g.answer.fields is not None:
            body["fields"] = list(g.answer.fields)
        if g.answer.valid_until is not None:
            body["valid_until"] = g.answer.valid_until
        answered[name] = answer(
            env, f"approver_{demo.DEMO_DATASETS[g.dataset].owner}", made[name]["id"], **body
        )
    a4, a5 = answered["G4"], answered["G5"]
    assert a5["status"] == "PARTIALLY_APPROVED" and a5["answer"]["fields"] == [
        "cert_date",
        "cert_level",
    ]
    assert a4["answer"]["valid_until"] == "2026-12-31T00:00:00Z"
    return {name: a["answer"]["grant_id"] for name, a in answered.items()}


# ---- the tests ------------------------------------------------------------------------------


def assert_no_secrets(env: ApiEnv) -> None:
    with env.ledger.engine.connect() as conn:
        leaves = [
            bytes(d).decode()
            for d in conn.execute(sa.text("SELECT leaf_data FROM log_leaves")).scalars()
        ]
        payloads = [
            str(p) for p in conn.execute(sa.text("SELECT payload FROM chain_outbox")).scalars()
        ]
    assert any('"kind":"sharing.rows.ingested"' in leaf for leaf in leaves)
    assert any('"kind":"sharing.access"' in leaf for leaf in leaves)
    for secret in [*SECRETS, "社会工作师", "1380000"]:
        assert not any(secret in leaf for leaf in leaves), secret
        assert not any(secret in payload for payload in payloads), secret
