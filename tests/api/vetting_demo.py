"""The calls the vetting tests make: the demo round, registrations and the three stages,
over HTTP as the demo's principals. The demo's data is in :mod:`ledger.demo`.

Used by test_vetting*.py and the privacy scan. :func:`run_demo` takes C1..C6 to their
DOMAIN.md §7.4 outcomes (C3 DEFERRED, C6 RETURNED); a test moves on from there.
"""

from __future__ import annotations

from typing import Any

from ledger import demo
from ledger.chain import vetting as v
from ledger.idcard import check_digit
from tests.api.env import ApiEnv

DEMO = demo.DEMO_CANDIDATES


def open_demo_round(env: ApiEnv) -> dict[str, Any]:
    round_: dict[str, Any] = env.ok(
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
    return round_


def registration(key: str, **changes: Any) -> dict[str, Any]:
    """The registration body of demo candidate ``key``, with ``changes`` (``person=`` merges)."""
    c = DEMO[key]
    body: dict[str, Any] = {
        "round": demo.ROUND_CODE,
        "committee": c.committee,
        "post": c.post,
        "incumbent": c.incumbent,
        "person": dict(c.person),
    }
    person = changes.pop("person", {})
    body["person"].update(person)
    body.update(changes)
    return body


def register(env: ApiEnv, key: str, **changes: Any) -> dict[str, Any]:
    village = DEMO[key].village
    created: dict[str, Any] = env.ok(
        env.post("/v1/candidates", registration(key, **changes), who=f"clerk_{village}"), 201
    )
    return created


def decision_body(decision: demo.Decision, key: str = "verdict") -> dict[str, Any]:
    """The request body of a demo decision (``key="opinion"`` in the joint review)."""
    body: dict[str, Any] = {key: decision.verdict}
    if decision.clause_codes:
        body["clause_codes"] = list(decision.clause_codes)
    if decision.note is not None:
        body["note"] = decision.note
    return body


def pre_review(env: ApiEnv, cid: str, village: str, verdict: str = "PASS", **kw: Any) -> Any:
    return env.post(
        f"/v1/candidates/{cid}/pre-review", {"verdict": verdict, **kw}, who=f"sec_{village}"
    )


def preliminary(env: ApiEnv, cid: str, township: str, verdict: str = "PASS", **kw: Any) -> Any:
    return env.post(
        f"/v1/candidates/{cid}/preliminary-review",
        {"verdict": verdict, **kw},
        who=f"reviewer_{township}",
    )


def opinion(env: ApiEnv, cid: str, dept: str, value: str = "NO_RECORD", **kw: Any) -> Any:
    return env.post(
        f"/v1/candidates/{cid}/opinions", {"opinion": value, **kw}, who=f"handler_{dept}"
    )


def through_township(env: ApiEnv, key: str, cid: str) -> None:
    """Pre-review and preliminary review, both PASS."""
    c = DEMO[key]
    env.ok(pre_review(env, cid, c.village), 201)
    env.ok(preliminary(env, cid, c.township), 201)


def joint_review(env: ApiEnv, cid: str, special: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every required department's opinion: NO_RECORD unless ``special`` says otherwise."""
    last: dict[str, Any] = {}
    for dept in demo.ROUND_DEPARTMENTS:
        body = special.get(dept, {"opinion": "NO_RECORD"})
        last = env.ok(env.post(f"/v1/candidates/{cid}/opinions", body, who=f"handler_{dept}"), 201)
    return last


def run_demo(env: ApiEnv) -> dict[str, str]:
    """Open the demo round and take C1..C6 to their DOMAIN.md §7.4 outcomes; their ids.

    All six are registered first; those the township passes go through the joint review
    with their departments' opinions; the others (C6) are then returned."""
    open_demo_round(env)
    ids = {key: register(env, key)["id"] for key in DEMO}
    onward = [key for key, c in DEMO.items() if c.reaches_joint_review]
    for key in onward:
        through_township(env, key, ids[key])
    for key in onward:
        special = {dept: decision_body(d, "opinion") for dept, d in DEMO[key].opinions.items()}
        joint_review(env, ids[key], special)
    for key, c in DEMO.items():
        if key not in onward:
            env.ok(pre_review(env, ids[key], c.village), 201)
            body = decision_body(c.preliminary)
            env.ok(preliminary(env, ids[key], c.township, **body), 201)
    return ids


def view(env: ApiEnv, cid: str, who: str) -> dict[str, Any]:
    got: dict[str, Any] = env.ok(env.get(f"/v1/candidates/{cid}", who=who))
    return got


def on_chain(env: ApiEnv, candidate: dict[str, Any]) -> tuple[v.Stage, v.Outcome]:
    state = env.session.contracts.vetting.functions.candidate(
        bytes.fromhex(candidate["chain_id"][2:])
    ).call()
    return v.Stage(state[2]), v.Outcome(state[3])


def assert_chain_agrees(env: ApiEnv, cid: str) -> None:
    lead = view(env, cid, "org_admin")
    outcome = v.Outcome.NONE if lead["outcome"] == "PENDING" else v.Outcome[lead["outcome"]]
    assert on_chain(env, lead) == (v.Stage[lead["stage"]], outcome), cid


def with_check_digit(first17: str) -> str:
    return first17 + check_digit(first17)
