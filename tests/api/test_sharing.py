"""Data sharing through the API (DOMAIN.md §2, §6.3, §7.5), on both databases and eth-tester.

The six demo grants G1..G6, rows for several divisions, governed reads before, inside and
after each window and after a revocation, the access trail, the chain, and no row value
anywhere in the log or the outbox. The helpers here (no ``test_`` prefix) are shared with
the other ``test_sharing_*`` files.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ledger.chain.vetting import unit_id
from ledger.sharing.reads import query_hash
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


def test_six_demo_grants_reads_trail_and_chain(city: ApiEnv) -> None:
    grants = demo_grants(city)
    g = {k: city.ok(city.get(f"/v1/grants/{v}", who="auditor")) for k, v in grants.items()}
    assert g["G1"]["owner"] == "GA" and g["G1"]["grantee"] == "ORG"
    assert g["G1"]["row_scope"] == {"division": "ORG"}
    assert g["G3"]["status"] == "NOT_YET_ACTIVE"
    assert g["G3"]["valid_from"] == "2026-01-31T16:00:00Z"  # +08:00, kept as UTC
    assert {g[k]["status"] for k in ("G1", "G2", "G4", "G5", "G6")} == {"ACTIVE"}
    assert g["G6"]["owner"] == "SZ" and g["G6"]["grantee"] == "222404101"

    # Inside the windows: the granted fields only, every row in reach.
    r = city.ok(read(city, "requester_org", grants["G1"], "ADMINISTRATIVE_BASIS"))
    assert len(r["rows"]) == len(PERSONS) and r["masked"] == []
    assert all(set(row["values"]) == {"has_record", "clause_code"} for row in r["rows"])
    assert [row["values"]["clause_code"] for row in r["rows"]].count("N2") == 1
    # The read's access entry, and the grant's entry, in the log.
    logged = city.ok(city.get(f"/v1/records/{r['access_record']}", who="auditor"))
    assert logged["entry"]["kind"] == "sharing.access" and logged["leaf_hash"] == r["leaf_hash"]
    assert logged["entry"]["body"] == {
        "grant": grants["G1"],
        "dataset": "GA-CRIME-CHECK",
        "unit": "ORG",
        "principal": logged["entry"]["body"]["principal"],
        "purpose": "ADMINISTRATIVE_BASIS",
        "query_hash": query_hash(
            {
                "grant": grants["G1"],
                "purpose": "ADMINISTRATIVE_BASIS",
                "filter": {"division": None},
                "limit": 100,
                "after": None,
            }
        ),
        "rows": len(PERSONS),
    }
    answered = city.ok(city.get(f"/v1/records/{g['G1']['record_id']}", who="auditor"))
    assert answered["entry"]["kind"] == "sharing.grant.answered"
    assert answered["leaf_hash"] == g["G1"]["leaf_hash"]
    assert answered["entry"]["body"]["scope_hash"] == g["G1"]["scope_hash"]
    r = city.ok(read(city, "requester_swd", grants["G5"], "DATA_VERIFICATION"))
    assert all(set(row["values"]) == {"cert_level", "cert_date"} for row in r["rows"])

    # G6: a township sees its own rows and its villages', masked; never the city's or others'.
    r = city.ok(read(city, "requester_jingxin", grants["G6"], "WORK_REFERENCE"))
    assert {row["division"] for row in r["rows"]} == {"222404101", "DEMO-FANGCHUAN"}
    assert r["masked"] == ["birth_date", "id_number", "name", "phone"]
    first = next(row["values"] for row in r["rows"] if row["division"] == "DEMO-FANGCHUAN")
    assert first == {
        "name": "金**",
        "id_number": "222404********0316",
        "phone": "138****0000",
        "birth_date": "1978-**-**",
        "gender": "M",
    }
    with city.unchanged():
        refused(
            city,
            read(
                city,
                "requester_jingxin",
                grants["G6"],
                "WORK_REFERENCE",
                filter={"division": "DEMO-MAXIN"},
            ),
            403,
            "out_of_jurisdiction",
        )
    r = city.ok(
        read(
            city,
            "requester_jingxin",
            grants["G6"],
            "WORK_REFERENCE",
            filter={"division": "DEMO-FANGCHUAN"},
        )
    )
    assert [row["division"] for row in r["rows"]] == ["DEMO-FANGCHUAN"]
    # Pages: the cursor walks the rows; a read of nothing is still an access.
    r1 = city.ok(read(city, "requester_org", grants["G2"], "ADMINISTRATIVE_BASIS", limit=5))
    assert len(r1["rows"]) == 5 and r1["next"] is not None
    r2 = city.ok(
        read(city, "requester_org", grants["G2"], "ADMINISTRATIVE_BASIS", after=r1["next"])
    )
    assert len(r2["rows"]) == len(PERSONS) - 5 and r2["next"] is None
    empty = city.ok(
        read(
            city, "requester_org", grants["G2"], "ADMINISTRATIVE_BASIS", after=r2["rows"][-1]["row"]
        )
    )
    assert empty["rows"] == []
    reads_so_far = 7
    assert access_count(city) == reads_so_far

    # Refused reads write nothing: before the window, before the grant existed, the wrong
    # purpose, someone else's grant.
    with city.unchanged():
        refused(
            city,
            read(city, "requester_mz", grants["G3"], "BUSINESS_COLLABORATION"),
            403,
            "grant_not_active",
        )
        refused(
            city,
            read(city, "requester_mz", grants["G4"], "WORK_REFERENCE"),
            403,
            "purpose_mismatch",
        )
        refused(
            city,
            read(city, "requester_mz", grants["G1"], "ADMINISTRATIVE_BASIS"),
            403,
            "not_grantee",
        )
        refused(
            city,
            read(city, "requester_jingxin", grants["G1"], "ADMINISTRATIVE_BASIS"),
            403,
            "not_grantee",
        )
    city.set_time(at("2026-01-06T00:00:00Z"))  # inside G1's window, before it was issued
    with city.unchanged():
        refused(
            city,
            read(city, "requester_org", grants["G1"], "ADMINISTRATIVE_BASIS"),
            403,
            "grant_not_active",
        )
    assert (
        city.ok(city.get(f"/v1/grants/{grants['G1']}", who="requester_org"))["status"]
        == "NOT_YET_ACTIVE"
    )

    # G3 opens on 1 February (+08:00).
    city.set_time(at("2026-02-01T00:00:00+08:00"))
    r = city.ok(read(city, "requester_mz", grants["G3"], "BUSINESS_COLLABORATION"))
    assert all(set(row["values"]) == {"is_veteran"} for row in r["rows"])
    reads_so_far += 1

    # Revocation: G2 stops at once, G1 goes on.
    city.set_time(at("2026-02-10T10:00:00Z"))
    revoked = city.ok(
        city.post(f"/v1/grants/{grants['G2']}/revoke", {"reason": "联审结束"}, who="approver_FY")
    )
    assert revoked["status"] == "REVOKED" and revoked["revocation_reason"] == "联审结束"
    with city.unchanged():
        refused(
            city,
            read(city, "requester_org", grants["G2"], "ADMINISTRATIVE_BASIS"),
            403,
            "grant_not_active",
        )
        refused(
            city,
            city.post(f"/v1/grants/{grants['G2']}/revoke", {"reason": "again"}, who="approver_FY"),
            409,
            "already_revoked",
        )
    city.ok(read(city, "requester_org", grants["G1"], "ADMINISTRATIVE_BASIS"))
    reads_so_far += 1

    # The last second of G1's window, then its end (valid_until is exclusive).
    city.set_time(at("2026-03-30T23:59:59Z"))
    city.ok(read(city, "requester_org", grants["G1"], "ADMINISTRATIVE_BASIS"))
    reads_so_far += 1
    city.set_time(at("2026-03-31T00:00:00Z"))
    with city.unchanged():
        refused(
            city,
            read(city, "requester_org", grants["G1"], "ADMINISTRATIVE_BASIS"),
            403,
            "grant_not_active",
        )
    assert city.ok(city.get(f"/v1/grants/{grants['G1']}", who="approver_GA"))["status"] == "EXPIRED"
    # G4 was narrowed to the end of 2026; G5 and G6 run to 2027-01-10.
    city.set_time(at("2026-12-31T00:00:00Z"))
    with city.unchanged():
        refused(
            city,
            read(city, "requester_mz", grants["G4"], "DATA_VERIFICATION"),
            403,
            "grant_not_active",
        )
    city.ok(read(city, "requester_jingxin", grants["G6"], "WORK_REFERENCE"))
    reads_so_far += 1
    assert access_count(city) == reads_so_far

    # The trail: one entry per read, none for the refused ones.
    trail = city.ok(city.get("/v1/access-trail?limit=500", who="auditor"))
    assert len(trail["items"]) == reads_so_far and trail["next"] is None
    assert city.ok(city.get("/v1/access-trail?limit=500", who="admin"))["items"] == trail["items"]
    g6_trail = city.ok(city.get(f"/v1/grants/{grants['G6']}/access-trail", who="approver_SZ"))[
        "items"
    ]
    assert {(e["unit"], e["purpose"], e["dataset"]) for e in g6_trail} == {
        ("222404101", "WORK_REFERENCE", "SZ-POPULATION")
    }
    assert [e["rows"] for e in g6_trail] == [2, 1, 2]
    by_unit = city.ok(city.get("/v1/access-trail?unit=222404101", who="auditor"))["items"]
    assert by_unit == g6_trail
    assert (
        city.ok(city.get(f"/v1/grants/{grants['G6']}/access-trail", who="requester_jingxin"))[
            "items"
        ]
        == g6_trail
    )
    refused(city, city.get("/v1/access-trail", who="requester_org"), 403, "forbidden")
    refused(
        city,
        city.get(f"/v1/grants/{grants['G6']}/access-trail", who="requester_org"),
        404,
        "not_found",
    )

    # The chain: every message lands; grants and the revocation are there as recorded.
    report = city.relay()
    assert report.failed == []
    registry = city.session.contracts.grants
    for name, grant_id in grants.items():
        grant, owner_id, issued_at, revoked_at = registry.functions.grantOf(
            bytes.fromhex(grant_id[2:])
        ).call()
        stored = g[name]
        assert grant[3] == int(at(stored["valid_from"]).timestamp())
        assert grant[4] == int(at(stored["valid_until"]).timestamp())
        assert "0x" + grant[2].hex() == stored["scope_hash"]
        assert grant[6].hex() == stored["leaf_hash"]
        assert issued_at > 0 and owner_id == unit_id(stored["owner"])
        assert (revoked_at > 0) == (name == "G2")

    # No row value anywhere in the log or the outbox.
    assert_no_secrets(city)


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


def test_lists_and_visibility(city: ApiEnv) -> None:
    grants = demo_grants(city)
    datasets = city.ok(city.get("/v1/datasets?limit=4", who="requester_org"))
    assert [d["code"] for d in datasets["items"]] == sorted(DATASETS)[:4]
    rest = city.ok(city.get(f"/v1/datasets?after={datasets['next']}", who="requester_org"))
    assert [d["code"] for d in rest["items"]] == sorted(DATASETS)[4:]
    ga = city.ok(city.get("/v1/datasets/GA-CRIME-CHECK", who="auditor"))
    assert ga["owner"] == "GA" and ga["sharing_class"] == "CONDITIONAL"
    assert [f["name"] for f in ga["fields"]] == ["name", "id_number", "has_record", "clause_code"]
    assert (
        city.ok(city.get("/v1/datasets?owner=SZ", who="auditor"))["items"][0]["code"]
        == "SZ-POPULATION"
    )
    refused(city, city.get("/v1/datasets/NOPE", who="auditor"), 404, "not_found")

    def ids(path: str, who: str) -> set[str]:
        items = city.ok(city.get(path, who=who))["items"]
        return {i["grant_id"] for i in items}

    assert ids("/v1/grants", "auditor") == set(grants.values())
    assert ids("/v1/grants", "admin") == set(grants.values())
    assert ids("/v1/grants", "requester_org") == {grants["G1"], grants["G2"]}
    assert ids("/v1/grants", "approver_GA") == {grants["G1"]}
    assert ids("/v1/grants", "requester_jingxin") == {grants["G6"]}
    assert ids("/v1/grants?dataset=TY-VETERAN", "requester_mz") == {grants["G3"]}
    refused(city, city.get(f"/v1/grants/{grants['G1']}", who="requester_mz"), 404, "not_found")
    page1 = city.ok(city.get("/v1/grants?limit=2", who="auditor"))
    page2 = city.ok(city.get(f"/v1/grants?limit=10&after={page1['next']}", who="auditor"))
    assert [g["grant_id"] for g in page1["items"] + page2["items"]] == [
        grants[k]
        for k in ("G6", "G1", "G2", "G3", "G4", "G5")  # by the answers' log order
    ]

    requests = city.ok(city.get("/v1/grant-requests", who="requester_mz"))["items"]
    assert [(r["dataset"], r["status"]) for r in requests] == [
        ("TY-VETERAN", "APPROVED"),
        ("WJ-DEATH-CERT", "APPROVED"),
    ]
    assert len(city.ok(city.get("/v1/grant-requests", who="auditor"))["items"]) == 6
    assert len(city.ok(city.get("/v1/grant-requests", who="approver_RS"))["items"]) == 1
    refused(city, city.get("/v1/grant-requests?after=x", who="auditor"), 400, "invalid_input")
