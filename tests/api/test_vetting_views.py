"""What each role sees of the demo candidates (DOMAIN.md §1.6, §6.4), lists, search by ID
number, the negative list, and that no personal data reaches the log or the outbox."""

from __future__ import annotations

import json
import threading
from typing import Any

import sqlalchemy as sa

from ledger.demo import FY_NOTE, GA_NOTE, PERSONAL_STRINGS, RETURN_NOTE
from ledger.store.domain import candidates, chain_outbox
from ledger.store.models import log_leaves
from tests.api.env import ApiEnv, error_code
from tests.api.vetting_demo import (
    DEMO,
    open_demo_round,
    opinion,
    register,
    run_demo,
    through_township,
    view,
)


def _text(env: ApiEnv, path: str, who: str) -> tuple[dict[str, Any], str]:
    response = env.get(path, who=who)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body, response.text


def test_each_role_sees_only_what_it_needs(city: ApiEnv) -> None:
    ids = run_demo(city)
    c3, c5, c6 = ids["C3"], ids["C5"], ids["C6"]
    with city.unchanged():
        # The village sees pass or fail only: no clause code, no opinion, no stage.
        for path in (f"/v1/candidates/{c5}", f"/v1/candidates/{c5}/history"):
            for who in ("clerk_DEMO-MAXIN", "sec_DEMO-MAXIN"):
                body, text = _text(city, path, who)
                assert body["view"] == "village"
                for secret in ("N2", "RECORD_FOUND", GA_NOTE, '"GA"', "JOINT_REVIEW"):
                    assert secret not in text, (who, path, secret)
        clerk = view(city, c5, "clerk_DEMO-MAXIN")
        assert (clerk["outcome"], clerk["status"], clerk["stage"]) == ("FAILED", "FAILED", None)
        assert clerk["person"]["name"] == "王海涛"
        assert clerk["person"]["id_number_masked"] == "222404********0930"
        assert [d["unit"] for d in clerk["decisions"]] == ["DEMO-MAXIN"]
        # A DEFERRED candidate is just pending to its village.
        body, text = _text(city, f"/v1/candidates/{c3}", "clerk_DEMO-MENGLING")
        assert (body["outcome"], body["status"], body["deferred_until"]) == (
            "PENDING",
            "JOINT_REVIEW",
            None,
        )
        assert "NEEDS_INFO" not in text and "N9" not in text and FY_NOTE not in text
        # A RETURNED file: the village learns what to correct, not who said what.
        returned = view(city, c6, "clerk_DEMO-SANAN")
        assert (returned["outcome"], returned["return_note"]) == ("RETURNED", RETURN_NOTE)

        # The township sees which stage and department decided, not the clause codes.
        body, text = _text(city, f"/v1/candidates/{c5}", "reviewer_222404200")
        assert body["view"] == "township"
        (ga,) = [d for d in body["decisions"] if d["unit"] == "GA"]
        assert (ga["verdict"], ga["clause_codes"], ga["note"]) == ("RECORD_FOUND", None, None)
        assert "N2" not in text and GA_NOTE not in text
        deferred = view(city, c3, "reviewer_222404102")
        assert deferred["outcome"] == "DEFERRED" and deferred["deferred_until"] is not None

        # A department's handler: matching fields, and its own opinion only.
        body, text = _text(city, f"/v1/candidates/{c5}", "handler_GA")
        assert body["view"] == "handler"
        assert body["person"] == {
            "name": "王海涛",
            "id_number_masked": "222404********0930",
            "birth_date": "1988-10-09",
            "gender": None,
            "ethnicity": None,
            "political_status": None,
            "education": None,
            "phone": None,
            "address": None,
        }
        (mine,) = body["decisions"]
        assert (mine["unit"], mine["clause_codes"], mine["note"]) == ("GA", ["N2"], GA_NOTE)
        body, text = _text(city, f"/v1/candidates/{c5}", "handler_FY")
        assert [d["unit"] for d in body["decisions"]] == ["FY"] and "N2" not in text
        # FY's NEEDS_INFO is the one outstanding: FY sees the deferral, GA does not.
        assert view(city, c3, "handler_FY")["outcome"] == "DEFERRED"
        assert view(city, c3, "handler_GA")["outcome"] == "PENDING"

        # The auditor: ids, stages, verdicts, records and hashes; no person, no reasons.
        for key, cid in ids.items():
            for path in (f"/v1/candidates/{cid}", f"/v1/candidates/{cid}/history"):
                body, text = _text(city, path, "auditor")
                assert body["view"] == "audit"
                for secret in [*PERSONAL_STRINGS, "222404****", GA_NOTE, FY_NOTE, '"N2"']:
                    assert secret not in text, (key, path, secret)
            assert view(city, cid, "auditor")["person"] is None
        (ga,) = [d for d in view(city, c5, "auditor")["decisions"] if d["unit"] == "GA"]
        assert ga["verdict"] == "RECORD_FOUND" and ga["clause_codes"] is None

        # The lead unit sees everything (the full flow test checks its reasons).
        lead = view(city, c5, "org_admin")
        assert lead["view"] == "lead" and lead["person"]["phone"] == "0433-7500000"

        # Not their candidate: another village, another township, a department before the
        # joint review (C6 never reached it), the platform administrator.
        for cid, who, status, code in (
            (c5, "clerk_DEMO-FANGCHUAN", 403, "out_of_jurisdiction"),
            (c5, "sec_DEMO-HONGXING", 403, "out_of_jurisdiction"),
            (c5, "reviewer_222404101", 403, "out_of_jurisdiction"),
            (c6, "handler_GA", 403, "out_of_jurisdiction"),
            (c5, "admin", 403, "forbidden"),
            ("no-such-id", "org_admin", 404, "candidate_not_found"),
        ):
            got = city.get(f"/v1/candidates/{cid}", who=who)
            assert (got.status_code, error_code(got)) == (status, code), who


def _ids(env: ApiEnv, who: str, **params: Any) -> list[str]:
    page = env.ok(env.get("/v1/candidates", who=who, params=params))
    return [c["id"] for c in page["items"]]


def test_lists_search_and_the_negative_list_stay_within_reach(city: ApiEnv) -> None:
    ids = run_demo(city)
    order = [ids[k] for k in ("C1", "C2", "C3", "C4", "C5", "C6")]
    with city.unchanged():
        assert _ids(city, "org_admin") == order
        assert _ids(city, "auditor") == order
        assert _ids(city, "clerk_DEMO-FANGCHUAN") == [ids["C1"]]
        assert _ids(city, "reviewer_222404203") == [ids["C4"], ids["C6"]]
        assert _ids(city, "handler_GA") == order[:5]  # C6 never reached the joint review
        assert _ids(city, "org_admin", outcome="FAILED") == [ids["C5"]]
        assert _ids(city, "org_admin", outcome="DEFERRED") == [ids["C3"]]
        assert _ids(city, "clerk_DEMO-MENGLING", outcome="DEFERRED") == []
        assert _ids(city, "clerk_DEMO-MENGLING", outcome="PENDING") == [ids["C3"]]
        assert _ids(city, "org_admin", village="DEMO-SANAN") == [ids["C6"]]
        assert _ids(city, "org_admin", round="R1999") == []
        # Pages of two, in registration order.
        seen, after = [], None
        while True:
            params = {"limit": 2} | ({"after": after} if after else {})
            page = city.ok(city.get("/v1/candidates", who="org_admin", params=params))
            seen += [c["id"] for c in page["items"]]
            after = page["next"]
            if after is None:
                break
        assert seen == order
        for params, code in (
            ({"after": "nope"}, "invalid_input"),
            ({"outcome": "MAYBE"}, "invalid_request"),
            ({"limit": 0}, "invalid_request"),
        ):
            got = city.get("/v1/candidates", who="org_admin", params=params)
            assert error_code(got) == code and got.status_code in (400, 422)

        # Search by ID number: in the body, matched by blind index, within reach only.
        def search(who: str, id_number: object) -> Any:
            return city.post("/v1/candidates/search", {"id_number": id_number}, who=who)

        c1_id = DEMO["C1"].person["id_number"]
        found = city.ok(search("clerk_DEMO-FANGCHUAN", c1_id))
        assert [c["id"] for c in found["items"]] == [ids["C1"]]
        assert city.ok(search("clerk_DEMO-MAXIN", c1_id)) == {"items": [], "next": None}
        c4 = city.ok(search("org_admin", "222404 19721130 244x"))  # typed in groups, lower x
        assert [c["id"] for c in c4["items"]] == [ids["C4"]]
        for who, number, status, code in (
            ("auditor", c1_id, 403, "forbidden"),
            ("org_admin", "222404197803120317", 400, "id_number_check_digit"),
            ("org_admin", 222404197803120316, 422, "invalid_request"),
        ):
            got = search(who, number)
            assert (got.status_code, error_code(got)) == (status, code)
            assert c1_id not in got.text

        clauses = city.ok(city.get("/v1/negative-list", who="clerk_DEMO-SANAN"))
        assert [c["code"] for c in clauses["items"]] == [f"N{i}" for i in range(1, 11)]
        by_code = {c["code"]: c for c in clauses["items"]}
        assert by_code["N2"]["severity"] == "BAR" and by_code["N10"]["severity"] == "UNSUITABLE"
        assert (by_code["N7"]["lookback_years"], by_code["N9"]["lookback_years"]) == (3, 5)
        first = city.ok(city.get("/v1/negative-list", who="auditor", params={"limit": 3}))
        assert [c["code"] for c in first["items"]] == ["N1", "N2", "N3"]
        assert first["next"] == "N3"


def test_no_personal_data_reaches_the_log_or_the_outbox(city: ApiEnv) -> None:
    ids = run_demo(city)
    city.ok(opinion(city, ids["C3"], "FY", "NO_RECORD", note="已核实"), 201)
    with city.ledger.engine.connect() as conn:
        leaves = [
            bytes(d).decode() for d in conn.execute(sa.select(log_leaves.c.leaf_data)).scalars()
        ]
        payloads = [
            json.dumps(p, ensure_ascii=False)
            for p in conn.execute(sa.select(chain_outbox.c.payload)).scalars()
        ]
        masked = set(conn.execute(sa.select(candidates.c.id_number_masked)).scalars())
    kinds = [json.loads(leaf)["kind"] for leaf in leaves]
    assert kinds.count("vetting.candidate.registered") == 6
    assert kinds.count("vetting.decision") == 5 * (2 + 5) + 2 + 1
    for secret in [*PERSONAL_STRINGS, RETURN_NOTE, GA_NOTE, FY_NOTE, "已核实"]:
        for text in leaves + payloads:
            assert secret not in text
    # Clause codes go nowhere but the database: the log and the chain get a salted hash.
    for text in leaves + payloads:
        assert '"N2"' not in text and '"N9"' not in text
    assert masked == {
        c.person["id_number"][:6] + "*" * 8 + c.person["id_number"][-4:] for c in DEMO.values()
    }


def test_concurrent_opinions_are_serialised_by_the_candidate_lock(city: ApiEnv) -> None:
    """Five departments answer at once: each gets its own seq, none a 500 (PostgreSQL:
    the candidate's row lock; SQLite: BEGIN IMMEDIATE)."""
    open_demo_round(city)
    cid = register(city, "C1")["id"]
    through_township(city, "C1", cid)
    results: dict[str, int] = {}
    barrier = threading.Barrier(5)

    def give(dept: str) -> None:
        barrier.wait()
        results[dept] = opinion(city, cid, dept).status_code

    threads = [threading.Thread(target=give, args=(d,)) for d in ("MZ", "JW", "GA", "FY", "SF")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results.values()) == {201}
    lead = view(city, cid, "org_admin")
    assert lead["outcome"] == "PASSED"
    assert [d["seq"] for d in lead["decisions"]] == list(range(7))
