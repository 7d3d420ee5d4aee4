"""UnitRegistry on eth-tester: every revert path, key history, the views.

One chain per module (compiling and registering take seconds); each test runs on a
snapshot of it and reverts it afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils.crypto import keccak
from vetting_env import Chain, key_for, new_chain, reverts, try_deploy

from ledger.chain.vetting import Level, unit_id

TOWNSHIP = "222404101"  # 敬信镇
VILLAGE = "DEMO-222404101-FANGCHUAN"  # 防川村
COUNTY = "GA"
UNIT_ADMIN_ROLE = keccak(text="UNIT_ADMIN_ROLE")
ZERO = bytes(32)
ZERO_ADDRESS = "0x" + "00" * 20
U64_MAX = 2**64 - 1


@pytest.fixture(scope="module")
def base() -> Chain:
    chain = new_chain()
    chain.register_unit(TOWNSHIP, Level.TOWNSHIP)
    chain.register_unit(VILLAGE, Level.VILLAGE, TOWNSHIP)
    chain.register_unit(COUNTY, Level.COUNTY)
    return chain


@pytest.fixture
def chain(base: Chain) -> Iterator[Chain]:
    snapshot = base.tester.take_snapshot()
    keys = dict(base.keys)
    yield base
    base.tester.revert_to_snapshot(snapshot)
    base.keys = keys


def fn(chain: Chain) -> Any:
    return chain.units.functions


def event_args(chain: Chain, receipt: Any, name: str) -> list[dict[str, Any]]:
    return [dict(e["args"]) for e in getattr(chain.units.events, name)().process_receipt(receipt)]


# ---- roles -------------------------------------------------------------------------------


def test_constructor_grants_both_roles_to_admin(chain: Chain) -> None:
    assert fn(chain).UNIT_ADMIN_ROLE().call() == UNIT_ADMIN_ROLE
    assert fn(chain).hasRole(ZERO, chain.admin).call()
    assert fn(chain).hasRole(UNIT_ADMIN_ROLE, chain.admin).call()
    assert not fn(chain).hasRole(UNIT_ADMIN_ROLE, chain.outsider).call()


def test_constructor_refuses_zero_admin(chain: Chain) -> None:
    with reverts("UnitRegistryInvalidAdmin", ZERO_ADDRESS):
        try_deploy(chain.w3, "UnitRegistry", ZERO_ADDRESS, sender=chain.admin)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda c: fn(c).registerUnit(unit_id("X"), Level.COUNTY, ZERO, key_for("X").address),
            id="registerUnit",
        ),
        pytest.param(
            lambda c: fn(c).rotateKey(unit_id(COUNTY), key_for("X").address), id="rotateKey"
        ),
        pytest.param(lambda c: fn(c).setActive(unit_id(COUNTY), False), id="setActive"),
    ],
)
def test_unit_admin_role_is_required(chain: Chain, call: Any) -> None:
    with reverts("AccessControlUnauthorizedAccount", chain.outsider, UNIT_ADMIN_ROLE):
        call(chain).call({"from": chain.outsider})
    # The default admin can hand the role over, and then the call goes through.
    chain.send(fn(chain).grantRole(UNIT_ADMIN_ROLE, chain.outsider), chain.admin)
    chain.send(call(chain), chain.outsider)


# ---- registration ------------------------------------------------------------------------


def test_register_emits_and_views_agree(chain: Chain) -> None:
    key = key_for("222404102")
    receipt = chain.send(
        fn(chain).registerUnit(unit_id("222404102"), Level.TOWNSHIP, ZERO, key.address),
        chain.admin,
    )
    assert event_args(chain, receipt, "UnitRegistered") == [
        {
            "unitId": unit_id("222404102"),
            "level": Level.TOWNSHIP,
            "parentId": ZERO,
            "key": key.address,
        }
    ]
    village = unit_id(VILLAGE)
    assert fn(chain).levelOf(village).call() == Level.VILLAGE
    assert fn(chain).parentOf(village).call() == unit_id(TOWNSHIP)
    assert fn(chain).isActive(village).call() is True
    assert fn(chain).keyOf(village).call() == chain.keys[VILLAGE].address
    assert fn(chain).unit(village).call() == (
        Level.VILLAGE,
        True,
        unit_id(TOWNSHIP),
        chain.keys[VILLAGE].address,
    )
    assert fn(chain).unitOfKey(chain.keys[VILLAGE].address).call() == village


def test_unknown_unit_views_are_zero(chain: Chain) -> None:
    nobody = unit_id("NOBODY")
    assert fn(chain).levelOf(nobody).call() == Level.NONE
    assert fn(chain).parentOf(nobody).call() == ZERO
    assert fn(chain).isActive(nobody).call() is False
    assert fn(chain).keyOf(nobody).call() == ZERO_ADDRESS
    assert fn(chain).keyAt(nobody, U64_MAX).call() == ZERO_ADDRESS
    assert fn(chain).unit(nobody).call() == (Level.NONE, False, ZERO, ZERO_ADDRESS)
    assert fn(chain).unitOfKey(key_for("NOBODY").address).call() == ZERO


def test_register_refuses_zero_id(chain: Chain) -> None:
    with reverts("UnitRegistryInvalidUnitId", ZERO):
        fn(chain).registerUnit(ZERO, Level.COUNTY, ZERO, key_for("Z").address).call(
            {"from": chain.admin}
        )


def test_register_refuses_existing_unit(chain: Chain) -> None:
    with reverts("UnitRegistryUnitExists", unit_id(COUNTY)):
        fn(chain).registerUnit(unit_id(COUNTY), Level.COUNTY, ZERO, key_for("Z").address).call(
            {"from": chain.admin}
        )


def test_register_refuses_level_none(chain: Chain) -> None:
    with reverts("UnitRegistryInvalidLevel", unit_id("Z"), Level.NONE):
        fn(chain).registerUnit(unit_id("Z"), Level.NONE, ZERO, key_for("Z").address).call(
            {"from": chain.admin}
        )


def test_register_refuses_level_out_of_enum(chain: Chain) -> None:
    # The ABI decoder refuses an enum value past County, with no revert data.
    with reverts(""):
        fn(chain).registerUnit(unit_id("Z"), 4, ZERO, key_for("Z").address).call(
            {"from": chain.admin}
        )


@pytest.mark.parametrize(
    ("level", "parent"),
    [
        pytest.param(Level.VILLAGE, None, id="village-without-parent"),
        pytest.param(Level.VILLAGE, "UNREGISTERED", id="village-unknown-parent"),
        pytest.param(Level.VILLAGE, COUNTY, id="village-under-county"),
        pytest.param(Level.VILLAGE, VILLAGE, id="village-under-village"),
        pytest.param(Level.TOWNSHIP, TOWNSHIP, id="township-with-parent"),
        pytest.param(Level.COUNTY, TOWNSHIP, id="county-with-parent"),
    ],
)
def test_register_refuses_bad_parent(chain: Chain, level: Level, parent: str | None) -> None:
    parent_id = unit_id(parent) if parent else ZERO
    with reverts("UnitRegistryInvalidParent", unit_id("Z"), parent_id):
        fn(chain).registerUnit(unit_id("Z"), level, parent_id, key_for("Z").address).call(
            {"from": chain.admin}
        )


def test_register_refuses_zero_key(chain: Chain) -> None:
    with reverts("UnitRegistryInvalidKey", unit_id("Z"), ZERO_ADDRESS):
        fn(chain).registerUnit(unit_id("Z"), Level.COUNTY, ZERO, ZERO_ADDRESS).call(
            {"from": chain.admin}
        )


def test_register_refuses_another_units_key(chain: Chain) -> None:
    taken = chain.keys[COUNTY].address
    with reverts("UnitRegistryKeyInUse", taken, unit_id(COUNTY)):
        fn(chain).registerUnit(unit_id("Z"), Level.COUNTY, ZERO, taken).call({"from": chain.admin})


def test_register_refuses_a_rotated_out_key(chain: Chain) -> None:
    old = chain.keys[COUNTY].address
    chain.rotate(COUNTY, "2")
    with reverts("UnitRegistryKeyInUse", old, unit_id(COUNTY)):
        fn(chain).registerUnit(unit_id("Z"), Level.COUNTY, ZERO, old).call({"from": chain.admin})


# ---- keys --------------------------------------------------------------------------------


def block_time(chain: Chain, receipt: Any) -> int:
    return int(chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def test_rotation_keeps_history(chain: Chain) -> None:
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    chain.tester.time_travel(now + 100)
    first = chain.register_unit("NEW", Level.COUNTY).address
    unit = unit_id("NEW")
    t1 = int(chain.w3.eth.get_block("latest")["timestamp"])
    second, third = key_for("NEW/2"), key_for("NEW/3")
    chain.tester.time_travel(t1 + 100)
    r2 = chain.send(fn(chain).rotateKey(unit, second.address), chain.admin)
    t2 = block_time(chain, r2)
    chain.tester.time_travel(t2 + 100)
    r3 = chain.send(fn(chain).rotateKey(unit, third.address), chain.admin)
    t3 = block_time(chain, r3)
    assert (t2, t3) == (t1 + 100, t1 + 200)

    assert event_args(chain, r2, "UnitKeyRotated") == [
        {"unitId": unit, "previousKey": first, "newKey": second.address, "validFrom": t2}
    ]
    assert event_args(chain, r3, "UnitKeyRotated") == [
        {"unitId": unit, "previousKey": second.address, "newKey": third.address, "validFrom": t3}
    ]
    key_at = fn(chain).keyAt
    assert key_at(unit, t1 - 1).call() == ZERO_ADDRESS  # before registration
    assert key_at(unit, t1).call() == first
    assert key_at(unit, t2 - 1).call() == first
    assert key_at(unit, t2).call() == second.address
    assert key_at(unit, t3 - 1).call() == second.address
    assert key_at(unit, t3).call() == third.address
    assert key_at(unit, U64_MAX).call() == third.address  # clamped to uint48, not wrapped
    assert fn(chain).keyOf(unit).call() == third.address
    # Every key the unit ever had stays its own.
    for key in (first, second.address, third.address):
        assert fn(chain).unitOfKey(key).call() == unit


def test_rotate_refuses_unknown_unit(chain: Chain) -> None:
    with reverts("UnitRegistryUnknownUnit", unit_id("NOBODY")):
        fn(chain).rotateKey(unit_id("NOBODY"), key_for("Z").address).call({"from": chain.admin})


def test_rotate_refuses_zero_key(chain: Chain) -> None:
    with reverts("UnitRegistryInvalidKey", unit_id(COUNTY), ZERO_ADDRESS):
        fn(chain).rotateKey(unit_id(COUNTY), ZERO_ADDRESS).call({"from": chain.admin})


def test_rotate_refuses_current_key(chain: Chain) -> None:
    current = chain.keys[COUNTY].address
    with reverts("UnitRegistryKeyInUse", current, unit_id(COUNTY)):
        fn(chain).rotateKey(unit_id(COUNTY), current).call({"from": chain.admin})


def test_rotate_refuses_own_old_key(chain: Chain) -> None:
    old = chain.keys[COUNTY].address
    chain.rotate(COUNTY, "2")
    with reverts("UnitRegistryKeyInUse", old, unit_id(COUNTY)):
        fn(chain).rotateKey(unit_id(COUNTY), old).call({"from": chain.admin})


def test_rotate_refuses_another_units_key(chain: Chain) -> None:
    taken = chain.keys[VILLAGE].address
    with reverts("UnitRegistryKeyInUse", taken, unit_id(VILLAGE)):
        fn(chain).rotateKey(unit_id(COUNTY), taken).call({"from": chain.admin})


# ---- activation --------------------------------------------------------------------------


def test_set_active_emits_only_on_change(chain: Chain) -> None:
    unit = unit_id(COUNTY)
    off = chain.send(fn(chain).setActive(unit, False), chain.admin)
    assert event_args(chain, off, "UnitActivationChanged") == [{"unitId": unit, "active": False}]
    assert fn(chain).isActive(unit).call() is False
    assert fn(chain).unit(unit).call()[1] is False
    again = chain.send(fn(chain).setActive(unit, False), chain.admin)
    assert event_args(chain, again, "UnitActivationChanged") == []
    on = chain.send(fn(chain).setActive(unit, True), chain.admin)
    assert event_args(chain, on, "UnitActivationChanged") == [{"unitId": unit, "active": True}]
    assert fn(chain).isActive(unit).call() is True


def test_set_active_refuses_unknown_unit(chain: Chain) -> None:
    with reverts("UnitRegistryUnknownUnit", unit_id("NOBODY")):
        fn(chain).setActive(unit_id("NOBODY"), True).call({"from": chain.admin})
