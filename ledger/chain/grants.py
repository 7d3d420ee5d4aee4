"""Data-sharing grants: the off-chain half of ``contracts/GrantRegistry.sol``.

Pure functions of bytes and ints (no web3, no I/O): ids, the EIP-712 typed data of a
grant and of a revocation, their digests, signing with a unit's key, a strict
signature check, and :func:`is_active`, the contract's activity rule.

Encodings, defined once here and asserted equal to the contract's in
``tests/contracts/test_grant_registry.py``:

- ``dataset_id(code) = keccak256(utf8(code))`` (as ``unitId`` in ``IUnitRegistry``).
- ``scope_hash = keccak256(JCS({"v": 1, "fields": sorted(set(fields)), "row_scope": rows}))``.
- EIP-712 domain ``EIP712Domain(string name,string version,uint256 chainId,
  address verifyingContract)`` = ("GrantRegistry", "1", chain id, contract address).
- ``Grant(bytes32 datasetId,bytes32 granteeUnitId,bytes32 scopeHash,uint64 validFrom,
  uint64 validUntil,bytes32 requestId,bytes32 leafHash)`` (one line in the type string).
- ``Revocation(bytes32 grantId,bytes32 leafHash)``
- ``grant_id = hashStruct(Grant)`` (EIP-712 §hashStruct): independent of the domain.

Every digest goes through eth-account's EIP-712 encoder (``encode_typed_data``,
``hash_struct``) behind :func:`typed_data_digest`, which adds the policies our vectors
call for (``tests/vectors/eip712/README.md``): no floats, a declared ``EIP712Domain``
must be in canonical order, no data fields the type does not declare.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from eth_abi.exceptions import EncodingError, ParseError
from eth_account import Account
from eth_account._utils.encode_typed_data.encoding_and_hashing import (
    get_primary_type,
    hash_struct,
)
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError

from ledger.chain.signatures import SECP256K1_N, SignatureError, recover_signer
from ledger.entries import EntryError, canonical_json
from ledger.errors import InvalidInputError

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "GRANT_TYPES",
    "REVOCATION_TYPES",
    "SCOPE_VERSION",
    "SECP256K1_N",
    "Grant",
    "GrantError",
    "Revocation",
    "SharingClass",
    "SignatureError",
    "TypedDataError",
    "dataset_id",
    "eip712_domain",
    "grant_digest",
    "grant_id",
    "grant_typed_data",
    "is_active",
    "recover_signer",
    "revocation_digest",
    "revocation_typed_data",
    "scope_hash",
    "sign_grant",
    "sign_revocation",
    "signable_typed_data",
    "typed_data_digest",
]

DOMAIN_NAME: Final = "GrantRegistry"
DOMAIN_VERSION: Final = "1"
SCOPE_VERSION: Final = 1

UINT64_MAX: Final = 2**64 - 1
# secp256k1 group order and the low-s bound (EIP-2; OpenZeppelin ECDSA.tryRecover).

Types = dict[str, list[dict[str, str]]]

# Canonical order and types of the EIP712Domain fields (EIP-712 §definition of domainSeparator).
_DOMAIN_FIELDS: Final[list[dict[str, str]]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
    {"name": "salt", "type": "bytes32"},
]

GRANT_TYPES: Final[Types] = {
    "Grant": [
        {"name": "datasetId", "type": "bytes32"},
        {"name": "granteeUnitId", "type": "bytes32"},
        {"name": "scopeHash", "type": "bytes32"},
        {"name": "validFrom", "type": "uint64"},
        {"name": "validUntil", "type": "uint64"},
        {"name": "requestId", "type": "bytes32"},
        {"name": "leafHash", "type": "bytes32"},
    ]
}
REVOCATION_TYPES: Final[Types] = {
    "Revocation": [
        {"name": "grantId", "type": "bytes32"},
        {"name": "leafHash", "type": "bytes32"},
    ]
}


class GrantError(InvalidInputError):
    """Grant or revocation terms that the contract would refuse, or malformed ones."""

    code = "invalid_grant"


class TypedDataError(InvalidInputError):
    """EIP-712 typed data that cannot be hashed under our policy."""

    code = "invalid_typed_data"


class SharingClass(enum.IntEnum):
    """``IGrantRegistry.SharingClass``: the sharing attribute of a dataset (DOMAIN.md §2.1)."""

    UNCONDITIONAL = 0  # 无条件共享
    CONDITIONAL = 1  # 有条件共享
    NOT_SHARED = 2  # 不予共享


def _check_bytes32(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != 32:
        got = len(value) if isinstance(value, bytes) else type(value).__name__
        raise GrantError(f"{name}: got {got}, want 32 bytes")


def _check_uint64(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT64_MAX:
        raise GrantError(f"{name}: got {value!r}, want an integer in [0, 2**64 - 1]")


@dataclass(frozen=True, slots=True)
class Grant:
    """The signed terms of a grant: ``IGrantRegistry.Grant``, field for field.

    ``valid_until`` is exclusive. ``leaf_hash`` is the SHA-256 leaf hash of the grant's
    entry in the log; that entry therefore cannot contain the grant id (which hashes it).
    """

    dataset_id: bytes
    grantee_unit_id: bytes
    scope_hash: bytes
    valid_from: int
    valid_until: int
    request_id: bytes
    leaf_hash: bytes

    def __post_init__(self) -> None:
        for name in ("dataset_id", "grantee_unit_id", "scope_hash", "request_id", "leaf_hash"):
            _check_bytes32(name, getattr(self, name))
        _check_uint64("valid_from", self.valid_from)
        _check_uint64("valid_until", self.valid_until)
        if self.valid_from >= self.valid_until:
            raise GrantError(
                f"empty window: valid_from {self.valid_from} >= valid_until {self.valid_until},"
                " want valid_from < valid_until",
                valid_from=self.valid_from,
                valid_until=self.valid_until,
            )

    def message(self) -> dict[str, Any]:
        """The EIP-712 ``Grant`` message (the contract's field names)."""
        return {
            "datasetId": self.dataset_id,
            "granteeUnitId": self.grantee_unit_id,
            "scopeHash": self.scope_hash,
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
            "requestId": self.request_id,
            "leafHash": self.leaf_hash,
        }

    def as_tuple(self) -> tuple[bytes, bytes, bytes, int, int, bytes, bytes]:
        """The ABI tuple of ``IGrantRegistry.Grant``, for a contract call."""
        return (
            self.dataset_id,
            self.grantee_unit_id,
            self.scope_hash,
            self.valid_from,
            self.valid_until,
            self.request_id,
            self.leaf_hash,
        )


@dataclass(frozen=True, slots=True)
class Revocation:
    """The signed terms of a revocation: ``IGrantRegistry.Revocation``."""

    grant_id: bytes
    leaf_hash: bytes

    def __post_init__(self) -> None:
        _check_bytes32("grant_id", self.grant_id)
        _check_bytes32("leaf_hash", self.leaf_hash)

    def message(self) -> dict[str, Any]:
        """The EIP-712 ``Revocation`` message."""
        return {"grantId": self.grant_id, "leafHash": self.leaf_hash}

    def as_tuple(self) -> tuple[bytes, bytes]:
        """The ABI tuple of ``IGrantRegistry.Revocation``."""
        return (self.grant_id, self.leaf_hash)


# --------------------------------------------------------------------------- ids


def dataset_id(code: str) -> bytes:
    """``keccak256(utf8(code))`` of a catalogue resource code: the on-chain dataset id."""
    if not isinstance(code, str) or not code:
        raise GrantError(f"dataset code: got {code!r}, want a non-empty string")
    return bytes(keccak(code.encode("utf-8")))


def scope_hash(fields: Iterable[str], row_scope: Mapping[str, Any]) -> bytes:
    """Commitment to a grant's scope: which fields (a set), which rows.

    ``keccak256(JCS({"v": 1, "fields": sorted(set(fields)), "row_scope": row_scope}))``.
    ``fields`` are data-item names (at least one); ``row_scope`` is a JSON object such as
    ``{"division": "222404", "round": "R2026"}``. The order of ``fields`` does not matter:
    they are listed sorted by Unicode code point (Python's ``sorted``), without duplicates.
    """
    if isinstance(fields, str):
        raise GrantError("fields: got a string, want an iterable of field names")
    field_set = set(fields)
    if not field_set or not all(isinstance(f, str) and f for f in field_set):
        raise GrantError(f"fields: got {sorted(map(repr, field_set))}, want non-empty names")
    if not isinstance(row_scope, Mapping):
        raise GrantError(f"row_scope: got {type(row_scope).__name__}, want a JSON object")
    document = {"v": SCOPE_VERSION, "fields": sorted(field_set), "row_scope": dict(row_scope)}
    try:
        return bytes(keccak(canonical_json(document)))
    except EntryError as exc:
        raise GrantError(f"row_scope: {exc.message}") from exc


def grant_id(grant: Grant) -> bytes:
    """The grant's id: its EIP-712 struct hash, as ``GrantRegistry.hashGrant`` computes it."""
    return hash_struct("Grant", GRANT_TYPES, grant.message())


# --------------------------------------------------------------------------- EIP-712


def eip712_domain(chain_id: int, contract: str) -> dict[str, Any]:
    """The registry's EIP-712 domain on chain ``chain_id`` at ``contract``."""
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise GrantError(f"chain id: got {chain_id!r}, want a positive integer")
    try:
        address = to_checksum_address(contract)
    except (ValueError, TypeError) as exc:
        raise GrantError(f"contract: got {contract!r}, want a 20-byte address") from exc
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": address,
    }


def _full_message(
    types: Types, primary: str, domain: dict[str, Any], message: dict[str, Any]
) -> dict[str, Any]:
    domain_type = [f for f in _DOMAIN_FIELDS if f["name"] in domain]
    return {
        "types": {"EIP712Domain": domain_type, **types},
        "primaryType": primary,
        "domain": domain,
        "message": message,
    }


def grant_typed_data(grant: Grant, *, chain_id: int, contract: str) -> dict[str, Any]:
    """The full EIP-712 message (types, primaryType, domain, message) to sign for ``grant``."""
    return _full_message(GRANT_TYPES, "Grant", eip712_domain(chain_id, contract), grant.message())


def revocation_typed_data(
    revocation: Revocation, *, chain_id: int, contract: str
) -> dict[str, Any]:
    """The full EIP-712 message a wallet signs for ``revocation``."""
    domain = eip712_domain(chain_id, contract)
    return _full_message(REVOCATION_TYPES, "Revocation", domain, revocation.message())


def _reject_floats(value: Any, where: str) -> None:
    if isinstance(value, float):
        raise TypedDataError(f"{where}: got the float {value!r}, want an integer or a string")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _reject_floats(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _reject_floats(item, f"{where}[{i}]")


def _reject_undeclared_fields(types: Types, type_: str, value: Any, where: str) -> None:
    """Data fields the type does not declare are an error (geth ``expfail_extradata``)."""
    if type_.endswith("]"):
        if isinstance(value, list):
            for i, item in enumerate(value):
                _reject_undeclared_fields(types, type_[: type_.rindex("[")], item, f"{where}[{i}]")
        return
    if type_ not in types or not isinstance(value, Mapping):
        return  # atomic types and shape errors are the encoder's to report
    declared = {field["name"]: field["type"] for field in types[type_]}
    extra = sorted(set(value) - set(declared))
    if extra:
        raise TypedDataError(f"{where}: fields {extra} are not declared in type {type_!r}")
    for name, field_type in declared.items():
        _reject_undeclared_fields(types, field_type, value.get(name), f"{where}.{name}")


def _check_domain_type(full_message: Mapping[str, Any]) -> None:
    """A declared EIP712Domain must list the domain's keys in canonical order and types."""
    declared = full_message["types"].get("EIP712Domain")
    if declared is None:
        return
    domain = full_message["domain"]
    want = [f for f in _DOMAIN_FIELDS if isinstance(domain, Mapping) and f["name"] in domain]
    got = [dict(f) for f in declared] if isinstance(declared, list) else declared
    if got != want:
        raise TypedDataError(
            f"EIP712Domain type: got {got}, want {want} (canonical order and types;"
            " eth-account re-derives the domain type, so any other declaration would be"
            " hashed differently from what it says)"
        )


# What eth-account and eth-abi raise for malformed types or values (ValueOutOfBounds and
# EncodingTypeError are EncodingErrors; a ValidationError for a domain or primaryType
# that disagrees with the types; KeyError/AttributeError for a wrong JSON shape).
_ENCODER_ERRORS: Final = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    OverflowError,
    RecursionError,
    EncodingError,
    ParseError,
    ValidationError,
)


def signable_typed_data(full_message: Mapping[str, Any]) -> SignableMessage:
    """The EIP-191 version-0x01 message of EIP-712 typed data, under our policy.

    ``full_message`` has ``types`` (``EIP712Domain`` optional), ``domain``, ``message`` and
    optionally ``primaryType``. Raises :class:`TypedDataError` for anything eth-account
    cannot encode, and for: a float anywhere (geth accepts ``5.0`` for an int, eth-account
    rejects it; we reject every float), a declared ``EIP712Domain`` not in canonical order,
    and message fields the type does not declare.
    """
    try:
        if not isinstance(full_message, Mapping):
            raise TypedDataError(f"typed data: got {type(full_message).__name__}, want an object")
        missing = sorted({"types", "domain", "message"} - set(full_message))
        if missing:
            raise TypedDataError(f"typed data: missing {missing}")
        _reject_floats(full_message["domain"], "domain")
        _reject_floats(full_message["message"], "message")
        _check_domain_type(full_message)
        signable = encode_typed_data(full_message=dict(full_message))
        types = {k: v for k, v in full_message["types"].items() if k != "EIP712Domain"}
        primary = get_primary_type(types)  # equal to primaryType, if given: eth-account checked
        _reject_undeclared_fields(types, primary, full_message["message"], "message")
        return signable
    except TypedDataError:
        raise
    except _ENCODER_ERRORS as exc:
        raise TypedDataError(f"typed data not encodable: {type(exc).__name__}: {exc}") from exc


def typed_data_digest(full_message: Mapping[str, Any]) -> bytes:
    """``keccak256(0x19 || 0x01 || domainSeparator || hashStruct(message))`` (EIP-712)."""
    signable = signable_typed_data(full_message)
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


def grant_digest(grant: Grant, *, chain_id: int, contract: str) -> bytes:
    """The digest the owner signs for ``grant`` (``GrantRegistry.grantDigest``)."""
    return typed_data_digest(grant_typed_data(grant, chain_id=chain_id, contract=contract))


def revocation_digest(revocation: Revocation, *, chain_id: int, contract: str) -> bytes:
    """The digest the owner signs for ``revocation`` (``GrantRegistry.revocationDigest``)."""
    return typed_data_digest(
        revocation_typed_data(revocation, chain_id=chain_id, contract=contract)
    )


# --------------------------------------------------------------------------- signatures


def _sign(private_key: bytes | str, full_message: Mapping[str, Any]) -> bytes:
    signed = Account.sign_message(signable_typed_data(full_message), private_key)
    return bytes(signed.signature)


def sign_grant(private_key: bytes | str, grant: Grant, *, chain_id: int, contract: str) -> bytes:
    """The 65-byte signature ``r || s || v`` (v in {27, 28}, low s) of ``grant``."""
    return _sign(private_key, grant_typed_data(grant, chain_id=chain_id, contract=contract))


def sign_revocation(
    private_key: bytes | str, revocation: Revocation, *, chain_id: int, contract: str
) -> bytes:
    """The 65-byte signature of ``revocation`` by ``private_key``."""
    return _sign(
        private_key, revocation_typed_data(revocation, chain_id=chain_id, contract=contract)
    )


# --------------------------------------------------------------------------- the rule


def is_active(grant: Grant, revoked_at: int | None, t: int, *, issued_at: int) -> bool:
    """Whether ``grant`` allowed access at Unix time ``t``: ``GrantRegistry.isActive``.

    ``valid_from <= t < valid_until``, ``issued_at <= t`` (the block time the grant was
    recorded: a backdated ``valid_from`` does not reach before the grant existed), and
    not revoked at or before ``t``. ``revoked_at`` is the revocation's block time; ``None``
    or ``0`` (what ``grantOf`` reports) means not revoked. Works for any past ``t``.
    """
    if not grant.valid_from <= t < grant.valid_until or t < issued_at:
        return False
    return not revoked_at or t < revoked_at
