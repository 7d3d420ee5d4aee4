"""Single records posted concurrently share transactions (group commit): every writer
gets its own, gapless leaf indices, every acknowledged record is committed and
readable, and a record refused by the checks never reaches a group."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from ledger.journal import Draft, GroupCommit, prepare
from ledger.store.domain import records
from tests.api.env import ApiEnv, error_code

CLERK = "clerk_DEMO-FANGCHUAN"


def test_concurrent_single_records_get_distinct_gapless_indices_and_are_durable(
    city: ApiEnv,
) -> None:
    start = city.ledger.log.sequenced_size()
    barrier = threading.Barrier(16)

    def post(n: int) -> dict[str, object]:
        barrier.wait()  # all at once, so groups really form
        r = city.post("/v1/records", {"kind": "record.meeting", "body": {"n": n}}, who=CLERK)
        assert r.status_code == 201, r.text
        created: dict[str, object] = r.json()
        return created

    with ThreadPoolExecutor(16) as pool:
        created = list(pool.map(post, range(16)))
    indices = sorted(int(str(c["leaf_index"])) for c in created)
    assert indices == list(range(start, start + 16))
    with city.ledger.engine.connect() as conn:
        stored = {r.id for r in conn.execute(sa.select(records.c.id))}
    assert {str(c["id"]) for c in created} <= stored
    for c in created:
        entry = city.ok(city.get(f"/v1/records/{c['id']}", who="auditor"))["entry"]
        assert entry["id"] == c["id"]


def test_a_refused_record_never_joins_a_group_and_the_others_commit(city: ApiEnv) -> None:
    # Records are checked before they queue for a group: one writer's bad record is
    # refused on its own (a failed shared transaction would fail its whole group).
    barrier = threading.Barrier(8)

    def post(n: int) -> int:
        barrier.wait()
        kind = "vetting.forged" if n == 3 else "record.meeting"
        r = city.post("/v1/records", {"kind": kind, "body": {"n": n}}, who=CLERK)
        return r.status_code

    before = city.row_counts()["records"]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, range(8)))
    assert statuses.count(201) == 7 and statuses[3] == 400
    assert city.row_counts()["records"] == before + 7
    bad = city.post("/v1/records", {"kind": "vetting.forged", "body": {}}, who=CLERK)
    assert error_code(bad) == "invalid_input"


def test_group_commit_hands_each_caller_its_own_entries(city: ApiEnv) -> None:
    group = GroupCommit(city.ledger.engine)
    now = city.now

    def write(n: int) -> list[str]:
        batch = prepare(
            [Draft("record.x", "SZ", {"n": n, "i": i}) for i in range(3)],
            now=now,
            principal_id=None,
        )
        return [str(w.entry.body["n"]) for w in group.write(batch)]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(write, range(12)))
    assert results == [[str(n)] * 3 for n in range(12)]
