"""The demo's shared data (DOMAIN.md §7.5): datasets, rows, the six grants, and the calls
the sharing tests make. Used by test_sharing*.py and the privacy scan."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tests.api.env import ApiEnv, error_code

# ---- the demo's data (synthetic persons, DOMAIN.md §7.4) ------------------------------------

PERSONS: list[dict[str, Any]] = [
    {"name": "金明哲", "id_number": "222404197803120316", "division": "DEMO-FANGCHUAN"},
    {"name": "李春梅", "id_number": "222404198506210627", "division": "DEMO-TUANJIE"},
    {"name": "朴永浩", "id_number": "222404199001051573", "division": "DEMO-MENGLING"},
    {"name": "崔美玉", "id_number": "22240419721130244X", "division": "DEMO-MIJIANG"},
    {"name": "王海涛", "id_number": "222404198810090930", "division": "DEMO-MAXIN"},
    {"name": "张丽娜", "id_number": "222404199504171286", "division": "DEMO-SANAN"},
    # A township-level row and a city-level row.
    {"name": "赵敬信", "id_number": "222404196002020011", "division": "222404101"},
    {"name": "孙全市", "id_number": "222404197007070022", "division": "222404"},
]
SECRETS = [p["name"] for p in PERSONS] + [p["id_number"] for p in PERSONS]
"""Values that must never leave the sealed rows (log, outbox, chain)."""


def item(name: str, kind: str = "string", masking: str | None = None) -> dict[str, Any]:
    personal = name in {"name", "id_number", "phone", "birth_date"}
    return {
        "name": name,
        "type": kind,
        "sensitivity": "SENSITIVE" if personal else "GENERAL",
        "personal": personal,
        "masking": masking,
    }


IDENTITY = [item("name", masking="name"), item("id_number", masking="id_number")]

# code -> (owner approver, name, class, fields, row values for person i)
DATASETS: dict[str, tuple[str, str, str, list[dict[str, Any]]]] = {
    "GA-CRIME-CHECK": (
        "approver_GA",
        "违法犯罪记录核验",
        "CONDITIONAL",
        [*IDENTITY, item("has_record", "boolean"), item("clause_code")],
    ),
    "FY-DEBTOR-CHECK": (
        "approver_FY",
        "失信被执行人核验",
        "CONDITIONAL",
        [*IDENTITY, item("has_record", "boolean"), item("clause_code")],
    ),
    "TY-VETERAN": (
        "approver_TY",
        "退役军人身份核验",
        "CONDITIONAL",
        [*IDENTITY, item("is_veteran", "boolean")],
    ),
    "WJ-DEATH-CERT": (
        "approver_WJ",
        "死亡医学证明信息",
        "CONDITIONAL",
        [*IDENTITY, item("death_date", "date")],
    ),
    "RS-SW-CERT": (
        "approver_RS",
        "社会工作者职业资格",
        "CONDITIONAL",
        [*IDENTITY, item("cert_level"), item("cert_date", "date")],
    ),
    "SZ-POPULATION": (
        "approver_SZ",
        "人口基础信息",
        "UNCONDITIONAL",
        [
            *IDENTITY,
            item("phone", masking="phone"),
            item("birth_date", "date", masking="date"),
            item("gender"),
        ],
    ),
}


def values_for(code: str, n: int) -> dict[str, Any]:
    person = PERSONS[n]
    base = {"name": person["name"], "id_number": person["id_number"]}
    extras: dict[str, dict[str, Any]] = {
        "GA-CRIME-CHECK": {"has_record": n == 4, "clause_code": "N2" if n == 4 else None},
        "FY-DEBTOR-CHECK": {"has_record": n == 2, "clause_code": "N9" if n == 2 else None},
        "TY-VETERAN": {"is_veteran": n % 2 == 0},
        "WJ-DEATH-CERT": {"death_date": "2025-11-02" if n == 7 else None},
        "RS-SW-CERT": {"cert_level": "社会工作师", "cert_date": "2021-06-19"},
        "SZ-POPULATION": {
            "phone": f"1380000{n:04d}",
            "birth_date": f"{person['id_number'][6:10]}-{person['id_number'][10:12]}-"
            f"{person['id_number'][12:14]}",
            "gender": "M" if int(person["id_number"][16]) % 2 else "F",
        },
    }
    return base | extras[code]


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
        "scenario": kw.pop("scenario", "2026年两委换届资格联审"),
        "legal_basis": "《政务数据共享条例》",
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


W1 = ("2026-01-05T00:00:00Z", "2026-03-31T00:00:00Z")  # G1, G2
W3 = ("2026-02-01T00:00:00+08:00", "2027-02-01T00:00:00+08:00")  # G3: one year, from February
W4 = ("2026-01-10T00:00:00Z", "2027-01-10T00:00:00Z")  # G4, G5, G6: one year


def demo_grants(env: ApiEnv) -> dict[str, str]:
    """Publish the six datasets with their rows and make G1..G6; returns name -> grant id."""
    for code in DATASETS:
        publish(env, code)
    r1 = request(
        env,
        "requester_org",
        "GA-CRIME-CHECK",
        ["has_record", "clause_code"],
        "ADMINISTRATIVE_BASIS",
        W1,
    )
    r2 = request(
        env,
        "requester_org",
        "FY-DEBTOR-CHECK",
        ["has_record", "clause_code"],
        "ADMINISTRATIVE_BASIS",
        W1,
    )
    r3 = request(
        env,
        "requester_mz",
        "TY-VETERAN",
        ["is_veteran"],
        "BUSINESS_COLLABORATION",
        W3,
        scenario="社区优抚服务",
    )
    r4 = request(
        env,
        "requester_mz",
        "WJ-DEATH-CERT",
        ["death_date"],
        "DATA_VERIFICATION",
        W4,
        scenario="低保动态管理",
    )
    r5 = request(
        env,
        "requester_swd",
        "RS-SW-CERT",
        ["name", "cert_level", "cert_date"],
        "DATA_VERIFICATION",
        W4,
        scenario="社工岗分级",
    )
    r6 = request(
        env,
        "requester_jingxin",
        "SZ-POPULATION",
        ["name", "id_number", "phone", "birth_date", "gender"],
        "WORK_REFERENCE",
        W4,
        scenario="网格服务",
    )
    for r in (r1, r2, r3, r4, r5):
        assert r["status"] == "PENDING" and r["answer"] is None
    assert r6["status"] == "APPROVED" and r6["answer"]["automatic"] is True
    a1 = answer(env, "approver_GA", r1["id"], decision="APPROVED")
    a2 = answer(
        env, "approver_FY", r2["id"], decision="APPROVED", fields=["clause_code", "has_record"]
    )
    a3 = answer(env, "approver_TY", r3["id"], decision="APPROVED")
    a4 = answer(
        env, "approver_WJ", r4["id"], decision="APPROVED", valid_until="2026-12-31T00:00:00Z"
    )
    a5 = answer(
        env,
        "approver_RS",
        r5["id"],
        decision="PARTIALLY_APPROVED",
        fields=["cert_level", "cert_date"],
    )
    assert a5["status"] == "PARTIALLY_APPROVED" and a5["answer"]["fields"] == [
        "cert_date",
        "cert_level",
    ]
    assert a4["answer"]["valid_until"] == "2026-12-31T00:00:00Z"
    return {
        name: a["answer"]["grant_id"]
        for name, a in zip(
            ("G1", "G2", "G3", "G4", "G5", "G6"), (a1, a2, a3, a4, a5, r6), strict=True
        )
    }


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
