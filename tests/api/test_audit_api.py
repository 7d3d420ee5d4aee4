"""The audit over the demo city (both databases, eth-tester): vetting decisions, grants,
revocations and governed reads made through the API, relayed and anchored, audit clean;
then the database is tampered with directly (SQL, the append-only protections off) and
each change is found against the signed messages, the contracts and the chain's anchors.

The flow is small on purpose (three candidates, two grants, one read, one revocation):
every kind of message and every check runs, in a few seconds per database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from ledger import demo
from ledger.audit import AuditReport, Finding, run_audit
from ledger.chain.reads import ChainReads
from tests.api.env import ApiEnv

PERSON = {
    "name": "金明哲",
    "id_number": "222404197803120316",
    "gender": "M",
    "ethnicity": "朝鲜族",
    "political_status": "中共党员",
    "education": "大专",
    "phone": "0433-7500000",
    "address": "吉林省珲春市",
}
CANDIDATES = {  # key -> (village, id number)
    "C1": ("DEMO-FANGCHUAN", "222404197803120316"),
    "C3": ("DEMO-MENGLING", "222404199001051573"),
    "C6": ("DEMO-SANAN", "222404199504171286"),
}
FIELDS = [
    {"name": "name", "type": "string", "sensitivity": "SENSITIVE", "personal": True},
    {"name": "has_record", "type": "boolean", "sensitivity": "GENERAL", "personal": False},
    {"name": "clause_code", "type": "string", "sensitivity": "GENERAL", "personal": False},
]
WINDOW = ("2026-01-05T00:00:00Z", "2026-03-31T00:00:00Z")


def _township(village: str) -> str:
    return demo.VILLAGES[village][1]


def _candidate(env: ApiEnv, key: str) -> str:
    village, id_number = CANDIDATES[key]
    body = {
        "round": demo.ROUND_CODE,
        "committee": "VILLAGERS_CMTE",
        "post": "委员",
        "incumbent": False,
        "person": {**PERSON, "id_number": id_number, "gender": "MF"[int(id_number[16]) % 2 == 0]},
    }
    created = env.ok(env.post("/v1/candidates", body, who=f"clerk_{village}"), 201)
    cid: str = created["id"]
    return cid


def _decide(env: ApiEnv, cid: str, path: str, body: dict[str, Any], who: str) -> None:
    env.ok(env.post(f"/v1/candidates/{cid}/{path}", body, who=who), 201)


def _grant(env: ApiEnv, dataset: str, owner: str) -> str:
    env.ok(
        env.post(
            "/v1/datasets",
            {"code": dataset, "name": dataset, "sharing_class": "CONDITIONAL", "fields": FIELDS},
            who=f"approver_{owner}",
        ),
        201,
    )
    rows = [{"division": "DEMO-FANGCHUAN", "values": {"name": "金明哲", "has_record": False}}]
    env.ok(env.post(f"/v1/datasets/{dataset}/rows", {"rows": rows}, who=f"approver_{owner}"), 201)
    request = env.ok(
        env.post(
            "/v1/grant-requests",
            {
                "dataset": dataset,
                "purpose": "ADMINISTRATIVE_BASIS",
                "scenario": "2026年两委换届资格联审",
                "legal_basis": "《政务数据共享条例》",
                "fields": ["has_record", "clause_code"],
                "valid_from": WINDOW[0],
                "valid_until": WINDOW[1],
            },
            who="requester_org",
        ),
        201,
    )
    answered = env.ok(
        env.post(
            f"/v1/grant-requests/{request['id']}/answer",
            {"decision": "APPROVED"},
            who=f"approver_{owner}",
        )
    )
    grant_id: str = answered["answer"]["grant_id"]
    return grant_id


@pytest.fixture
def flows(city: ApiEnv) -> Iterator[dict[str, str]]:
    """C1 passes, C3 is deferred (FY needs information), C6 is returned at stage 2; grant
    G1 (GA) is read once, grant G2 (FY) is revoked; everything relayed and anchored."""
    env = city
    env.ok(
        env.post(
            "/v1/rounds",
            {
                "code": demo.ROUND_CODE,
                "name": demo.ROUND_NAME,
                "kind": "GENERAL",
                "election_day": demo.ROUND_ELECTION_DAY.isoformat(),
                "departments": list(demo.ROUND_DEPARTMENTS),
            },
            who="org_admin",
        ),
        201,
    )
    ids = {key: _candidate(env, key) for key in CANDIDATES}
    for key, cid in ids.items():
        village = CANDIDATES[key][0]
        _decide(env, cid, "pre-review", {"verdict": "PASS"}, f"sec_{village}")
        verdict = {"verdict": "RETURN", "note": "缺少材料"} if key == "C6" else {"verdict": "PASS"}
        _decide(env, cid, "preliminary-review", verdict, f"reviewer_{_township(village)}")
    for key in ("C1", "C3"):
        for dept in demo.ROUND_DEPARTMENTS:
            body: dict[str, Any] = {"opinion": "NO_RECORD"}
            if key == "C3" and dept == "FY":
                body = {"opinion": "NEEDS_INFO", "clause_codes": ["N9"]}
            _decide(env, ids[key], "opinions", body, f"handler_{dept}")
    g1 = _grant(env, "GA-CRIME-CHECK", "GA")
    g2 = _grant(env, "FY-DEBTOR-CHECK", "FY")
    read = env.ok(
        env.post(f"/v1/grants/{g1}/reads", {"purpose": "ADMINISTRATIVE_BASIS"}, who="requester_org")
    )
    env.relay()
    env.ok(env.post(f"/v1/grants/{g2}/revoke", {"reason": "联审结束"}, who="approver_FY"))
    report = env.relay()
    assert not report.failed, report.failed
    env.anchor()
    yield {**ids, "G1": g1, "G2": g2, "read": read["access_record"]}


def audit(env: ApiEnv) -> AuditReport:
    return run_audit(
        env.ledger.engine,
        verifier=env.ledger.signer.verifier(),
        origin=env.ledger.settings.log_origin,
        master=env.ledger.master,
        chain=ChainReads(env.session.chain.w3, source="eth-tester"),
    )


def tamper(env: ApiEnv, statement: str, **params: Any) -> None:
    """SQL with the append-only protections off, as an attacker would run it."""
    with env.ledger.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            triggers = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).scalars()
            for name in list(triggers):
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(sa.text(statement), params)


def value(env: ApiEnv, sql: str, **params: Any) -> Any:
    with env.ledger.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def row(env: ApiEnv, sql: str, **params: Any) -> Any:
    with env.ledger.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).first()


def found(report: AuditReport, code: str, record: str | None = None) -> list[Finding]:
    hits = [f for f in report.findings if f.code == code]
    if record is not None:
        hits = [f for f in hits if record in f.record_ids]
    assert hits, f"no {code} naming {record} in {sorted(report.codes())}"
    return hits


def test_state_and_anchors_against_the_chain(city: ApiEnv, flows: dict[str, str]) -> None:
    """One flow, audited in stages (the flow takes most of the time): clean; a decision
    not yet relayed; then independent tampers, each found; then the anchors."""
    # -- 1. clean: not even a notice, everything is relayed and anchored
    report = audit(city)
    assert report.ok and report.findings == [], [f.to_json() for f in report.findings]
    assert report.checked["candidates"] == 3 and report.checked["grants_on_chain"] == 2
    assert report.checked["revocations"] == 1 and report.checked["access_entries"] == 1
    assert report.checked["decisions"] == 3 * 2 + 2 * len(demo.ROUND_DEPARTMENTS)
    assert report.chain is not None and report.chain["head"][0] == report.checked["leaves"]

    # -- 2. a decision not relayed yet: a notice, not a finding
    _decide(city, flows["C3"], "opinions", {"opinion": "NO_RECORD"}, "handler_FY")
    report = audit(city)
    assert report.ok, [f.to_json() for f in report.errors]
    (pending,) = found(report, "relay_pending")
    assert pending.evidence["waiting"] == {"decision": 1}
    assert report.codes() == {"relay_pending", "log_unsigned_tail"}
    city.relay()
    city.anchor()
    assert audit(city).findings == []

    # -- 3. tampered vetting, grants and access, each found against its signed message,
    #       the contracts or the grants
    verdict = _tamper_a_verdict(city, flows["C1"])
    deleted = _delete_a_decision(city, flows["C3"])
    widened = _widen_a_grant(city, flows["G1"])
    revocation = _delete_a_revocation(city, flows["G2"])
    outside, stranger = _forge_reads(city, flows["G1"])
    refused = _refused_relay(city, flows["C6"])
    report = audit(city)
    assert not report.ok
    verdict(report)
    deleted(report)
    widened(report)
    revocation(report)
    outside(report)
    stranger(report)
    refused(report)
    # The genuine read, inside its grant's window, is not reported.
    assert not [f for f in report.findings if flows["read"] in f.record_ids]

    # -- 4. checkpoints and anchors against the chain
    size = value(city, "SELECT max(tree_size) FROM log_checkpoints")
    tamper(
        city, "UPDATE log_checkpoints SET root_hash = :r WHERE tree_size = :s", r=bytes(32), s=size
    )
    tamper(
        city, "UPDATE chain_anchors SET root_hash = :r WHERE tree_size = :s", r=bytes(32), s=size
    )
    report = audit(city)
    (anchor,) = found(report, "anchor_root_mismatch")
    assert anchor.evidence["tree_size"] == size
    roots = anchor.evidence["roots"]
    assert roots["chain"] == roots["checkpoint"] == roots["leaves"] != bytes(32)
    assert [k for k, v in roots.items() if v == bytes(32)] == [
        f"db_anchor[{city.session.chain.chain_id}]"
    ]
    found(report, "checkpoint_row_mismatch")
    tamper(city, "DELETE FROM log_checkpoints WHERE tree_size = :s", s=size)
    tamper(city, "DELETE FROM chain_anchors WHERE tree_size = :s", s=size)
    report = audit(city)
    assert found(report, "anchor_without_checkpoint")[0].evidence["tree_size"] == size
    assert found(report, "anchor_missing_from_db")[0].evidence["tree_size"] == size
    assert found(report, "chain_head_unknown")[0].evidence["tree_size"] == size


Check = Callable[[AuditReport], None]


def _tamper_a_verdict(env: ApiEnv, cid: str) -> Check:
    """C1's first joint-review opinion (NO_RECORD) becomes RECORD_FOUND in the database."""
    decision, record = row(
        env,
        "SELECT id, record_id FROM vetting_decisions WHERE candidate_id = :c AND seq = 2",
        c=cid,
    )
    tamper(env, "UPDATE vetting_decisions SET verdict = 2 WHERE id = :d", d=decision)

    def check(report: AuditReport) -> None:
        (mismatch,) = found(report, "signed_message_mismatch", record)
        assert "digest" in mismatch.evidence["differs"] and mismatch.leaf_indices
        (state,) = found(report, "vetting_state_mismatch", record)
        assert state.evidence["chain"]["outcome"] == 1  # PASSED on chain
        assert state.evidence["database"]["stage"] == 3
        # RECORD_FOUND without clauses: the contract's rules refuse it too.
        found(report, "vetting_rule_violation", record)

    return check


def _delete_a_decision(env: ApiEnv, cid: str) -> Check:
    """C3's NEEDS_INFO by FY (seq 5) is deleted."""
    record = value(
        env, "SELECT record_id FROM vetting_decisions WHERE candidate_id = :c AND seq = 5", c=cid
    )
    tamper(env, "DELETE FROM vetting_decisions WHERE record_id = :r", r=record)

    def check(report: AuditReport) -> None:
        found(report, "record_without_row", record)
        assert [f for f in found(report, "message_without_row") if f.evidence["kind"] == "decision"]
        (state,) = [
            f for f in found(report, "vetting_state_mismatch") if f.evidence["candidate"] == cid
        ]
        assert state.evidence["chain"]["outcome"] == 1  # PASSED, once FY resolved
        (gap,) = [
            f for f in found(report, "vetting_rule_violation") if f.evidence["candidate"] == cid
        ]
        assert "a decision is missing" in gap.message

    return check


def _widen_a_grant(env: ApiEnv, grant: str) -> Check:
    record = value(env, "SELECT record_id FROM grant_answers WHERE grant_id = :g", g=grant)
    tamper(
        env,
        "UPDATE grant_answers SET valid_until = :t WHERE grant_id = :g",
        t=datetime(2027, 1, 1, tzinfo=UTC),
        g=grant,
    )

    def check(report: AuditReport) -> None:
        (terms,) = found(report, "grant_mismatch", record)
        assert set(terms.evidence["differs"]) == {"valid_until"}
        found(report, "signed_message_mismatch", record)

    return check


def _delete_a_revocation(env: ApiEnv, grant: str) -> Check:
    record = value(env, "SELECT record_id FROM grant_revocations WHERE grant_id = :g", g=grant)
    tamper(env, "DELETE FROM grant_revocations WHERE grant_id = :g", g=grant)

    def check(report: AuditReport) -> None:
        (revoked,) = found(report, "grant_revocation_mismatch")
        assert revoked.evidence["grant"] == grant and "revoked on chain" in revoked.message
        found(report, "record_without_row", record)
        assert [
            f for f in found(report, "message_without_row") if f.evidence["kind"] == "revocation"
        ]

    return check


def _forge_reads(env: ApiEnv, grant: str) -> tuple[Check, Check]:
    """Two access entries inserted directly: one after the (even widened) window, one by
    a unit the grant is not for."""
    principal = value(env, "SELECT principal_id FROM access_entries LIMIT 1")
    for record, unit, at in (
        ("late-read", "ORG", datetime(2028, 1, 1, tzinfo=UTC)),
        ("stranger-read", "MZ", datetime(2026, 2, 1, tzinfo=UTC)),
    ):
        tamper(
            env,
            "INSERT INTO access_entries (record_id, grant_id, dataset_code, unit_code,"
            " principal_id, purpose, query_hash, rows_returned, at) VALUES (:r, :g,"
            " 'GA-CRIME-CHECK', :u, :p, 'ADMINISTRATIVE_BASIS', :q, 1, :at)",
            r=record,
            g=grant,
            u=unit,
            p=principal,
            q="0" * 64,
            at=at,
        )

    def late(report: AuditReport) -> None:
        (outside,) = found(report, "access_outside_grant", "late-read")
        assert outside.evidence["reasons"] == [
            "outside the grant's window 2026-01-05T00:00:00+00:00 .. 2027-01-01T00:00:00+00:00"
        ]
        found(report, "domain_row_without_record", "late-read")

    def stranger(report: AuditReport) -> None:
        (outside,) = found(report, "access_outside_grant", "stranger-read")
        assert outside.evidence["reasons"] == ["the grant is for unit ORG"]

    return late, stranger


def _refused_relay(env: ApiEnv, cid: str) -> Check:
    digest, record = row(
        env, "SELECT digest, record_id FROM vetting_decisions WHERE candidate_id = :c", c=cid
    )
    tamper(
        env,
        "INSERT INTO chain_relay_failures (chain_id, kind, item_id, error, failed_at) "
        "VALUES (:c, 'decision', :d, 'VettingRegistryOutOfOrder', :t)",
        c=env.session.chain.chain_id,
        d=digest,
        t=datetime(2026, 1, 10, tzinfo=UTC),
    )

    def check(report: AuditReport) -> None:
        (refused,) = found(report, "relay_refused", record)
        assert refused.evidence["item_id"] == digest

    return check
