"""Records over HTTP: write (single, batch), read, personal data for its unit only,
erasure with a tombstone, receipts that verify against the chain, and refusals."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from ledger.chain.lookup import anchored_root_from_web3
from ledger.entries import Entry
from ledger.receipts import parse_receipt, verify_receipt
from ledger.store.domain import data_keys, sealed_data
from tests.api.env import ApiEnv, error_code

CLERK = "clerk_DEMO-FANGCHUAN"
NOTICE = {"title": "防川村2026年第一季度村务公开", "items": ["低保名单公示", "道路维修"]}
PERSON = {"name": "金明哲", "phone": "13900000000"}


def _write(city: ApiEnv, who: str = CLERK, **extra: object) -> dict[str, object]:
    body = {"kind": "record.village_notice", "body": NOTICE, **extra}
    created: dict[str, object] = city.ok(city.post("/v1/records", body, who=who), 201)
    return created


def test_a_record_is_logged_at_once_and_read_back_by_anyone_with_read_rights(
    city: ApiEnv,
) -> None:
    created = _write(city)
    got = city.ok(city.get(f"/v1/records/{created['id']}", who="auditor"))
    entry = Entry.from_json(got["entry"])
    assert entry.kind == "record.village_notice"
    assert entry.unit == "DEMO-FANGCHUAN"  # the caller's unit, never the body's say-so
    assert got["entry"]["body"] == NOTICE and entry.sealed is None
    assert got["leaf_hash"] == created["leaf_hash"] == entry.leaf_hash().hex()
    assert got["leaf_index"] == created["leaf_index"]
    # Durable before the reply: the leaf is in the log already.
    assert city.ledger.log.leaf(int(str(created["leaf_index"]))) is not None


def test_personal_data_is_sealed_shown_to_its_unit_only_and_erasable(city: ApiEnv) -> None:
    created = _write(city, personal=PERSON)
    rid = created["id"]
    own = city.ok(city.get(f"/v1/records/{rid}", who=CLERK))
    assert own["personal"] == PERSON
    assert own["entry"]["sealed"].startswith("sha256:")
    assert "金明哲" not in json.dumps(own["entry"], ensure_ascii=False)
    other = city.ok(city.get(f"/v1/records/{rid}", who="clerk_DEMO-MENGLING"))
    assert other["personal"] is None
    with city.ledger.engine.connect() as conn:
        stored = conn.execute(sa.select(sealed_data.c.ciphertext)).scalars().all()
    assert all("金明哲".encode() not in bytes(c) for c in stored)

    city.anchor()
    before = city.ok(city.get(f"/v1/records/{rid}/receipt", who="auditor"))
    tombstone = city.ok(city.post(f"/v1/records/{rid}/erase", {"reason": "PIPL Art. 47"}), 200)
    after = city.ok(city.get(f"/v1/records/{rid}", who=CLERK))
    assert after["erased"] is True and after["personal"] is None
    assert after["entry"] == own["entry"]  # the leaf is untouched
    with city.ledger.engine.connect() as conn:
        assert (
            conn.execute(sa.select(data_keys).where(data_keys.c.record_id == rid)).first() is None
        )
    city.anchor()
    # The old receipt still verifies: erasure removed the key, not the leaf.
    lookup = anchored_root_from_web3(city.session.chain.w3)
    assert verify_receipt(parse_receipt(before), anchored_root=lookup).ok
    tomb = city.ok(city.get(f"/v1/records/{tombstone['id']}", who="auditor"))["entry"]
    assert tomb["kind"] == "record.erased" and tomb["body"]["record"] == rid
    with city.unchanged():
        again = city.post(f"/v1/records/{rid}/erase", {"reason": "again"})
        assert (again.status_code, error_code(again)) == (409, "conflict")


def test_a_batch_is_written_all_or_nothing(city: ApiEnv) -> None:
    batch = {"records": [{"kind": "record.meeting", "body": {"n": i}} for i in range(50)]}
    written = city.ok(city.post("/v1/records/batch", batch, who=CLERK), 201)["records"]
    assert [w["leaf_index"] for w in written] == list(
        range(written[0]["leaf_index"], written[0]["leaf_index"] + 50)
    )
    bad = {"records": [*batch["records"], {"kind": "vetting.decision", "body": {}}]}
    with city.unchanged():
        r = city.post("/v1/records/batch", bad, who=CLERK)
        assert (r.status_code, error_code(r)) == (400, "invalid_input")
        assert "records[50].kind" in r.json()["error"]["message"]


def test_a_receipt_is_a_409_until_anchored_then_verifies_against_the_chain(city: ApiEnv) -> None:
    created = _write(city)
    with city.unchanged():
        early = city.get(f"/v1/records/{created['id']}/receipt", who="auditor")
        assert (early.status_code, error_code(early)) == (409, "not_anchored")
    city.anchor()
    receipt = parse_receipt(city.ok(city.get(f"/v1/records/{created['id']}/receipt")))
    assert receipt.entry["id"] == created["id"]
    result = verify_receipt(
        receipt,
        anchored_root=anchored_root_from_web3(city.session.chain.w3),
        log_key=city.ledger.signer.verifier().to_verifier_key(),
    )
    assert result.ok, result.to_json()
    missing = city.get("/v1/records/no-such-record/receipt")
    assert (missing.status_code, error_code(missing)) == (404, "not_found")


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b'{"kind": "record", "body": {', 422, "invalid_request"),  # malformed JSON
        (b'{"kind": "record", "body": []}', 422, "invalid_request"),  # wrong type
        (b'{"kind": 7, "body": {}}', 422, "invalid_request"),
        (b'{"kind": "record", "body": {}, "unit": "GA"}', 422, "invalid_request"),  # unknown
        (b'{"body": {"n": 1e400}}', 400, "invalid_entry"),  # not I-JSON
        (b'{"kind": "unit.registered", "body": {}}', 400, "invalid_input"),  # reserved kind
        (b'{"kind": "record", "body": {"n": 9007199254740993}}', 400, "invalid_entry"),
        (b"[]", 422, "invalid_request"),
    ],
)
def test_bad_records_are_refused_and_nothing_is_written(
    city: ApiEnv, content: bytes, status: int, code: str
) -> None:
    with city.unchanged():
        r = city.client.post(
            "/v1/records",
            content=content,
            headers={**city.headers(CLERK), "Content-Type": "application/json"},
        )
        assert (r.status_code, error_code(r)) == (status, code), r.text


def test_an_oversize_body_is_a_413_and_nothing_is_written(city: ApiEnv) -> None:
    limit = city.ledger.settings.max_body_bytes
    huge = json.dumps({"kind": "record", "body": {"blob": "x" * limit}}).encode()
    with city.unchanged():
        r = city.client.post(
            "/v1/records",
            content=huge,
            headers={**city.headers(CLERK), "Content-Type": "application/json"},
        )
        assert (r.status_code, error_code(r)) == (413, "body_too_large")


def test_the_auditor_may_not_write_records(city: ApiEnv) -> None:
    with city.unchanged():
        r = city.post("/v1/records", {"kind": "record", "body": {}}, who="auditor")
        assert (r.status_code, error_code(r)) == (403, "forbidden")
