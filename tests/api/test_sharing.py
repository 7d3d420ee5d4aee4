"""Data sharing through the API (DOMAIN.md §2, §6.3, §7.5), on both databases and eth-tester.

The six demo grants G1..G6, rows for several divisions, governed reads before, inside and
after each window and after a revocation, the access trail, the chain, and no row value
anywhere in the log or the outbox. The helpers here (no ``test_`` prefix) are shared with
the other ``test_sharing_*`` files.
"""

from __future__ import annotations

from ledger.chain.vetting import unit_id
from ledger.sharing.reads import query_hash
from tests.api.env import ApiEnv
from tests.api.sharing_demo import (
    DATASETS,
    PERSONS,
    access_count,
    assert_no_secrets,
    at,
    demo_grants,
    read,
    refused,
)


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
