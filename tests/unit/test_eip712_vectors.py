"""EIP-712 conformance of the project's typed-data path (ledger.chain.grants).

``typed_data_digest`` / ``sign_grant`` run eth-account's ``encode_typed_data`` and
``hash_struct`` behind our policy (no floats, canonical EIP712Domain, no undeclared
fields); ``recover_signer`` is our signature check. Vectors: tests/vectors/eip712/
(ethers, geth, eth-account, transcribed, derived), see its README for source and licence.

Every vector file is consumed (``test_every_vector_file_is_consumed``) and every file's
case count is asserted, so nothing is skipped silently. Cases written for another
implementation's behaviour are listed in ``NOT_OURS`` with the reason we differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account._utils.encode_typed_data.encoding_and_hashing import (
    encode_data,
    encode_type,
    hash_domain,
    hash_struct,
    hash_type,
)
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from ledger.chain.grants import (
    SignatureError,
    TypedDataError,
    recover_signer,
    signable_typed_data,
    typed_data_digest,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "eip712"
SIGNER_CORE = VECTORS / "geth" / "signer-core-testdata"
UNICORNS_KEY = b"unicorns" * 4  # the key of the eth-account fixtures
MAIL_DIGEST = bytes.fromhex("be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")

# Vectors that encode another implementation's behaviour, and why ours differs.
NOT_OURS: dict[str, str] = {
    "signer-core-testdata/eip712.json": (
        "geth accepts the integral float 5.0 for a uint8; eth-account rejects it and our"
        " policy rejects every float (README §3). With 5.0 written as 5 it hashes."
    ),
    "signer-core-testdata/arrays-1.json": "as eip712.json: 4.0 in an int array (README §3)",
    "geth-sighash/complexTypedData": (
        "EIP712Domain declared as (chainId, name, verifyingContract, version): geth hashes"
        " the declared order, eth-account re-derives the canonical one and gets another"
        " digest (README hazard 1); we refuse any non-canonical declaration"
    ),
    "geth-sighash/complexTypedDataLCRefType": "as complexTypedData (README hazard 1)",
}


def load(relative: str) -> Any:
    return json.loads((VECTORS / relative).read_text(encoding="utf-8"))


def ints_for_integral_floats(value: Any) -> Any:
    """``value`` with every integral float (5.0) made an int (5), as geth reads it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: ints_for_integral_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [ints_for_integral_floats(v) for v in value]
    return value


def sign(private_key: bytes | str, full_message: dict[str, Any]) -> bytes:
    """Our signing path (as ``grants.sign_grant``): the policy front, then eth-account."""
    return bytes(Account.sign_message(signable_typed_data(full_message), private_key).signature)


def test_every_vector_file_is_consumed() -> None:
    consumed = {
        "ethers/typed-data.json",
        "geth/typed-data.json",
        *(f"eth-account/{name}.json" for name in ETH_ACCOUNT_COUNTS),
        *(f"geth/signer-core-testdata/{p.name}" for p in SIGNER_CORE.glob("*.json")),
        *(f"geth/signer-core-testdata/fuzzing/{name}" for name in FUZZ_FILES),
        "transcribed/eip712-mail-example.json",
        "transcribed/geth-signed-data-test-sighash.json",
        "transcribed/eth-account-sign-typed-data.json",
        "derived/signature-malleability.json",
    }
    present = {
        p.relative_to(VECTORS).as_posix()
        for p in VECTORS.rglob("*")
        if p.is_file() and not p.name.endswith("README.md")
    }
    assert present == consumed
    assert len(present) == 31


# --------------------------------------------------------------------------- ethers, geth


ETHERS: list[dict[str, Any]] = load("ethers/typed-data.json")
GETH: list[dict[str, Any]] = load("geth/typed-data.json")


def test_ethers_and_geth_case_counts() -> None:
    assert len(ETHERS) == 130
    assert sum("privateKey" in case for case in ETHERS) == 1
    assert len(GETH) == 123
    left_out = {c["name"] for c in ETHERS} - {c["name"] for c in GETH}
    assert left_out == {f"random-{n}" for n in (33, 65, 67, 71, 77, 121)} | {"Boundary values"}


def _check_digest_vector(case: dict[str, Any]) -> None:
    full = {
        "types": case["types"],
        "primaryType": case["primaryType"],
        "domain": case["domain"],
        "message": case["data"],
    }
    types = {k: v for k, v in case["types"].items() if k != "EIP712Domain"}
    encoded = bytes.fromhex(case["encoded"][2:])
    assert encode_data(case["primaryType"], types, case["data"]) == encoded
    assert typed_data_digest(full) == bytes.fromhex(case["digest"][2:])
    if "privateKey" in case:
        assert sign(case["privateKey"], full).hex() == case["signature"][2:]
        address = Account.from_key(case["privateKey"]).address
        assert recover_signer(typed_data_digest(full), sign(case["privateKey"], full)) == address


@pytest.mark.parametrize("case", ETHERS, ids=[c["name"] for c in ETHERS])
def test_ethers_typed_data(case: dict[str, Any]) -> None:
    _check_digest_vector(case)


@pytest.mark.parametrize("case", GETH, ids=[c["name"] for c in GETH])
def test_geth_typed_data(case: dict[str, Any]) -> None:
    assert "EIP712Domain" in case["types"]
    _check_digest_vector(case)


# --------------------------------------------------------------------------- geth signer/core


SIGNER_CORE_POSITIVE = ["arrays-1.json", "custom_arraytype.json", "eip712.json"]
SIGNER_CORE_EXPFAIL = sorted(p.name for p in SIGNER_CORE.glob("expfail_*.json"))
FUZZ_FILES = sorted(p.name for p in (SIGNER_CORE / "fuzzing").iterdir())


def test_signer_core_case_counts() -> None:
    assert sorted(p.name for p in SIGNER_CORE.glob("*.json")) == sorted(
        SIGNER_CORE_POSITIVE + SIGNER_CORE_EXPFAIL
    )
    assert len(SIGNER_CORE_EXPFAIL) == 10
    assert len(FUZZ_FILES) == 7


@pytest.mark.parametrize("name", SIGNER_CORE_POSITIVE)
def test_signer_core_positive(name: str) -> None:
    typed = load(f"geth/signer-core-testdata/{name}")
    if f"signer-core-testdata/{name}" in NOT_OURS:
        with pytest.raises(TypedDataError, match="got the float"):
            typed_data_digest(typed)
        typed = ints_for_integral_floats(typed)
    assert len(typed_data_digest(typed)) == 32


@pytest.mark.parametrize("name", SIGNER_CORE_EXPFAIL)
def test_signer_core_expfail(name: str) -> None:
    """Must fail as upstream says, and still fail once integral floats are ints (so that
    the float policy is not the only reason: extradata, nonexistant_type2)."""
    typed = load(f"geth/signer-core-testdata/{name}")
    with pytest.raises(TypedDataError):
        typed_data_digest(typed)
    with pytest.raises(TypedDataError):
        typed_data_digest(ints_for_integral_floats(typed))


@pytest.mark.parametrize("name", FUZZ_FILES)
def test_signer_core_fuzzing_reproducers_are_refused_cleanly(name: str) -> None:
    """Upstream: encoding must not crash or hang. Each of these is malformed; ours refuses
    it with our one error type, nothing else escapes."""
    typed = json.loads((SIGNER_CORE / "fuzzing" / name).read_text(encoding="utf-8"))
    with pytest.raises(TypedDataError):
        typed_data_digest(typed)


# --------------------------------------------------------------------------- eth-account fixtures


ETH_ACCOUNT_COUNTS = {
    "valid_for_all": 9,
    "valid_py_and_ethers": 4,
    "valid_py_and_metamask": 4,
    "invalid": 8,
    "one_arg_invalid": 4,
}
ETH_ACCOUNT: dict[str, dict[str, dict[str, Any]]] = {
    name: load(f"eth-account/{name}.json") for name in ETH_ACCOUNT_COUNTS
}
ETH_ACCOUNT_VALID = [
    (name, case)
    for file in ("valid_for_all", "valid_py_and_ethers", "valid_py_and_metamask")
    for name, case in ETH_ACCOUNT[file].items()
]
ETH_ACCOUNT_INVALID = [
    (name, case)
    for file in ("invalid", "one_arg_invalid")
    for name, case in ETH_ACCOUNT[file].items()
]
# The fixtures carry no digests; these are the Mail example's (eth-account, ethers and
# MetaMask sign them alike, or say in the name how they differ).
IS_THE_MAIL_EXAMPLE = {
    "valid_eip712_example",
    "valid_eip712_example_addresses_not_checksummed",
    "valid_missing_eip712_type_metamask_ignores_domain_data_if_domain_types_not_present",
    "valid_missing_primary_type_key_metamask_requires_primary_type_key",
    "valid_missing_primary_type_key_and_eip712domain_type_metamask_needs_primarytype",
}


def test_eth_account_case_counts() -> None:
    assert {name: len(cases) for name, cases in ETH_ACCOUNT.items()} == ETH_ACCOUNT_COUNTS
    assert len(ETH_ACCOUNT_VALID) == 17 and len(ETH_ACCOUNT_INVALID) == 12
    assert {name for name, _ in ETH_ACCOUNT_VALID} >= IS_THE_MAIL_EXAMPLE


@pytest.mark.parametrize(("name", "case"), ETH_ACCOUNT_VALID, ids=[n for n, _ in ETH_ACCOUNT_VALID])
def test_eth_account_valid(name: str, case: dict[str, Any]) -> None:
    digest = typed_data_digest(case)
    # The one-argument form we use hashes as eth-account's three-argument form does.
    types = {k: v for k, v in case["types"].items() if k != "EIP712Domain"}
    three = encode_typed_data(case["domain"], types, case["message"])
    assert digest == keccak(b"\x19\x01" + three.header + three.body)
    if name in IS_THE_MAIL_EXAMPLE:
        assert digest == MAIL_DIGEST
    unicorns = Account.from_key(UNICORNS_KEY).address
    assert recover_signer(digest, sign(UNICORNS_KEY, case)) == unicorns


@pytest.mark.parametrize(
    ("name", "case"), ETH_ACCOUNT_INVALID, ids=[n for n, _ in ETH_ACCOUNT_INVALID]
)
def test_eth_account_invalid(name: str, case: dict[str, Any]) -> None:
    with pytest.raises(TypedDataError):
        typed_data_digest(case)


# --------------------------------------------------------------------------- transcribed


MAIL = load("transcribed/eip712-mail-example.json")
MAIL_TYPES = {k: v for k, v in MAIL["typedData"]["types"].items() if k != "EIP712Domain"}
MAIL_MESSAGE = MAIL["typedData"]["message"]


def _mail_value(name: str) -> Any:
    """What our path computes for each expected value of the EIP-712 Mail example."""
    typed = MAIL["typedData"]
    signature = sign(MAIL["expected"]["privateKey"], typed)
    computed: dict[str, Any] = {
        "encodeType_Mail": encode_type("Mail", MAIL_TYPES),
        "typeHash_Mail": "0x" + hash_type("Mail", MAIL_TYPES).hex(),
        "encodeData_Mail": "0x" + encode_data("Mail", MAIL_TYPES, MAIL_MESSAGE).hex(),
        "hashStruct_Mail": "0x" + hash_struct("Mail", MAIL_TYPES, MAIL_MESSAGE).hex(),
        "domainSeparator": "0x" + hash_domain(typed["domain"]).hex(),
        "digest": "0x" + typed_data_digest(typed).hex(),
        "privateKey_note": "keccak256(utf8('cow'))",
        "privateKey": "0x" + Account.from_key(MAIL["expected"]["privateKey"]).key.hex(),
        "signerAddress": recover_signer(typed_data_digest(typed), signature).lower(),
        "v": signature[64],
        "r": "0x" + signature[:32].hex(),
        "s": "0x" + signature[32:64].hex(),
    }
    return computed[name]


def test_mail_example_has_eleven_expected_values() -> None:
    assert len([k for k in MAIL["expected"] if k != "privateKey_note"]) == 11


@pytest.mark.parametrize("name", sorted(k for k in MAIL["expected"] if k != "privateKey_note"))
def test_mail_example(name: str) -> None:
    assert _mail_value(name) == MAIL["expected"][name]


GETH_SIGHASH: list[dict[str, Any]] = load("transcribed/geth-signed-data-test-sighash.json")


def test_geth_sighash_count() -> None:
    assert len(GETH_SIGHASH) == 4


@pytest.mark.parametrize("case", GETH_SIGHASH, ids=[c["name"] for c in GETH_SIGHASH])
def test_geth_sighash(case: dict[str, Any]) -> None:
    typed, expected = case["typedData"], bytes.fromhex(case["digest"][2:])
    if f"geth-sighash/{case['name']}" not in NOT_OURS:
        assert typed_data_digest(typed) == expected
        return
    with pytest.raises(TypedDataError, match="canonical order"):
        typed_data_digest(typed)
    # The hazard itself: plain eth-account silently hashes another domain than declared.
    raw = encode_typed_data(full_message=typed)
    assert raw.header != hash_struct("EIP712Domain", typed["types"], typed["domain"])
    # Declared in canonical order, ours hashes; it is then another message than geth's.
    canonical = dict(typed, types={k: v for k, v in typed["types"].items() if k != "EIP712Domain"})
    assert typed_data_digest(canonical) != expected


SIGNED = load("transcribed/eth-account-sign-typed-data.json")


def test_eth_account_signature_count() -> None:
    assert len(SIGNED["cases"]) == 2


@pytest.mark.parametrize("case", SIGNED["cases"], ids=[c["name"] for c in SIGNED["cases"]])
def test_eth_account_signatures(case: dict[str, Any]) -> None:
    signature = sign(SIGNED["privateKey"], case)
    assert "0x" + signature.hex() == case["signature"]
    assert recover_signer(typed_data_digest(case), signature) == SIGNED["signerAddress"]


# --------------------------------------------------------------------------- derived


MALLEABILITY = load("derived/signature-malleability.json")


def _malleability_signature(case: dict[str, Any]) -> bytes:
    if "signature" in case:
        return bytes.fromhex(case["signature"][2:])
    r, s = (bytes.fromhex(case[k][2:]) for k in ("r", "s"))
    return r + s + bytes([case["v"]])


def test_malleability_case_count_and_digest() -> None:
    assert len(MALLEABILITY["cases"]) == 3
    assert [c["expect"].split(" ")[0] for c in MALLEABILITY["cases"]] == [
        "valid",
        "reject",
        "reject",
    ]
    assert "0x" + typed_data_digest(MAIL["typedData"]).hex() == MALLEABILITY["digest"]


@pytest.mark.parametrize("case", MALLEABILITY["cases"], ids=["low-s", "high-s-twin", "v-in-0-1"])
def test_signature_malleability(case: dict[str, Any]) -> None:
    digest = bytes.fromhex(MALLEABILITY["digest"][2:])
    signature = _malleability_signature(case)
    signer = MALLEABILITY["signer"]
    # eth-account alone recovers the signer from all three (the README's warning) ...
    assert Account._recover_hash(digest, signature=signature).lower() == signer
    # ... our check, like OpenZeppelin ECDSA, accepts only the canonical one.
    if case["expect"] == "valid":
        assert recover_signer(digest, signature).lower() == signer
    else:
        with pytest.raises(SignatureError, match=r"low s|want 27 or 28"):
            recover_signer(digest, signature)
