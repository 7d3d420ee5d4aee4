"""Bad input to the sharing API: each refused with its status and code, and nothing written.

Also: error messages never quote a row value, and erasing a batch (crypto-shredding)
leaves its rows unreadable while the others are still served.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from ledger.sealing import SealedData
from ledger.sharing.datasets import rows_digest
from ledger.store.domain import dataset_rows
from tests.api.env import ApiEnv
from tests.api.sharing_demo import (
    DATASETS,
    PERSONS,
    W1,
    item,
    publish,
    read,
    refused,
    request,
)

GA = "GA-CRIME-CHECK"
CASES = "GA-CASE-FILES"
ID = PERSONS[0]["id_number"]


def dataset_body(code: str = GA, **changes: Any) -> dict[str, Any]:
    _, name, sharing_class, fields = DATASETS.get(code, DATASETS[GA])
    return {"code": code, "name": name, "sharing_class": sharing_class, "fields": fields} | changes


def row(**values: Any) -> dict[str, Any]:
    return {"division": "DEMO-FANGCHUAN", "values": values}


def test_bad_datasets_and_rows(city: ApiEnv) -> None:
    def post(body: Any, who: str = "approver_GA") -> Any:
        return city.post("/v1/datasets", body, who=who)

    with city.unchanged():
        malformed = city.client.post(
            "/v1/datasets", content=b'{"code": ', headers=city.headers("approver_GA")
        )
        refused(city, malformed, 422, "invalid_request")
        refused(city, post(dataset_body(extra=1)), 422, "invalid_request")
        refused(city, post(dataset_body(sharing_class="SOMETIMES")), 422, "invalid_request")
        refused(
            city,
            post(dataset_body(fields=[item("x") | {"personal": "yes"}])),
            422,
            "invalid_request",
        )
        refused(
            city, post(dataset_body(fields=[item("x") | {"type": "float"}])), 422, "invalid_request"
        )
        refused(city, post(dataset_body(fields=[])), 422, "invalid_request")
        refused(city, post(dataset_body(code="有 space")), 422, "invalid_request")
        refused(city, post(dataset_body(fields=[item("x", masking="date")])), 400, "invalid_input")
        refused(city, post(dataset_body(fields=[item("x"), item("x")])), 400, "invalid_input")
        refused(city, post(dataset_body(), who="requester_org"), 403, "forbidden")
    publish(city, GA)
    with city.unchanged():
        refused(city, post(dataset_body()), 409, "dataset_exists")

    def rows(body: Any, who: str = "approver_GA", code: str = GA) -> Any:
        return city.post(f"/v1/datasets/{code}/rows", body, who=who)

    good = row(name=PERSONS[0]["name"], id_number=ID, has_record=False, clause_code=None)
    with city.unchanged():
        r = rows({"rows": [good, row(id_number=ID, criminal_record="盗窃")]})
        refused(city, r, 400, "unknown_field")
        assert "criminal_record" in r.json()["error"]["message"]
        r = rows({"rows": [row(id_number=ID, has_record="yes")]})
        refused(city, r, 400, "invalid_value")
        r = rows({"rows": [row(id_number=int(ID[:17]))]})
        refused(city, r, 400, "invalid_value")
        assert ID[:17] not in r.json()["error"]["message"]
        refused(city, rows({"rows": [row(has_record=1)]}), 400, "invalid_value")
        refused(city, rows({"rows": [row(clause_code=2.5)]}), 400, "invalid_value")
        refused(city, rows({"rows": [good | {"division": "222404999"}]}), 400, "unknown_division")
        refused(city, rows({"rows": [good | {"division": "GA"}]}), 400, "unknown_division")
        refused(city, rows({"rows": [good]}, who="approver_FY"), 403, "not_dataset_owner")
        refused(city, rows({"rows": [good]}, who="requester_org"), 403, "forbidden")
        refused(city, rows({"rows": [good]}, code="NOPE"), 404, "not_found")
        refused(city, rows({"rows": []}), 422, "invalid_request")
        refused(city, rows({"rows": [good] * 5001}), 422, "invalid_request")
        refused(city, rows({"rows": [good | {"extra": 1}]}), 422, "invalid_request")
        refused(
            city,
            rows({"rows": [{"division": "DEMO-FANGCHUAN", "values": [ID]}]}),
            422,
            "invalid_request",
        )
    # A date field takes real dates only.
    city.ok(city.post("/v1/datasets", dataset_body("WJ-DEATH-CERT"), who="approver_WJ"), 201)
    with city.unchanged():
        r = rows({"rows": [row(death_date="2026-02-30")]}, who="approver_WJ", code="WJ-DEATH-CERT")
        refused(city, r, 400, "invalid_value")


def test_bad_requests_answers_and_revocations(city: ApiEnv) -> None:
    publish(city, GA)
    not_shared = dataset_body(CASES, name="案件卷宗", sharing_class="NOT_SHARED")
    city.ok(city.post("/v1/datasets", not_shared, who="approver_GA"), 201)
    fields = ["has_record", "clause_code"]

    def ask(body: dict[str, Any], who: str = "requester_org") -> Any:
        base = {
            "dataset": GA,
            "purpose": "ADMINISTRATIVE_BASIS",
            "scenario": "2026年两委换届资格联审",
            "legal_basis": "《政务数据共享条例》",
            "fields": fields,
            "valid_from": W1[0],
            "valid_until": W1[1],
        }
        return city.post("/v1/grant-requests", base | body, who=who)

    with city.unchanged():
        refused(city, ask({"dataset": CASES}), 403, "dataset_not_shared")
        refused(city, ask({"dataset": "NOPE"}), 404, "not_found")
        refused(city, ask({"fields": ["has_record", "religion"]}), 400, "unknown_field")
        refused(city, ask({"fields": ["has_record", "has_record"]}), 400, "invalid_input")
        refused(city, ask({"valid_from": W1[1], "valid_until": W1[0]}), 400, "invalid_window")
        refused(city, ask({"valid_until": W1[0]}), 400, "invalid_window")
        refused(
            city,
            ask({"valid_from": "2025-01-01T00:00:00Z", "valid_until": "2025-12-31T00:00:00Z"}),
            400,
            "invalid_window",
        )
        refused(city, ask({"valid_until": "2026-02-30T00:00:00Z"}), 400, "invalid_window")
        refused(city, ask({"valid_until": "2026-03-31"}), 422, "invalid_request")
        refused(city, ask({"purpose": "CURIOSITY"}), 422, "invalid_request")
        refused(city, ask({"fields": "has_record"}), 422, "invalid_request")
        refused(city, ask({}, who="approver_FY"), 403, "forbidden")
        refused(city, ask({}, who="handler_GA"), 403, "forbidden")

    pending = city.ok(ask({}), 201)
    assert pending["status"] == "PENDING" and pending["answer"] is None
    rid = pending["id"]
    path = f"/v1/grant-requests/{rid}/answer"

    def respond(body: dict[str, Any], who: str = "approver_GA") -> Any:
        return city.post(path, body, who=who)

    with city.unchanged():
        # Nothing to read before the answer: there is no grant.
        refused(
            city,
            read(city, "requester_org", "0x" + "00" * 32, "ADMINISTRATIVE_BASIS"),
            404,
            "not_found",
        )
        refused(
            city,
            read(city, "requester_org", "0xABC", "ADMINISTRATIVE_BASIS"),
            422,
            "invalid_request",
        )
        refused(city, respond({"decision": "DENIED"}), 400, "reason_required")
        refused(city, respond({"decision": "DENIED", "reason": "   "}), 400, "reason_required")
        refused(
            city,
            respond({"decision": "DENIED", "reason": "x", "fields": fields}),
            400,
            "invalid_input",
        )
        refused(
            city,
            respond({"decision": "PARTIALLY_APPROVED", "fields": ["name"]}),
            400,
            "invalid_fields",
        )
        refused(
            city,
            respond({"decision": "PARTIALLY_APPROVED", "fields": fields}),
            400,
            "invalid_fields",
        )
        refused(city, respond({"decision": "PARTIALLY_APPROVED"}), 400, "invalid_fields")
        refused(
            city, respond({"decision": "APPROVED", "fields": ["has_record"]}), 400, "invalid_fields"
        )
        refused(
            city,
            respond({"decision": "APPROVED", "valid_from": "2026-01-01T00:00:00Z"}),
            400,
            "invalid_window",
        )
        refused(
            city,
            respond({"decision": "APPROVED", "valid_until": "2026-04-30T00:00:00Z"}),
            400,
            "invalid_window",
        )
        refused(city, respond({"decision": "MAYBE"}), 422, "invalid_request")
        refused(city, respond({"decision": "APPROVED", "extra": 1}), 422, "invalid_request")
        refused(city, respond({"decision": "APPROVED"}, who="approver_FY"), 404, "not_found")
        refused(city, respond({"decision": "APPROVED"}, who="requester_org"), 403, "forbidden")
        refused(
            city,
            city.post(
                "/v1/grant-requests/nope/answer", {"decision": "APPROVED"}, who="approver_GA"
            ),
            404,
            "not_found",
        )

    denied = city.ok(respond({"decision": "DENIED", "reason": "不属于联审范围"}))
    assert denied["status"] == "DENIED" and denied["answer"]["grant_id"] is None
    assert denied["answer"]["reason"] == "不属于联审范围"
    with city.unchanged():
        refused(city, respond({"decision": "APPROVED"}), 409, "already_answered")

    granted = city.ok(
        city.post(
            f"/v1/grant-requests/{city.ok(ask({}), 201)['id']}/answer",
            {"decision": "APPROVED"},
            who="approver_GA",
        )
    )
    grant = granted["answer"]["grant_id"]
    with city.unchanged():
        refused(
            city,
            city.post(
                f"/v1/grant-requests/{granted['id']}/answer",
                {"decision": "DENIED", "reason": "x"},
                who="approver_GA",
            ),
            409,
            "already_answered",
        )
        refused(city, read(city, "requester_org", grant, "WORK_REFERENCE"), 403, "purpose_mismatch")
        refused(
            city,
            read(city, "requester_org", grant, "ADMINISTRATIVE_BASIS", limit=0),
            422,
            "invalid_request",
        )
        refused(
            city,
            read(city, "requester_org", grant, "ADMINISTRATIVE_BASIS", filter={"village": "x"}),
            422,
            "invalid_request",
        )
        refused(city, read(city, "requester_mz", grant, "ADMINISTRATIVE_BASIS"), 403, "not_grantee")
        refused(city, read(city, "approver_GA", grant, "ADMINISTRATIVE_BASIS"), 403, "forbidden")
        revoke = f"/v1/grants/{grant}/revoke"
        refused(city, city.post(revoke, {"reason": "x"}, who="approver_FY"), 404, "not_found")
        refused(city, city.post(revoke, {"reason": "x"}, who="requester_org"), 403, "forbidden")
        refused(city, city.post(revoke, {"reason": ""}, who="approver_GA"), 422, "invalid_request")
        refused(
            city, city.post(revoke, {"reason": "   "}, who="approver_GA"), 400, "reason_required"
        )
    city.ok(city.post(revoke, {"reason": "联审结束"}, who="approver_GA"))
    with city.unchanged():
        refused(
            city, city.post(revoke, {"reason": "again"}, who="approver_GA"), 409, "already_revoked"
        )
        refused(
            city,
            read(city, "requester_org", grant, "ADMINISTRATIVE_BASIS"),
            403,
            "grant_not_active",
        )
    assert city.relay().failed == []


def test_bulk_ingest_and_erased_batch(city: ApiEnv) -> None:
    code = "SZ-POPULATION"
    publish(city, code)  # one batch of the demo persons
    divisions = ["222404101", "DEMO-FANGCHUAN", "DEMO-MAXIN", "222404"]
    big = [
        {
            "division": divisions[n % 4],
            "values": {"name": f"居民{n}", "id_number": f"2224041990{n:08d}", "gender": "F"},
        }
        for n in range(5000)
    ]
    started = time.perf_counter()
    done = city.ok(city.post(f"/v1/datasets/{code}/rows", {"rows": big}, who="approver_SZ"), 201)
    elapsed = time.perf_counter() - started
    assert done["rows"] == 5000 and done["digest"].startswith("sha256:")
    with city.ledger.engine.connect() as conn:
        stored = conn.execute(
            sa.select(dataset_rows.c.nonce, dataset_rows.c.ciphertext)
            .where(dataset_rows.c.batch_record_id == done["batch"])
            .order_by(dataset_rows.c.id)
        ).all()
    assert rows_digest([SealedData(bytes(n), bytes(c)) for n, c in stored]) == done["digest"]
    logged = city.ok(city.get(f"/v1/records/{done['batch']}", who="auditor"))["entry"]
    assert logged["kind"] == "sharing.rows.ingested" and logged["sealed"] is None
    assert logged["body"] == {
        "dataset": code,
        "batch": done["batch"],
        "rows": 5000,
        "digest": done["digest"],
    }
    print(f"ingest of 5000 rows through the API: {elapsed:.2f} s ({5000 / elapsed:.0f} rows/s)")

    made = request(
        city,
        "requester_jingxin",
        code,
        ["name", "gender"],
        "WORK_REFERENCE",
        ("2026-01-10T00:00:00Z", "2027-01-10T00:00:00Z"),
    )
    grant = made["answer"]["grant_id"]
    assert read_all(city, grant) == 2 + 2500  # two demo persons, and half the big batch

    # Erasing the big batch (its one data key) leaves only the demo batch readable.
    city.ok(city.post(f"/v1/records/{done['batch']}/erase", {"reason": "数据更新"}))
    assert read_all(city, grant) == 2


def read_all(env: ApiEnv, grant: str) -> int:
    """Rows readable under ``grant`` by 敬信镇, page by page; all in its jurisdiction."""
    seen, after = 0, None
    while True:
        page = env.ok(
            read(env, "requester_jingxin", grant, "WORK_REFERENCE", limit=1000, after=after)
        )
        assert {r["division"] for r in page["rows"]} <= {"222404101", "DEMO-FANGCHUAN"}
        seen += len(page["rows"])
        if page["next"] is None:
            return seen
        after = page["next"]
