"""GrantRegistry on eth-tester, with the real UnitRegistry, against ledger.chain.grants.

One chain per module (``deploy_world`` in ``grant_gas.py``: both registries, the demo
units of DOMAIN.md §7, the demo datasets), rolled back to a snapshot after each test.
Every revert is decoded to its custom error and arguments. Python computes ids and
digests; the tests assert the contract agrees (STYLE.md principle 12).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from eth_abi.abi import decode
from eth_account import Account
from eth_tester.exceptions import TransactionFailed
from eth_utils.crypto import keccak
from grant_gas import TOWNSHIP, GrantWorld, deploy_world, unit_id, unit_key
from hypothesis import given, settings
from hypothesis import strategies as st
from web3.exceptions import ContractCustomError

from ledger.chain import grants as g
from ledger.chain.grants import SharingClass

CST = timezone(timedelta(hours=8))  # China Standard Time: the demo's dates are local


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Unix time of a local (UTC+8) date and time."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=CST).timestamp())


ZERO = b"\x00" * 32
DATA_ADMIN_ROLE = keccak(b"DATA_ADMIN_ROLE")

# Demo datasets (DOMAIN.md §7.5): resource name -> (owner unit, sharing class).
DATASETS: dict[str, tuple[str, SharingClass]] = {
    "违法犯罪记录核验": ("GA", SharingClass.CONDITIONAL),
    "失信被执行人核验": ("FY", SharingClass.CONDITIONAL),
    "退役军人身份核验": ("TY", SharingClass.CONDITIONAL),
    "死亡医学证明信息": ("WJ", SharingClass.CONDITIONAL),
    "社会工作者职业资格": ("RS", SharingClass.CONDITIONAL),
    "人口基础信息": ("SZ", SharingClass.UNCONDITIONAL),
    "案件侦查信息": ("GA", SharingClass.NOT_SHARED),  # 不予共享: no grant possible
}
CRIME = "违法犯罪记录核验"
NOT_SHARED = "案件侦查信息"


# --------------------------------------------------------------------------- harness


@pytest.fixture(scope="module")
def base_world() -> GrantWorld:
    world = deploy_world()
    for code, (owner, sharing) in DATASETS.items():
        world.register_dataset(code, owner, sharing)
    return world


@pytest.fixture
def world(base_world: GrantWorld) -> Iterator[GrantWorld]:
    snapshot = base_world.tester.take_snapshot()
    yield base_world
    base_world.tester.revert_to_snapshot(snapshot)


_request_counter = itertools.count()


def make_grant(
    dataset: str = CRIME,
    grantee: str = "ORG",
    *,
    valid_from: int = at(2026, 1, 5),
    valid_until: int = at(2026, 4, 1),
    request: str | None = None,
) -> g.Grant:
    request = request or f"request-{next(_request_counter)}"
    return g.Grant(
        dataset_id=g.dataset_id(dataset),
        grantee_unit_id=unit_id(grantee),
        scope_hash=g.scope_hash(["has_record", "clause_code"], {"round": "R2026"}),
        valid_from=valid_from,
        valid_until=valid_until,
        request_id=keccak(request.encode()),
        leaf_hash=keccak(f"leaf of {request}".encode()),
    )


def revert_data(exc: BaseException) -> bytes:
    """The raw revert data of a failed call or transaction.

    Over JSON-RPC (anvil) web3 raises ContractCustomError with the data as hex; the
    eth-tester provider raises TransactionFailed("execution reverted: b'...'") with the
    Python repr of the bytes, which is parsed back here.
    """
    if isinstance(exc, ContractCustomError):
        return bytes.fromhex(str(exc.data).removeprefix("0x"))
    text = str(exc).removeprefix("execution reverted: ")
    data = ast.literal_eval(text)
    assert isinstance(data, bytes), f"no revert data in {exc!r}"
    return data


def decode_error(abi: Iterable[Any], data: bytes) -> tuple[str, tuple[Any, ...]]:
    """(name, args) of the custom error in ``abi`` whose selector starts ``data``."""
    for item in abi:
        if item["type"] != "error":
            continue
        types = [i["type"] for i in item["inputs"]]
        signature = f"{item['name']}({','.join(types)})"
        if keccak(signature.encode())[:4] == data[:4]:
            return item["name"], tuple(decode(types, data[4:]))
    raise AssertionError(f"unknown error selector 0x{data[:4].hex()} (data 0x{data.hex()})")


def reverts(world: GrantWorld, call: Any, sender: str | None = None) -> tuple[str, tuple[Any, ...]]:
    """Send ``call`` as a transaction; it must revert. Returns the decoded custom error."""
    with pytest.raises((TransactionFailed, ContractCustomError)) as info:
        call.transact({"from": sender or world.relayer})
    return decode_error(world.registry.abi, revert_data(info.value))


def grant_record(world: GrantWorld, grant_id: bytes) -> dict[str, Any]:
    grant, owner, issued_at, revoked_at = world.registry.functions.grantOf(grant_id).call()
    return {"grant": tuple(grant), "owner": owner, "issued_at": issued_at, "revoked_at": revoked_at}


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    return bytes(Account.unsafe_sign_hash(digest, private_key).signature)


def is_active(world: GrantWorld, grant_id: bytes, t: int) -> bool:
    return bool(world.registry.functions.isActive(grant_id, t).call())


# --------------------------------------------------------------------------- EIP-712 domain


def test_domain_and_typehashes_equal_python(world: GrantWorld) -> None:
    from eth_account._utils.encode_typed_data.encoding_and_hashing import hash_domain, hash_type

    fields, name, version, chain_id, contract, salt, extensions = (
        world.registry.functions.eip712Domain().call()
    )
    assert (fields, name, version, salt, extensions) == (b"\x0f", "GrantRegistry", "1", ZERO, [])
    assert (chain_id, contract) == (world.chain_id, world.address)
    domain = g.eip712_domain(world.chain_id, world.address)
    assert world.registry.functions.domainSeparator().call() == hash_domain(domain)
    functions = world.registry.functions
    assert functions.GRANT_TYPEHASH().call() == hash_type("Grant", g.GRANT_TYPES)
    assert functions.REVOCATION_TYPEHASH().call() == hash_type("Revocation", g.REVOCATION_TYPES)
    assert functions.unitRegistry().call() == world.units.address


def test_grant_ids_and_digests_equal_python(world: GrantWorld) -> None:
    functions = world.registry.functions
    word = st.binary(min_size=32, max_size=32)
    uint64 = st.integers(0, 2**64 - 2)

    @settings(max_examples=25, deadline=None)
    @given(st.tuples(word, word, word, uint64, st.integers(1, 2**40), word, word), word)
    def check(fields: tuple[Any, ...], leaf: bytes) -> None:
        dataset, grantee, scope, start, length, request, leaf_hash = fields
        until = min(start + length, 2**64 - 1)
        grant = g.Grant(dataset, grantee, scope, start, until, request, leaf_hash)
        grant_id = g.grant_id(grant)
        assert functions.hashGrant(grant.as_tuple()).call() == grant_id
        chain_id, contract = world.chain_id, world.address
        assert functions.grantDigest(grant.as_tuple()).call() == g.grant_digest(
            grant, chain_id=chain_id, contract=contract
        )
        revocation = g.Revocation(grant_id, leaf)
        assert functions.revocationDigest(revocation.as_tuple()).call() == g.revocation_digest(
            revocation, chain_id=chain_id, contract=contract
        )

    check()


# --------------------------------------------------------------------------- datasets


def test_register_dataset_records_it(world: GrantWorld) -> None:
    dataset = g.dataset_id("民政低保对象")
    receipt = world.transact(
        world.registry.functions.registerDataset(dataset, unit_id("MZ"), 1), world.admin
    )
    (event,) = world.registry.events.DatasetRegistered().process_receipt(receipt)
    assert dict(event["args"]) == {
        "datasetId": dataset,
        "ownerUnitId": unit_id("MZ"),
        "sharingClass": SharingClass.CONDITIONAL,
    }
    block_time = world.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert world.registry.functions.datasetOf(dataset).call() == (unit_id("MZ"), 1, block_time)
    assert dataset == keccak("民政低保对象".encode())


def test_register_dataset_needs_the_data_admin_role(world: GrantWorld) -> None:
    call = world.registry.functions.registerDataset(g.dataset_id("x"), unit_id("MZ"), 1)
    assert reverts(world, call, world.outsider) == (
        "AccessControlUnauthorizedAccount",
        (world.outsider.lower(), DATA_ADMIN_ROLE),
    )


def test_dataset_is_write_once(world: GrantWorld) -> None:
    dataset = g.dataset_id(CRIME)
    call = world.registry.functions.registerDataset(dataset, unit_id("MZ"), 0)
    assert reverts(world, call, world.admin) == ("GrantRegistryDatasetExists", (dataset,))
    assert world.registry.functions.datasetOf(dataset).call()[:2] == (unit_id("GA"), 1)


@pytest.mark.parametrize(
    ("owner", "error"),
    [
        ("222404002", ("GrantRegistryOwnerNotCounty", (unit_id("222404002"), TOWNSHIP))),
        ("DEMO-TUANJIE", ("GrantRegistryOwnerNotCounty", (unit_id("DEMO-TUANJIE"), 1))),
        ("NO-SUCH-UNIT", ("GrantRegistryUnknownUnit", (unit_id("NO-SUCH-UNIT"),))),
    ],
    ids=["township", "village", "unregistered"],
)
def test_dataset_owner_must_be_a_county_unit(
    world: GrantWorld, owner: str, error: tuple[str, tuple[Any, ...]]
) -> None:
    call = world.registry.functions.registerDataset(g.dataset_id("x"), unit_id(owner), 1)
    assert reverts(world, call, world.admin) == error


def test_dataset_owner_must_be_active(world: GrantWorld) -> None:
    world.transact(world.units.functions.setActive(unit_id("MZ"), False), world.admin)
    call = world.registry.functions.registerDataset(g.dataset_id("x"), unit_id("MZ"), 1)
    assert reverts(world, call, world.admin) == ("GrantRegistryInactiveUnit", (unit_id("MZ"),))


def test_dataset_id_zero_and_unknown_dataset(world: GrantWorld) -> None:
    call = world.registry.functions.registerDataset(ZERO, unit_id("MZ"), 1)
    assert reverts(world, call, world.admin) == ("GrantRegistryInvalidDatasetId", ())
    unknown = g.dataset_id("no such dataset")
    assert reverts(world, world.registry.functions.datasetOf(unknown)) == (
        "GrantRegistryUnknownDataset",
        (unknown,),
    )


# --------------------------------------------------------------------------- issuing


def test_issue_grant_records_it_and_ids_agree(world: GrantWorld) -> None:
    grant = make_grant()
    signature = world.sign(grant)
    call = world.registry.functions.issueGrant(grant.as_tuple(), signature)
    assert call.call({"from": world.relayer}) == g.grant_id(grant)
    receipt = world.transact(call)

    (event,) = world.registry.events.GrantIssued().process_receipt(receipt)
    assert dict(event["args"]) == {
        "grantId": g.grant_id(grant),
        "datasetId": grant.dataset_id,
        "granteeUnitId": grant.grantee_unit_id,
        "validFrom": grant.valid_from,
        "validUntil": grant.valid_until,
        "leafHash": grant.leaf_hash,
    }
    block_time = world.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert grant_record(world, g.grant_id(grant)) == {
        "grant": grant.as_tuple(),
        "owner": unit_id("GA"),
        "issued_at": block_time,
        "revoked_at": 0,
    }
    # What the owner signed is what the contract verified (and Python checks the same).
    digest = g.grant_digest(grant, chain_id=world.chain_id, contract=world.address)
    assert g.recover_signer(digest, signature) == world.keys["GA"].address


def test_grant_on_unknown_dataset_reverts(world: GrantWorld) -> None:
    grant = make_grant(dataset="no such dataset")
    signature = g.sign_grant(
        world.keys["GA"].key, grant, chain_id=world.chain_id, contract=world.address
    )
    call = world.registry.functions.issueGrant(grant.as_tuple(), signature)
    assert reverts(world, call) == ("GrantRegistryUnknownDataset", (grant.dataset_id,))


def test_grant_on_not_shared_dataset_reverts(world: GrantWorld) -> None:
    grant = make_grant(dataset=NOT_SHARED)
    call = world.registry.functions.issueGrant(grant.as_tuple(), world.sign(grant))
    assert reverts(world, call) == ("GrantRegistryDatasetNotShared", (grant.dataset_id,))


@pytest.mark.parametrize("signer", ["ORG", "MZ", "SZ"], ids=["grantee", "other-dept", "bureau"])
def test_grant_signed_by_a_non_owner_reverts(world: GrantWorld, signer: str) -> None:
    grant = make_grant()
    call = world.registry.functions.issueGrant(grant.as_tuple(), world.sign(grant, signer))
    assert reverts(world, call) == (
        "GrantRegistryInvalidSigner",
        (unit_id("GA"), world.keys[signer].address.lower(), world.keys["GA"].address.lower()),
    )


def test_high_s_twin_of_a_valid_signature_reverts(world: GrantWorld) -> None:
    """Built as in vectors/eip712/derived/signature-malleability.json: s' = n - s, v flipped."""
    grant = make_grant()
    signature = world.sign(grant)
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    high_s = g.SECP256K1_N - s
    twin = r + high_s.to_bytes(32, "big") + bytes([55 - v])
    digest = g.grant_digest(grant, chain_id=world.chain_id, contract=world.address)
    # The twin is a valid secp256k1 signature by the owner: eth-account accepts it ...
    assert Account._recover_hash(digest, signature=twin) == world.keys["GA"].address
    # ... OpenZeppelin ECDSA and our own check do not.
    call = world.registry.functions.issueGrant(grant.as_tuple(), twin)
    assert reverts(world, call) == ("ECDSAInvalidSignatureS", (high_s.to_bytes(32, "big"),))
    with pytest.raises(g.SignatureError, match="low s"):
        g.recover_signer(digest, twin)
    world.issue(grant, signature)  # the canonical one is accepted


@pytest.mark.parametrize("v", [0, 1, 26, 29], ids=lambda v: f"v={v}")
def test_v_outside_27_28_reverts(world: GrantWorld, v: int) -> None:
    grant = make_grant()
    signature = world.sign(grant)
    if v in (0, 1):  # same parity as the valid one, as in the malleability vector
        v = signature[64] - 27
    bad = signature[:64] + bytes([v])
    call = world.registry.functions.issueGrant(grant.as_tuple(), bad)
    assert reverts(world, call) == ("ECDSAInvalidSignature", ())
    digest = g.grant_digest(grant, chain_id=world.chain_id, contract=world.address)
    with pytest.raises(g.SignatureError, match=f"v: got {v}, want 27 or 28"):
        g.recover_signer(digest, bad)


def test_signature_of_wrong_length_reverts(world: GrantWorld) -> None:
    grant = make_grant()
    short = world.sign(grant)[:64]
    call = world.registry.functions.issueGrant(grant.as_tuple(), short)
    assert reverts(world, call) == ("ECDSAInvalidSignatureLength", (64,))


def test_signature_for_another_chain_id_reverts(world: GrantWorld) -> None:
    grant = make_grant()
    key = world.keys["GA"]
    foreign = g.sign_grant(key.key, grant, chain_id=1, contract=world.address)
    # Valid for chain 1 ...
    assert g.recover_signer(g.grant_digest(grant, chain_id=1, contract=world.address), foreign) == (
        key.address
    )
    # ... and on this chain it recovers to some other address.
    here = g.grant_digest(grant, chain_id=world.chain_id, contract=world.address)
    stranger = g.recover_signer(here, foreign)
    assert stranger != key.address
    call = world.registry.functions.issueGrant(grant.as_tuple(), foreign)
    assert reverts(world, call) == (
        "GrantRegistryInvalidSigner",
        (unit_id("GA"), stranger.lower(), key.address.lower()),
    )


def test_signature_for_another_registry_reverts(world: GrantWorld) -> None:
    from grant_gas import compiled

    artifact = compiled("contracts/GrantRegistry.sol")["GrantRegistry"]
    factory = world.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = world.w3.eth.wait_for_transaction_receipt(
        factory.constructor(world.units.address, world.admin).transact({"from": world.admin})
    )
    other = world.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    world.transact(
        other.functions.registerDataset(g.dataset_id(CRIME), unit_id("GA"), 1), world.admin
    )
    grant = make_grant()
    for_other = g.sign_grant(
        world.keys["GA"].key, grant, chain_id=world.chain_id, contract=other.address
    )
    world.transact(other.functions.issueGrant(grant.as_tuple(), for_other))  # valid there
    name, args = reverts(world, world.registry.functions.issueGrant(grant.as_tuple(), for_other))
    assert (name, args[0], args[2]) == (
        "GrantRegistryInvalidSigner",
        unit_id("GA"),
        world.keys["GA"].address.lower(),
    )
    assert args[1] != world.keys["GA"].address.lower()


def test_grant_id_is_write_once(world: GrantWorld) -> None:
    grant = make_grant(request="R-1")
    world.issue(grant)
    call = world.registry.functions.issueGrant(grant.as_tuple(), world.sign(grant))
    assert reverts(world, call) == ("GrantRegistryGrantExists", (g.grant_id(grant),))
    # The same terms under another request are another grant.
    again = make_grant(request="R-2")
    assert again.valid_from == grant.valid_from and again.scope_hash == grant.scope_hash
    world.issue(again)
    assert g.grant_id(again) != g.grant_id(grant)


@pytest.mark.parametrize("delta", [0, -1, -(10**9)], ids=["equal", "one-less", "far-less"])
def test_empty_window_reverts(world: GrantWorld, delta: int) -> None:
    start = at(2026, 1, 5)
    terms = make_grant().as_tuple()
    bad = (*terms[:3], start, start + delta, *terms[5:])
    with pytest.raises(g.GrantError, match="want valid_from < valid_until"):
        g.Grant(*bad)  # Python refuses to build it; sign the digest the contract computes
    digest = world.registry.functions.grantDigest(bad).call()
    signature = sign_digest(world.keys["GA"].key, digest)
    call = world.registry.functions.issueGrant(bad, signature)
    assert reverts(world, call) == ("GrantRegistryInvalidWindow", (start, start + delta))


def test_grantee_must_be_registered_and_active(world: GrantWorld) -> None:
    ghost = make_grant(grantee="NO-SUCH-UNIT")
    call = world.registry.functions.issueGrant(ghost.as_tuple(), world.sign(ghost))
    assert reverts(world, call) == ("GrantRegistryUnknownUnit", (unit_id("NO-SUCH-UNIT"),))
    world.transact(world.units.functions.setActive(unit_id("ORG"), False), world.admin)
    grant = make_grant(grantee="ORG")
    call = world.registry.functions.issueGrant(grant.as_tuple(), world.sign(grant))
    assert reverts(world, call) == ("GrantRegistryInactiveUnit", (unit_id("ORG"),))


def test_inactive_owner_cannot_grant_but_can_still_revoke(world: GrantWorld) -> None:
    granted = make_grant()
    world.issue(granted)
    world.transact(world.units.functions.setActive(unit_id("GA"), False), world.admin)
    grant = make_grant()
    call = world.registry.functions.issueGrant(grant.as_tuple(), world.sign(grant))
    assert reverts(world, call) == ("GrantRegistryInactiveUnit", (unit_id("GA"),))
    revocation = g.Revocation(g.grant_id(granted), keccak(b"revocation"))
    world.revoke(revocation, "GA")  # withdrawing access stays possible
    assert grant_record(world, g.grant_id(granted))["revoked_at"] != 0


def test_only_the_owners_current_key_signs(world: GrantWorld) -> None:
    old, new = world.keys["GA"], unit_key("GA", 1)
    world.transact(world.units.functions.rotateKey(unit_id("GA"), new.address), world.admin)
    grant = make_grant()
    call = world.registry.functions.issueGrant(grant.as_tuple(), world.sign(grant, "GA"))
    assert reverts(world, call) == (
        "GrantRegistryInvalidSigner",
        (unit_id("GA"), old.address.lower(), new.address.lower()),
    )
    signature = g.sign_grant(new.key, grant, chain_id=world.chain_id, contract=world.address)
    world.issue(grant, signature)
    assert grant_record(world, g.grant_id(grant))["owner"] == unit_id("GA")


# --------------------------------------------------------------------------- batches


def test_demo_grants_g1_to_g6_in_one_batch(world: GrantWorld) -> None:
    """DOMAIN.md §7.5. G5 goes to SWD (社工 now under the social work department);
    G6 is the unconditional base population data, to a community's grid workers."""
    start, q1_end, year_end = at(2026, 1, 5), at(2026, 4, 1), at(2027, 1, 5)
    round_scope = {"round": "R2026", "candidates_of": "ORG"}
    demo = {
        "G1": ("违法犯罪记录核验", "ORG", ["has_record", "clause_code"], round_scope, q1_end),
        "G2": ("失信被执行人核验", "ORG", ["has_record", "clause_code"], round_scope, q1_end),
        "G3": ("退役军人身份核验", "MZ", ["is_veteran"], {"division": "222404"}, year_end),
        "G4": ("死亡医学证明信息", "MZ", ["death_date"], {"division": "222404"}, year_end),
        "G5": (
            "社会工作者职业资格",
            "SWD",
            ["cert_level", "cert_date"],
            {"division": "222404"},
            year_end,
        ),
        "G6": (
            "人口基础信息",
            "DEMO-TUANJIE",
            ["name_masked", "id_no_masked", "address_masked"],
            {"division": "DEMO-TUANJIE"},
            year_end,
        ),
    }
    grants = {
        name: g.Grant(
            dataset_id=g.dataset_id(dataset),
            grantee_unit_id=unit_id(grantee),
            scope_hash=g.scope_hash(fields, rows),
            valid_from=start,
            valid_until=until,
            request_id=keccak(f"DEMO-REQ-{name}".encode()),
            leaf_hash=keccak(f"DEMO-LEAF-{name}".encode()),
        )
        for name, (dataset, grantee, fields, rows, until) in demo.items()
    }
    receipt = world.issue_batch(grants.values())

    events = world.registry.events.GrantIssued().process_receipt(receipt)
    assert [e["args"]["grantId"] for e in events] == [g.grant_id(x) for x in grants.values()]
    assert world.registry.functions.datasetOf(g.dataset_id("人口基础信息")).call()[1] == (
        SharingClass.UNCONDITIONAL
    )
    for name, grant in grants.items():
        grant_id = g.grant_id(grant)
        record = grant_record(world, grant_id)
        assert record["grant"] == grant.as_tuple(), name
        assert record["owner"] == unit_id(DATASETS[demo[name][0]][0]), name
        for t in (start - 1, start, at(2026, 3, 31, 23, 59, 59), q1_end, year_end - 1, year_end):
            issued_at = record["issued_at"]
            assert is_active(world, grant_id, t) == g.is_active(
                grant, None, t, issued_at=issued_at
            ), (name, t)
    # This chain's clock (the machine's) is past the demo's Q1 2026: G1 (Jan 5 - Apr 1) was
    # issued after its window, so it was never active; no grant is active before its issuance.
    g1 = g.grant_id(grants["G1"])
    issued = grant_record(world, g1)["issued_at"]
    assert issued >= q1_end
    assert not is_active(world, g1, at(2026, 3, 31, 23, 59, 59))
    for grant in grants.values():
        assert not is_active(world, g.grant_id(grant), issued - 1)


def test_a_batch_is_all_or_nothing(world: GrantWorld) -> None:
    good, bad = make_grant(), make_grant(dataset=NOT_SHARED)
    batch = [(good.as_tuple(), world.sign(good)), (bad.as_tuple(), world.sign(bad))]
    call = world.registry.functions.issueGrants(batch)
    assert reverts(world, call) == ("GrantRegistryDatasetNotShared", (bad.dataset_id,))
    assert not is_active(world, g.grant_id(good), good.valid_from)
    unknown = reverts(world, world.registry.functions.grantOf(g.grant_id(good)))
    assert unknown == ("GrantRegistryUnknownGrant", (g.grant_id(good),))
    twice = [(good.as_tuple(), world.sign(good))] * 2
    assert reverts(world, world.registry.functions.issueGrants(twice)) == (
        "GrantRegistryGrantExists",
        (g.grant_id(good),),
    )
    assert reverts(world, world.registry.functions.issueGrants([])) == (
        "GrantRegistryEmptyBatch",
        (),
    )


# --------------------------------------------------------------------------- revocation


def test_owner_revokes_through_a_relayer(world: GrantWorld) -> None:
    grant = make_grant()
    world.issue(grant)
    grant_id = g.grant_id(grant)
    revocation = g.Revocation(grant_id, keccak(b"revocation leaf"))
    receipt = world.revoke(revocation, "GA")
    block_time = world.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    (event,) = world.registry.events.GrantRevoked().process_receipt(receipt)
    assert dict(event["args"]) == {
        "grantId": grant_id,
        "revokedAt": block_time,
        "leafHash": revocation.leaf_hash,
    }
    assert grant_record(world, grant_id)["revoked_at"] == block_time


@pytest.mark.parametrize("signer", ["ORG", "MZ", "SZ"], ids=["grantee", "other-dept", "bureau"])
def test_revocation_by_a_non_owner_reverts(world: GrantWorld, signer: str) -> None:
    grant = make_grant()
    world.issue(grant)
    revocation = g.Revocation(g.grant_id(grant), keccak(b"revocation leaf"))
    signature = g.sign_revocation(
        world.keys[signer].key, revocation, chain_id=world.chain_id, contract=world.address
    )
    call = world.registry.functions.revokeGrant(revocation.as_tuple(), signature)
    assert reverts(world, call) == (
        "GrantRegistryInvalidSigner",
        (unit_id("GA"), world.keys[signer].address.lower(), world.keys["GA"].address.lower()),
    )
    assert grant_record(world, g.grant_id(grant))["revoked_at"] == 0


def test_revoking_twice_reverts(world: GrantWorld) -> None:
    grant = make_grant()
    world.issue(grant)
    first = g.Revocation(g.grant_id(grant), keccak(b"first"))
    receipt = world.revoke(first, "GA")
    revoked_at = world.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    second = g.Revocation(g.grant_id(grant), keccak(b"second"))
    signature = g.sign_revocation(
        world.keys["GA"].key, second, chain_id=world.chain_id, contract=world.address
    )
    call = world.registry.functions.revokeGrant(second.as_tuple(), signature)
    assert reverts(world, call) == ("GrantRegistryAlreadyRevoked", (g.grant_id(grant), revoked_at))


def test_revoking_an_unknown_grant_reverts(world: GrantWorld) -> None:
    unknown = g.grant_id(make_grant())
    revocation = g.Revocation(unknown, keccak(b"revocation leaf"))
    signature = g.sign_revocation(
        world.keys["GA"].key, revocation, chain_id=world.chain_id, contract=world.address
    )
    call = world.registry.functions.revokeGrant(revocation.as_tuple(), signature)
    assert reverts(world, call) == ("GrantRegistryUnknownGrant", (unknown,))


# --------------------------------------------------------------------------- isActive


def test_is_active_before_inside_after_and_after_revocation(world: GrantWorld) -> None:
    base = world.now()
    start, until = base + 1000, base + 2000
    grant = make_grant(valid_from=start, valid_until=until)
    grant_id = g.grant_id(grant)
    world.issue(grant)
    issued_at = grant_record(world, grant_id)["issued_at"]

    def both(t: int, revoked_at: int | None) -> bool:
        answer = is_active(world, grant_id, t)
        assert answer == g.is_active(grant, revoked_at, t, issued_at=issued_at), t
        return answer

    assert not both(world.now(), None)  # now: before the window
    assert not both(start - 1, None)
    assert both(start, None) and both(until - 1, None)
    assert not both(until, None)

    world.tester.time_travel(start + 100)  # into the window
    world.tester.mine_blocks()
    assert both(world.now(), None)

    world.tester.time_travel(start + 500)  # the next block (the revocation) is at start + 500
    world.revoke(g.Revocation(grant_id, keccak(b"revoked")), "GA")
    revoked_at = grant_record(world, grant_id)["revoked_at"]
    assert revoked_at == start + 500
    assert not both(world.now(), revoked_at)
    assert both(revoked_at - 1, revoked_at)  # the past is still answered
    assert both(start, revoked_at)
    assert not both(revoked_at, revoked_at)  # revoked at or before t: inactive
    assert not both(until - 1, revoked_at)

    world.tester.time_travel(until + 10)  # after the window
    world.tester.mine_blocks()
    assert not both(world.now(), revoked_at)
    assert both(start + 499, revoked_at)
    assert not is_active(world, g.grant_id(make_grant()), start)  # unknown grant


def test_a_backdated_grant_is_not_active_before_it_was_issued(world: GrantWorld) -> None:
    now = world.now()
    grant = make_grant(valid_from=now - 86_400, valid_until=now + 86_400, request="backdated")
    world.issue(grant)
    issued_at = grant_record(world, g.grant_id(grant))["issued_at"]
    assert grant.valid_from < issued_at
    assert not is_active(world, g.grant_id(grant), issued_at - 1)  # reads before it: no grant
    assert not is_active(world, g.grant_id(grant), grant.valid_from)
    assert is_active(world, g.grant_id(grant), issued_at)


def test_python_is_active_agrees_with_the_contract(world: GrantWorld) -> None:
    counter = itertools.count()

    @settings(max_examples=15, deadline=None)
    @given(
        start=st.integers(-300, 300),
        length=st.integers(1, 400),
        revoke_after=st.none() | st.integers(1, 600),
        probes=st.lists(st.integers(-400, 1200), min_size=1, max_size=5),
    )
    def check(start: int, length: int, revoke_after: int | None, probes: list[int]) -> None:
        now = world.now()
        grant = make_grant(
            valid_from=now + start,
            valid_until=now + start + length,
            request=f"hypothesis-{next(counter)}",
        )
        grant_id = g.grant_id(grant)
        world.issue(grant)
        issued_at = grant_record(world, grant_id)["issued_at"]
        revoked_at: int | None = None
        if revoke_after is not None:
            world.tester.time_travel(world.now() + 1 + revoke_after)
            world.revoke(g.Revocation(grant_id, keccak(b"r")), "GA")
            revoked_at = grant_record(world, grant_id)["revoked_at"]
        edges = [grant.valid_from - 1, grant.valid_from, grant.valid_until - 1, grant.valid_until]
        edges += [issued_at - 1, issued_at]
        if revoked_at is not None:
            edges += [revoked_at - 1, revoked_at]
        for t in [now + p for p in probes] + edges:
            assert is_active(world, grant_id, t) == g.is_active(
                grant, revoked_at, t, issued_at=issued_at
            ), t

    check()


# --------------------------------------------------------------------------- Python side


def test_ids_and_scope_hash_are_canonical() -> None:
    assert g.dataset_id("违法犯罪记录核验") == keccak("违法犯罪记录核验".encode())
    one = g.scope_hash(["clause_code", "has_record"], {"round": "R2026", "of": "ORG"})
    two = g.scope_hash(("has_record", "clause_code", "has_record"), {"of": "ORG", "round": "R2026"})
    assert one == two
    document = (
        b'{"fields":["clause_code","has_record"],"row_scope":{"of":"ORG","round":"R2026"},"v":1}'
    )
    assert one == keccak(document)
    assert g.scope_hash(["has_record"], {"round": "R2026"}) != g.scope_hash(
        ["has_record"], {"round": "R2025"}
    )
    with pytest.raises(g.GrantError, match="want non-empty names"):
        g.scope_hash([], {})
    with pytest.raises(g.GrantError, match="want an iterable of field names"):
        g.scope_hash("has_record", {})
    with pytest.raises(g.GrantError, match="row_scope: number not allowed"):
        g.scope_hash(["has_record"], {"share": float("nan")})


def test_python_refuses_malformed_terms() -> None:
    terms = make_grant().as_tuple()
    with pytest.raises(g.GrantError, match="dataset_id: got 31, want 32 bytes"):
        g.Grant(terms[0][:31], *terms[1:])
    with pytest.raises(g.GrantError, match=r"valid_until: got 18446744073709551616"):
        g.Grant(*terms[:4], 2**64, *terms[5:])
    with pytest.raises(g.GrantError, match="chain id: got 0"):
        g.eip712_domain(0, "0x" + "11" * 20)
    with pytest.raises(g.SignatureError, match="length: got 64, want 65"):
        g.recover_signer(ZERO, b"\x01" * 64)


def test_grant_gas_report_runs() -> None:
    from grant_gas import measure_grant_gas

    rows = measure_grant_gas()
    assert [(r["operation"], r["grants"]) for r in rows] == [
        ("registerDataset", 0),
        ("issueGrant", 1),
        ("issueGrants", 10),
        ("revokeGrant", 1),
    ]
    assert all(r["gas_used"] > 21_000 for r in rows)
