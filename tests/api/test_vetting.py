"""Two-committee vetting through the API: the six demo candidates of DOMAIN.md §7.4 through
the whole chain, on both databases and eth-tester, checked in the views and on chain;
and every refusal, each leaving every table as it was.

The demo's persons are in :mod:`ledger.demo`, the calls in :mod:`tests.api.vetting_demo`:
:func:`run_demo` takes C1..C6 to their stated outcomes (C3 DEFERRED, C6 RETURNED); the
test then moves on from there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ledger import demo
from ledger.chain import vetting as v
from ledger.demo import FY_NOTE, GA_NOTE, PERSONAL_STRINGS, RETURN_NOTE
from tests.api.conftest import DEMO_NOW
from tests.api.env import ApiEnv, error_code
from tests.api.vetting_demo import (
    assert_chain_agrees,
    joint_review,
    on_chain,
    open_demo_round,
    opinion,
    pre_review,
    preliminary,
    register,
    registration,
    run_demo,
    through_township,
    view,
    with_check_digit,
)

# ---- the demo, end to end -------------------------------------------------------------------


def test_the_six_demo_candidates_reach_their_outcomes_in_the_views_and_on_chain(
    city: ApiEnv,
) -> None:
    ids = run_demo(city)
    lead = {key: view(city, cid, "org_admin") for key, cid in ids.items()}
    assert {k: c["outcome"] for k, c in lead.items()} == {
        "C1": "PASSED",
        "C2": "PASSED",
        "C3": "DEFERRED",
        "C4": "PASSED",
        "C5": "FAILED",
        "C6": "RETURNED",
    }
    assert lead["C1"]["person"]["name"] == "金明哲"
    assert lead["C1"]["person"]["id_number_masked"] == "222404********0316"
    assert lead["C1"]["person"]["birth_date"] == "1978-03-12"
    # C3: FY's NEEDS_INFO defers it for the round's 10 days from when FY asked.
    c3 = lead["C3"]
    assert c3["status"] == "DEFERRED" and c3["stage"] == "JOINT_REVIEW"
    assert c3["deferred_until"] == (DEMO_NOW + timedelta(days=10)).isoformat()
    assert c3["overdue"] is False
    fy = [d for d in c3["decisions"] if d["unit"] == "FY"]
    assert fy[0]["verdict"] == "NEEDS_INFO" and fy[0]["clause_codes"] == ["N9"]
    assert fy[0]["note"] == FY_NOTE
    # C5: GA found a record under N2; the lead sees the clause and the note.
    (ga,) = [d for d in lead["C5"]["decisions"] if d["unit"] == "GA"]
    assert (ga["verdict"], ga["clause_codes"], ga["note"]) == ("RECORD_FOUND", ["N2"], GA_NOTE)
    # C6: returned by the township's preliminary review for a missing pledge form.
    c6 = lead["C6"]
    assert (c6["status"], c6["stage"]) == ("RETURNED", "PRELIMINARY_REVIEW")
    assert c6["return_note"] == RETURN_NOTE

    report = city.relay()
    assert report.failed == []
    for cid in ids.values():
        assert_chain_agrees(city, cid)
    assert on_chain(city, lead["C3"]) == (v.Stage.JOINT_REVIEW, v.Outcome.DEFERRED)

    # Eleven days on, C3's deferral is overdue; FY resolves it and it passes.
    city.set_time(DEMO_NOW + timedelta(days=11))
    assert view(city, ids["C3"], "org_admin")["overdue"] is True
    resolved = city.ok(opinion(city, ids["C3"], "FY", "NO_RECORD", note="已核实，已移出名单"), 201)
    assert resolved["candidate"]["outcome"] == "PASSED"
    assert resolved["candidate"]["deferred_until"] is None
    # C6 corrected and resubmitted by its village: a new candidacy that goes all the way.
    again = register(city, "C6", resubmits=ids["C6"])
    assert again["resubmits"] == ids["C6"] and again["status"] == "PRE_REVIEW"
    through_township(city, "C6", again["id"])
    passed = joint_review(city, again["id"], {})
    assert passed["candidate"]["outcome"] == "PASSED"
    old = view(city, ids["C6"], "clerk_DEMO-SANAN")
    assert (old["outcome"], old["resubmitted_by"]) == ("RETURNED", again["id"])

    report = city.relay()
    assert report.failed == []
    for cid in [*ids.values(), again["id"]]:
        assert_chain_agrees(city, cid)
    assert on_chain(city, lead["C3"]) == (v.Stage.JOINT_REVIEW, v.Outcome.PASSED)

    # The auditor's trail: every act with its log record, leaf hash and relay transaction.
    trail = city.ok(city.get(f"/v1/candidates/{ids['C3']}/history", who="auditor"))
    kinds = [(e["kind"], e["stage"], e["unit"], e["verdict"]) for e in trail["events"]]
    assert kinds[:3] == [
        ("registered", None, "DEMO-MENGLING", None),
        ("decision", "PRE_REVIEW", "DEMO-MENGLING", "PASS"),
        ("decision", "PRELIMINARY_REVIEW", "222404102", "PASS"),
    ]
    assert kinds[-1] == ("decision", "JOINT_REVIEW", "FY", "NO_RECORD")
    assert len(kinds) == 1 + 2 + 5 + 1
    for event in trail["events"]:
        assert len(event["relays"]) == 1 and event["relays"][0]["tx_hash"].startswith("0x")
        assert event["clause_codes"] is None and event["note"] is None
        record = city.ok(city.get(f"/v1/records/{event['record_id']}", who="auditor"))
        assert record["leaf_hash"] == event["leaf_hash"]


# ---- refusals: each a 4xx with its code, and nothing written -----------------------------


def test_a_round_is_opened_by_the_lead_department_only_with_valid_departments(
    city: ApiEnv,
) -> None:
    good = {
        "code": "R2026",
        "name": demo.ROUND_NAME,
        "election_day": "2026-03-15",
        "departments": ["MZ", "GA"],
    }
    refusals = [
        ({**good}, "clerk_DEMO-FANGCHUAN", 403, "forbidden"),
        ({**good}, "auditor", 403, "forbidden"),
        ({**good, "departments": ["MZ", "NOPE"]}, "org_admin", 400, "invalid_department"),
        ({**good, "departments": ["MZ", "DEMO-SANAN"]}, "org_admin", 400, "invalid_department"),
        ({**good, "departments": ["GA", "MZ", "GA"]}, "org_admin", 400, "invalid_department"),
        ({**good, "departments": []}, "org_admin", 422, "invalid_request"),
        ({**good, "departments": ["GA"] * 33}, "org_admin", 422, "invalid_request"),
        ({**good, "election_day": "2025-12-31"}, "org_admin", 400, "invalid_election_day"),
        ({**good, "election_day": "2026-02-30"}, "org_admin", 422, "invalid_request"),
        ({**good, "kind": "SNAP"}, "org_admin", 422, "invalid_request"),
        ({**good, "deferral_days": 0}, "org_admin", 422, "invalid_request"),
        ({**good, "deferral_days": "10"}, "org_admin", 422, "invalid_request"),
        ({**good, "lead": "ORG"}, "org_admin", 422, "invalid_request"),
        ({**good, "code": "R 2026"}, "org_admin", 422, "invalid_request"),
    ]
    with city.unchanged():
        for body, who, status, code in refusals:
            got = city.post("/v1/rounds", body, who=who)
            assert (got.status_code, error_code(got)) == (status, code), body
    opened = city.ok(city.post("/v1/rounds", good, who="org_admin"), 201)
    assert opened["lead_department"] == "ORG" and opened["deferral_days"] == 10
    assert opened["round_id"] == "0x" + v.unit_id("R2026").hex()
    with city.unchanged():
        again = city.post("/v1/rounds", good, who="org_admin")
        assert (again.status_code, error_code(again)) == (409, "round_exists")
        missing = city.get("/v1/rounds/R1999", who="clerk_DEMO-SANAN")
        assert (missing.status_code, error_code(missing)) == (404, "round_not_found")
    assert city.ok(city.get("/v1/rounds/R2026", who="auditor")) == opened
    assert city.ok(city.get("/v1/rounds", who="handler_GA")) == {"items": [opened], "next": None}
    entry = city.ok(city.get(f"/v1/records/{opened['record_id']}"))["entry"]
    assert entry["kind"] == "vetting.round.opened" and entry["body"]["departments"] == ["MZ", "GA"]


def test_a_bad_registration_is_refused_and_nothing_is_written(city: ApiEnv) -> None:
    open_demo_round(city)
    c1 = register(city, "C1")
    clerk = "clerk_DEMO-FANGCHUAN"
    eighteen_tomorrow = with_check_digit("22240420080316123")  # 18 on 2026-03-16
    refusals: list[tuple[dict[str, Any], str, int, str]] = [
        (
            registration("C1", person={"id_number": "222404197803120317"}),
            clerk,
            400,
            "id_number_check_digit",
        ),
        (
            registration("C1", person={"id_number": with_check_digit("22240419990230123")}),
            clerk,
            400,
            "id_number_birth_date",
        ),
        (
            registration("C1", person={"id_number": eighteen_tomorrow}),
            clerk,
            400,
            "id_number_under_age",
        ),
        (
            registration("C1", person={"id_number": "222404780312031"}),
            clerk,
            400,
            "id_number_format",
        ),
        (registration("C5", person={"gender": "F"}), clerk, 400, "id_number_sex_mismatch"),
        (
            registration("C5", post="书记", committee="VILLAGERS_CMTE"),
            clerk,
            400,
            "post_not_in_committee",
        ),
        (registration("C5", round="R1999"), clerk, 404, "round_not_found"),
        # The same person again, here or in another village, while C1 is not RETURNED.
        (registration("C1"), clerk, 409, "candidate_exists"),
        (registration("C1"), "clerk_DEMO-SANAN", 409, "candidate_exists"),
        (registration("C5", resubmits=c1["id"]), clerk, 409, "invalid_resubmission"),
        (registration("C5", resubmits=c1["id"]), "clerk_DEMO-MAXIN", 403, "out_of_jurisdiction"),
        (registration("C5", resubmits="no-such-id"), clerk, 404, "candidate_not_found"),
        # Unknown fields and wrong types: never coerced.
        ({**registration("C5"), "score": 1}, clerk, 422, "invalid_request"),
        (registration("C5", person={"religion": "x"}), clerk, 422, "invalid_request"),
        (registration("C5", incumbent="yes"), clerk, 422, "invalid_request"),
        (
            registration("C5", person={"id_number": 222404198810090930}),
            clerk,
            422,
            "invalid_request",
        ),
        (registration("C5", committee="VILLAGE_CMTE"), clerk, 422, "invalid_request"),
        (registration("C5", person={"gender": "male"}), clerk, 422, "invalid_request"),
        (
            {k: x for k, x in registration("C5").items() if k != "person"},
            clerk,
            422,
            "invalid_request",
        ),
        # Roles that may not register.
        (registration("C5"), "sec_DEMO-MAXIN", 403, "forbidden"),
        (registration("C5"), "reviewer_222404200", 403, "forbidden"),
        (registration("C5"), "org_admin", 403, "forbidden"),
    ]
    with city.unchanged():
        for body, who, status, code in refusals:
            got = city.post("/v1/candidates", body, who=who)
            assert (got.status_code, error_code(got)) == (status, code), (body, who)
            for secret in [*PERSONAL_STRINGS, eighteen_tomorrow]:
                assert secret not in got.text
    # Exactly 18 on election day is old enough.
    adult = with_check_digit("22240420080315123")
    register(city, "C5", person={"id_number": adult})
    # After election day the round takes no more candidates.
    city.set_time(DEMO_NOW.replace(month=3, day=16))
    with city.unchanged():
        late = city.post("/v1/candidates", registration("C2"), who="clerk_DEMO-TUANJIE")
        assert (late.status_code, error_code(late)) == (409, "round_closed")


def test_a_decision_the_rules_refuse_is_refused_and_nothing_is_written(city: ApiEnv) -> None:
    open_demo_round(city)
    c1, c5 = register(city, "C1")["id"], register(city, "C5")["id"]
    village, township = "DEMO-FANGCHUAN", "222404101"

    def refused(response: Any, status: int, code: str) -> None:
        assert (response.status_code, error_code(response)) == (status, code), response.text

    with city.unchanged():
        refused(preliminary(city, c1, township), 409, "vetting_out_of_order")
        refused(opinion(city, c1, "GA"), 409, "vetting_out_of_order")
        refused(pre_review(city, c1, "DEMO-MAXIN"), 403, "out_of_jurisdiction")
        refused(
            city.post(
                f"/v1/candidates/{c1}/pre-review", {"verdict": "PASS"}, who=f"clerk_{village}"
            ),
            403,
            "forbidden",
        )
        refused(pre_review(city, "no-such-candidate", village), 404, "candidate_not_found")
        refused(pre_review(city, c1, village, "FAIL"), 409, "vetting_missing_clauses")
        refused(pre_review(city, c1, village, "FAIL", clause_codes=["N11"]), 400, "unknown_clause")
        refused(pre_review(city, c1, village, clause_codes=["N1"]), 400, "clauses_not_allowed")
        refused(pre_review(city, c1, village, "MAYBE"), 422, "invalid_request")
        refused(pre_review(city, c1, village, "FAIL", clause_codes="N2"), 422, "invalid_request")
        refused(pre_review(city, c1, village, reason="x"), 422, "invalid_request")
        refused(pre_review(city, c1, village, note=""), 422, "invalid_request")
    city.ok(pre_review(city, c1, village), 201)
    with city.unchanged():
        refused(pre_review(city, c1, village), 409, "vetting_out_of_order")
        refused(preliminary(city, c1, "222404200"), 403, "out_of_jurisdiction")
    city.ok(preliminary(city, c1, township), 201)
    with city.unchanged():
        # ZF is a county department, but not one the round requires: the contract's rule.
        refused(opinion(city, c1, "ZF"), 409, "vetting_wrong_jurisdiction")
        refused(opinion(city, c1, "GA", "RECORD_FOUND"), 409, "vetting_missing_clauses")
        refused(opinion(city, c1, "GA", "PASS"), 422, "invalid_request")
    city.ok(opinion(city, c1, "GA"), 201)
    with city.unchanged():
        refused(
            opinion(city, c1, "GA", "RECORD_FOUND", clause_codes=["N2"]),
            409,
            "vetting_duplicate_opinion",
        )
    for dept in ("MZ", "JW", "SF"):
        city.ok(opinion(city, c1, dept), 201)
    deferred = city.ok(opinion(city, c1, "FY", "NEEDS_INFO", clause_codes=["N9"]), 201)
    assert deferred["candidate"]["outcome"] == "DEFERRED"
    with city.unchanged():
        refused(opinion(city, c1, "GA"), 409, "vetting_duplicate_opinion")
        refused(
            opinion(city, c1, "FY", "NEEDS_INFO", clause_codes=["N9"]),
            409,
            "vetting_invalid_verdict",
        )
    failed = city.ok(opinion(city, c1, "FY", "RECORD_FOUND", clause_codes=["N9"]), 201)
    assert failed["candidate"]["outcome"] == "FAILED"
    with city.unchanged():
        refused(opinion(city, c1, "FY", "NO_RECORD"), 409, "vetting_concluded")
        refused(opinion(city, c1, "GA"), 409, "vetting_concluded")
        refused(preliminary(city, c1, township), 409, "vetting_concluded")
    # C5 fails at its own village's pre-review; nothing more is taken.
    city.ok(pre_review(city, c5, "DEMO-MAXIN", "FAIL", clause_codes=["N5", "N5"]), 201)
    with city.unchanged():
        refused(preliminary(city, c5, "222404200"), 409, "vetting_concluded")
    lead = view(city, c5, "org_admin")
    assert (lead["outcome"], lead["stage"]) == ("FAILED", "PRE_REVIEW")
    assert lead["decisions"][0]["clause_codes"] == ["N5"]

    report = city.relay()
    assert report.failed == []
    assert_chain_agrees(city, c1)
    assert_chain_agrees(city, c5)
