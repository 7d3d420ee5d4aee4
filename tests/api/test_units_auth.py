"""Units, principals and API keys: authentication, the platform administrator's resources,
and refusals that write nothing."""

from __future__ import annotations

import pytest

from ledger.chain import vetting as v
from tests.api.env import ApiEnv, error_code


def test_every_authenticated_endpoint_refuses_a_missing_malformed_or_unknown_key(
    api: ApiEnv,
) -> None:
    with api.unchanged():
        missing = api.get("/v1/units", who=None)
        assert missing.status_code == 401
        assert error_code(missing) == "unauthenticated"
        assert missing.headers["www-authenticate"] == "Bearer"
        malformed = api.get("/v1/units", who="not-a-key")
        assert (malformed.status_code, error_code(malformed)) == (401, "unauthenticated")
        # Well formed, but no such key: the same answer, so a prober learns nothing.
        unknown = api.get("/v1/units", who="cl_000000000000_" + "A" * 43)
        assert unknown.status_code == 401
        assert unknown.json() == {
            "error": {"code": "unauthenticated", "message": "invalid or revoked API key"}
        }
        basic = api.client.get("/v1/units", headers={"Authorization": "Basic YWJjOmRlZg=="})
        assert basic.status_code == 401


def test_a_unit_is_registered_logged_and_relayed_to_the_unit_registry(api: ApiEnv) -> None:
    township = api.ok(
        api.post("/v1/units", {"code": "222404101", "name": "敬信镇", "level": "township"}), 201
    )
    village = api.ok(
        api.post(
            "/v1/units",
            {"code": "DEMO-FANGCHUAN", "name": "防川村", "level": "village", "parent": "222404101"},
        ),
        201,
    )
    assert village["parent"] == "222404101"
    assert township["signing_address"] != village["signing_address"]
    listed = api.ok(api.get("/v1/units", params={"limit": 2}))
    assert [u["code"] for u in listed["items"]] == ["222404101", "DEMO-FANGCHUAN"]
    assert listed["next"] == "DEMO-FANGCHUAN"
    rest = api.ok(api.get("/v1/units", params={"limit": 2, "after": listed["next"]}))
    assert [u["code"] for u in rest["items"]] == ["SZ"] and rest["next"] is None

    report = api.relay()
    assert report.failed == []
    registry = api.session.contracts.units
    unit = registry.functions.unit(v.unit_id("DEMO-FANGCHUAN")).call()
    assert unit[0] == int(v.Level.VILLAGE) and unit[1] is True
    assert unit[2] == v.unit_id("222404101")
    assert unit[3] == village["signing_address"]
    entry = api.ok(api.get(f"/v1/records/{village['record_id']}"))["entry"]
    assert entry["kind"] == "unit.registered" and entry["body"]["code"] == "DEMO-FANGCHUAN"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"code": "bad code!", "name": "x", "level": "county"}, 422, "invalid_request"),
        ({"code": "X1", "name": "x", "level": "province"}, 422, "invalid_request"),
        ({"code": "X1", "name": "x", "level": "county", "extra": 1}, 422, "invalid_request"),
        ({"code": "X1", "name": 5, "level": "county"}, 422, "invalid_request"),
        ({"code": "V1", "name": "x", "level": "village"}, 400, "invalid_input"),
        ({"code": "V1", "name": "x", "level": "village", "parent": "SZ"}, 400, "invalid_input"),
        ({"code": "T1", "name": "x", "level": "township", "parent": "SZ"}, 400, "invalid_input"),
        ({"code": "SZ", "name": "again", "level": "county"}, 409, "conflict"),
    ],
)
def test_a_bad_unit_is_refused_and_nothing_is_written(
    api: ApiEnv, body: dict[str, object], status: int, code: str
) -> None:
    with api.unchanged():
        r = api.post("/v1/units", body)
        assert (r.status_code, error_code(r)) == (status, code), r.text


def test_principals_get_keys_that_can_be_rotated_and_revoked(api: ApiEnv) -> None:
    api.ok(api.post("/v1/units", {"code": "GA", "name": "珲春市公安局", "level": "county"}), 201)
    issued = api.ok(
        api.post("/v1/principals", {"unit": "GA", "role": "unit_handler", "label": "GA 1"}), 201
    )
    first = issued["api_key"]
    assert api.get("/v1/units", who=first).status_code == 200
    # A handler may not manage units: authenticated, but forbidden.
    with api.unchanged():
        r = api.post("/v1/units", {"code": "X9", "name": "x", "level": "county"}, who=first)
        assert (r.status_code, error_code(r)) == (403, "forbidden")

    second = api.ok(api.post(f"/v1/principals/{issued['principal_id']}/keys"), 201)
    assert second["principal_id"] == issued["principal_id"] and second["api_key"] != first
    api.ok(api.post(f"/v1/keys/{issued['key_id']}/revoke"))
    revoked = api.get("/v1/units", who=first)
    assert revoked.status_code == 401
    # The same answer as an unknown key: a revoked key's holder learns nothing more.
    assert revoked.json()["error"]["message"] == "invalid or revoked API key"
    assert api.get("/v1/units", who=second["api_key"]).status_code == 200
    with api.unchanged():
        again = api.post(f"/v1/keys/{issued['key_id']}/revoke")
        assert (again.status_code, error_code(again)) == (409, "conflict")
        unknown = api.post("/v1/keys/0123456789ab/revoke")
        assert (unknown.status_code, error_code(unknown)) == (404, "not_found")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"unit": "GA", "role": "emperor", "label": "x"}, 422, "invalid_request"),
        ({"unit": "GA", "role": "village_clerk", "label": "x"}, 400, "invalid_input"),
        ({"unit": "NOPE", "role": "unit_handler", "label": "x"}, 404, "not_found"),
        ({"unit": "GA", "role": "unit_handler", "label": ""}, 422, "invalid_request"),
        ({"unit": "GA", "role": "unit_handler"}, 422, "invalid_request"),
    ],
)
def test_a_bad_principal_is_refused_and_nothing_is_written(
    api: ApiEnv, body: dict[str, object], status: int, code: str
) -> None:
    api.ok(api.post("/v1/units", {"code": "GA", "name": "珲春市公安局", "level": "county"}), 201)
    with api.unchanged():
        r = api.post("/v1/principals", body)
        assert (r.status_code, error_code(r)) == (status, code), r.text
