"""Without a chain the service still takes records and serves reads; only what a unit
must sign (a registration, a decision, a grant) is refused, with 503 and nothing written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.config import Settings
from ledger.runtime import Ledger
from tests.api.conftest import DEMO_NOW
from tests.api.env import ApiEnv, bootstrap_admin, error_code


@pytest.fixture
def chainless(settings: Settings) -> Iterator[ApiEnv]:
    app = create_app(settings, checkpoint_in_background=False, clock=lambda: DEMO_NOW)
    with TestClient(app) as client:
        ledger: Ledger = client.app.state.ledger  # type: ignore[attr-defined]
        env = ApiEnv(client, bootstrap_admin(ledger, DEMO_NOW), DEMO_NOW)
        env.set_time(DEMO_NOW)
        yield env


def test_records_and_reads_work_and_signing_is_a_503(chainless: ApiEnv) -> None:
    env = chainless
    for unit in (
        {"code": "ORG", "name": "中共珲春市委组织部", "level": "county"},
        {"code": "222404101", "name": "敬信镇", "level": "township"},
        {"code": "DEMO-FANGCHUAN", "name": "防川村", "level": "village", "parent": "222404101"},
    ):
        env.ok(env.post("/v1/units", unit), 201)
    env.tokens["org"] = env.add_principal("ORG", "lead_org_admin")
    env.tokens["clerk"] = env.add_principal("DEMO-FANGCHUAN", "village_clerk")

    made = env.ok(
        env.post("/v1/records", {"kind": "record", "body": {"t": "村务公开"}}, who="clerk"), 201
    )
    assert env.ok(env.get(f"/v1/records/{made['id']}", who="clerk"))["id"] == made["id"]
    env.ok(
        env.post(
            "/v1/rounds",
            {"code": "R2026", "name": "换届", "election_day": "2026-03-15", "departments": ["ORG"]},
            who="org",
        ),
        201,
    )
    person = {
        "name": "金明哲",
        "id_number": "222404197803120316",
        "gender": "M",
        "ethnicity": "朝鲜族",
        "political_status": "中共党员",
        "education": "大专",
    }
    body = {"round": "R2026", "committee": "PARTY_BRANCH", "post": "书记", "person": person}
    with env.unchanged():
        r = env.post("/v1/candidates", body, who="clerk")
        assert (r.status_code, error_code(r)) == (503, "unavailable"), r.text
