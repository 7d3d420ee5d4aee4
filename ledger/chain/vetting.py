"""The two-committee vetting chain as the contract sees it: ids, typed data, signatures, rules.

This module mirrors ``contracts/VettingRegistry.sol`` (and the ``Level`` of
``contracts/interfaces/IUnitRegistry.sol``) without touching a chain: enums with the
contract's numbering, the EIP-712 typed data of a ``Registration`` and a ``Decision``,
their struct hashes and digests, signing with eth-account, a strict signer recovery that
refuses what OpenZeppelin ECDSA refuses, and the outcome rules (:func:`conclude`,
:func:`apply_decision`). Tests assert the contract computes the same digests and the
same states; the API applies the same rules before it relays anything.

EIP-712 (https://eips.ethereum.org/EIPS/eip-712)::

    digest = keccak256(0x19 || 0x01 || domainSeparator || hashStruct(message))
    domain = EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)
             with name "VettingRegistry", version "1"

All fields of both messages are static (``bytes32`` and ``uint8``), so ``encodeData`` is
the type hash followed by one 32-byte word per field, in the order of the type string.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any, ClassVar, Final, TypeVar

from eth_account import Account
from eth_account.messages import SignableMessage
from eth_utils.address import to_canonical_address, to_checksum_address
from eth_utils.crypto import keccak

from ledger.chain import signatures
from ledger.chain.signatures import SignatureError
from ledger.errors import InvalidInputError, LedgerError

__all__ = [
    "DECISION_TYPE",
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "REGISTRATION_TYPE",
    "ConcludedError",
    "Decision",
    "DuplicateOpinionError",
    "InvalidSignatureError",
    "InvalidVerdictError",
    "Level",
    "MissingClausesError",
    "Opinion",
    "OutOfOrderError",
    "Outcome",
    "Registration",
    "Stage",
    "Verdict",
    "VettingRuleError",
    "VettingState",
    "WrongJurisdictionError",
    "apply_decision",
    "clauses_hash",
    "conclude",
    "digest",
    "domain_separator",
    "recover_signer",
    "sign",
    "sign_decision",
    "sign_registration",
    "signable",
    "struct_hash",
    "typed_data",
    "unit_id",
]

DOMAIN_NAME: Final = "VettingRegistry"
DOMAIN_VERSION: Final = "1"
EIP712_DOMAIN_TYPE: Final = (
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
REGISTRATION_TYPE: Final = (
    "Registration(bytes32 candidateId,bytes32 roundId,bytes32 villageId,bytes32 leafHash)"
)
DECISION_TYPE: Final = (
    "Decision(bytes32 candidateId,uint8 stage,bytes32 unitId,uint8 verdict,"
    "bytes32 clausesHash,bytes32 leafHash)"
)
MAX_DEPARTMENTS: Final = 32
"""A round requires 1 to 32 departments: an opinion set is a 32-bit bitmap on chain."""

_ZERO: Final = bytes(32)
_CLAUSE_CODE = re.compile(r"[A-Za-z0-9_.\-]+", re.ASCII)

PrivateKey = bytes | str


class Level(IntEnum):
    """``IUnitRegistry.Level``."""

    NONE = 0
    VILLAGE = 1
    TOWNSHIP = 2
    COUNTY = 3


class Stage(IntEnum):
    """``IVettingRegistry.Stage``: the three ordered stages (NONE: unknown candidate)."""

    NONE = 0
    PRE_REVIEW = 1  # 预审, by the candidate's village
    PRELIMINARY_REVIEW = 2  # 初审, by the village's township
    JOINT_REVIEW = 3  # 联审, by each required department


class Verdict(IntEnum):
    """``IVettingRegistry.Verdict``: stages 1 and 2."""

    NONE = 0
    PASS = 1
    FAIL = 2
    RETURN = 3


class Opinion(IntEnum):
    """``IVettingRegistry.Opinion``: stage 3 (DOMAIN.md §1.6)."""

    NONE = 0
    NO_RECORD = 1
    RECORD_FOUND = 2
    NEEDS_INFO = 3
    NOT_APPLICABLE = 4


class Outcome(IntEnum):
    """``IVettingRegistry.Outcome``; NONE while pending. DEFERRED is provisional."""

    NONE = 0
    PASSED = 1
    FAILED = 2
    DEFERRED = 3
    RETURNED = 4

    @property
    def final(self) -> bool:
        return self in (Outcome.PASSED, Outcome.FAILED, Outcome.RETURNED)


# ---- ids and commitments -----------------------------------------------------------------


def unit_id(code: str) -> bytes:
    """``keccak256(bytes(code))``: a unit's id on chain, from its division or department code."""
    if not code:
        raise InvalidInputError("a unit code must not be empty")
    return keccak(code.encode("utf-8"))


def clauses_hash(codes: Iterable[str], salt: bytes) -> bytes:
    """The salted commitment to a decision's negative-list clause codes (``["N2", "N9"]``).

    ``keccak256(salt || ",".join(sorted(set(codes))))`` (UTF-8), and 32 zero bytes for no
    codes. The reasons for a disqualification stay at county level (DOMAIN.md §1.6): the
    negative list has ten clauses, so an unsalted hash would give them away to anyone
    reading the chain. ``salt`` is 32 random bytes kept off chain with the decision.
    Codes are ``[A-Za-z0-9_.-]+``, so the comma cannot be part of one.
    """
    if not isinstance(salt, bytes) or len(salt) != 32:
        raise InvalidInputError("clauses_hash: the salt must be 32 bytes")
    unique = set(codes)
    for code in unique:
        if not isinstance(code, str) or not _CLAUSE_CODE.fullmatch(code):
            raise InvalidInputError(f"invalid clause code {code!r}, want [A-Za-z0-9_.-]+")
    if not unique:
        return _ZERO
    return keccak(salt + ",".join(sorted(unique)).encode("utf-8"))


# ---- typed data ----------------------------------------------------------------------------


def _check_word(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != 32:
        raise InvalidInputError(f"{name} must be 32 bytes, got {value!r}")


def _check_uint8(name: str, value: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= 255:
        raise InvalidInputError(f"{name} must be a uint8, got {value!r}")


@dataclass(frozen=True, slots=True)
class Registration:
    """``Registration(bytes32 candidateId,bytes32 roundId,bytes32 villageId,bytes32 leafHash)``."""

    candidate_id: bytes
    round_id: bytes
    village_id: bytes
    leaf_hash: bytes

    TYPE: ClassVar[str] = REGISTRATION_TYPE
    PRIMARY: ClassVar[str] = "Registration"

    def __post_init__(self) -> None:
        for name in ("candidate_id", "round_id", "village_id", "leaf_hash"):
            _check_word(name, getattr(self, name))

    def as_abi(self) -> tuple[bytes, bytes, bytes, bytes]:
        """The tuple a contract call takes for the struct."""
        return (self.candidate_id, self.round_id, self.village_id, self.leaf_hash)

    def message(self) -> dict[str, Any]:
        """The EIP-712 ``message`` object (hex strings for ``bytes32``)."""
        return {
            "candidateId": _hex(self.candidate_id),
            "roundId": _hex(self.round_id),
            "villageId": _hex(self.village_id),
            "leafHash": _hex(self.leaf_hash),
        }

    def encode_data(self) -> bytes:
        return (
            keccak(text=self.TYPE)
            + self.candidate_id
            + self.round_id
            + self.village_id
            + self.leaf_hash
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """``Decision(bytes32 candidateId,uint8 stage,bytes32 unitId,uint8 verdict,bytes32
    clausesHash,bytes32 leafHash)``: ``verdict`` is a :class:`Verdict` at stages 1–2 and an
    :class:`Opinion` at stage 3. Any uint8 is representable, so tests can sign bad values."""

    candidate_id: bytes
    stage: int
    unit_id: bytes
    verdict: int
    clauses_hash: bytes
    leaf_hash: bytes

    TYPE: ClassVar[str] = DECISION_TYPE
    PRIMARY: ClassVar[str] = "Decision"

    def __post_init__(self) -> None:
        for name in ("candidate_id", "unit_id", "clauses_hash", "leaf_hash"):
            _check_word(name, getattr(self, name))
        _check_uint8("stage", self.stage)
        _check_uint8("verdict", self.verdict)

    def as_abi(self) -> tuple[bytes, int, bytes, int, bytes, bytes]:
        """The tuple a contract call takes for the struct."""
        return (
            self.candidate_id,
            int(self.stage),
            self.unit_id,
            int(self.verdict),
            self.clauses_hash,
            self.leaf_hash,
        )

    def message(self) -> dict[str, Any]:
        """The EIP-712 ``message`` object (hex strings for ``bytes32``)."""
        return {
            "candidateId": _hex(self.candidate_id),
            "stage": int(self.stage),
            "unitId": _hex(self.unit_id),
            "verdict": int(self.verdict),
            "clausesHash": _hex(self.clauses_hash),
            "leafHash": _hex(self.leaf_hash),
        }

    def encode_data(self) -> bytes:
        return (
            keccak(text=self.TYPE)
            + self.candidate_id
            + int(self.stage).to_bytes(32, "big")
            + self.unit_id
            + int(self.verdict).to_bytes(32, "big")
            + self.clauses_hash
            + self.leaf_hash
        )


Message = Registration | Decision


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _types(message: Message) -> dict[str, list[dict[str, str]]]:
    def fields(type_string: str) -> list[dict[str, str]]:
        inner = type_string[type_string.index("(") + 1 : -1]
        return [dict(zip(("type", "name"), f.split(" "), strict=True)) for f in inner.split(",")]

    return {"EIP712Domain": fields(EIP712_DOMAIN_TYPE), message.PRIMARY: fields(message.TYPE)}


def domain_separator(chain_id: int, contract: str | bytes) -> bytes:
    """``hashStruct(EIP712Domain)`` of a VettingRegistry at ``contract`` on ``chain_id``."""
    return keccak(
        keccak(text=EIP712_DOMAIN_TYPE)
        + keccak(text=DOMAIN_NAME)
        + keccak(text=DOMAIN_VERSION)
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + to_canonical_address(contract)
    )


def struct_hash(message: Message) -> bytes:
    """``hashStruct(message) = keccak256(encodeData(message))``."""
    return keccak(message.encode_data())


def signable(message: Message, chain_id: int, contract: str | bytes) -> SignableMessage:
    """The EIP-191 version 0x01 message eth-account signs (same as ``encode_typed_data``)."""
    return SignableMessage(b"\x01", domain_separator(chain_id, contract), struct_hash(message))


def digest(message: Message, chain_id: int, contract: str | bytes) -> bytes:
    """The EIP-712 digest: what the unit's key signs and what ``hashDecision`` returns."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, contract) + struct_hash(message))


def typed_data(message: Message, chain_id: int, contract: str | bytes) -> dict[str, Any]:
    """The full EIP-712 JSON (``eth_signTypedData_v4``), for wallets and external signers."""
    return {
        "types": _types(message),
        "primaryType": message.PRIMARY,
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(contract),
        },
        "message": message.message(),
    }


# ---- signatures ----------------------------------------------------------------------------


InvalidSignatureError = SignatureError
"""A signature the contract would refuse (OpenZeppelin ECDSA rules)."""


def sign(private_key: PrivateKey, message: Message, chain_id: int, contract: str | bytes) -> bytes:
    """A 65-byte ``r || s || v`` signature (low s, v ∈ {27, 28}) of ``message``'s digest."""
    signed = Account.sign_message(signable(message, chain_id, contract), private_key)
    return bytes(signed.signature)


def sign_registration(
    private_key: PrivateKey, registration: Registration, chain_id: int, contract: str | bytes
) -> bytes:
    """The village's signature of a :class:`Registration`."""
    return sign(private_key, registration, chain_id, contract)


def sign_decision(
    private_key: PrivateKey, decision: Decision, chain_id: int, contract: str | bytes
) -> bytes:
    """The deciding unit's signature of a :class:`Decision`."""
    return sign(private_key, decision, chain_id, contract)


def recover_signer(message: Message, signature: bytes, chain_id: int, contract: str | bytes) -> str:
    """The checksum address that signed ``message``, refusing what the contract refuses
    (see :func:`ledger.chain.signatures.recover_signer`)."""
    return signatures.recover_signer(digest(message, chain_id, contract), signature)


# ---- rules ---------------------------------------------------------------------------------


class VettingRuleError(LedgerError):
    """A decision the contract refuses for the rules of the chain (not for its signature).

    ``contract_error`` and ``contract_args`` name the contract's custom error and its
    arguments, so the API can say what the chain would say, and tests can compare them.
    """

    code = "vetting_rule"
    contract_error: ClassVar[str] = ""

    def __init__(self, message: str, *contract_args: Any) -> None:
        super().__init__(
            message,
            error=self.contract_error,
            arguments=["0x" + a.hex() if isinstance(a, bytes) else int(a) for a in contract_args],
        )
        self.contract_args: tuple[Any, ...] = contract_args


class OutOfOrderError(VettingRuleError):
    code = "vetting_out_of_order"
    contract_error = "VettingRegistryOutOfOrder"


class WrongJurisdictionError(VettingRuleError):
    code = "vetting_wrong_jurisdiction"
    contract_error = "VettingRegistryWrongJurisdiction"


class InvalidVerdictError(VettingRuleError):
    code = "vetting_invalid_verdict"
    contract_error = "VettingRegistryInvalidVerdict"


class MissingClausesError(VettingRuleError):
    code = "vetting_missing_clauses"
    contract_error = "VettingRegistryMissingClauses"


class DuplicateOpinionError(VettingRuleError):
    code = "vetting_duplicate_opinion"
    contract_error = "VettingRegistryDuplicateOpinion"


class ConcludedError(VettingRuleError):
    code = "vetting_concluded"
    contract_error = "VettingRegistryConcluded"


K = TypeVar("K")


def conclude(
    required: Collection[K],
    opinions: Mapping[K, Opinion],
    *,
    pre_review: Verdict = Verdict.PASS,
    preliminary_review: Verdict = Verdict.PASS,
) -> Outcome:
    """The outcome of a candidate from its decisions so far (DOMAIN.md §1.6).

    ``opinions`` holds each department's current joint-review opinion (a resolving opinion
    replaces its NEEDS_INFO). A FAIL at stage 1 or 2 is FAILED and a RETURN is RETURNED;
    a stage not decided yet (``Verdict.NONE``) or a required opinion not given yet is
    ``Outcome.NONE``. Once every required opinion is in: any RECORD_FOUND → FAILED, else
    any NEEDS_INFO → DEFERRED, else PASSED.
    """
    for verdict in (pre_review, preliminary_review):
        if verdict == Verdict.NONE:
            return Outcome.NONE
        if verdict == Verdict.FAIL:
            return Outcome.FAILED
        if verdict == Verdict.RETURN:
            return Outcome.RETURNED
    if not required or len(required) > MAX_DEPARTMENTS:
        raise InvalidInputError(
            f"{len(required)} required departments, want 1 to {MAX_DEPARTMENTS}"
        )
    stray = [d for d in opinions if d not in required]
    if stray:
        raise InvalidInputError(f"opinions of departments the round does not require: {stray!r}")
    if any(opinions[d] == Opinion.NONE for d in opinions):
        raise InvalidInputError("Opinion.NONE is not an opinion")
    if len(opinions) < len(required):
        return Outcome.NONE
    current = set(opinions.values())
    if Opinion.RECORD_FOUND in current:
        return Outcome.FAILED
    if Opinion.NEEDS_INFO in current:
        return Outcome.DEFERRED
    return Outcome.PASSED


@dataclass(frozen=True, slots=True)
class VettingState:
    """A candidate as the contract keeps it, with what its checks need to know.

    ``departments`` are the round's required departments in bitmap order (bit i is
    ``departments[i]``); the bitmaps are those of ``IVettingRegistry.Candidate``.
    """

    candidate_id: bytes
    village_id: bytes
    township_id: bytes
    departments: tuple[bytes, ...]
    stage: Stage = Stage.PRE_REVIEW
    outcome: Outcome = Outcome.NONE
    opinions_given: int = 0
    record_found: int = 0
    needs_info: int = 0
    not_applicable: int = 0
    resolved: int = 0

    def opinions(self) -> dict[bytes, Opinion]:
        """Each department's current opinion, for those that gave one."""
        out: dict[bytes, Opinion] = {}
        for i, department in enumerate(self.departments):
            bit = 1 << i
            if not self.opinions_given & bit:
                continue
            if self.record_found & bit:
                out[department] = Opinion.RECORD_FOUND
            elif self.needs_info & bit:
                out[department] = Opinion.NEEDS_INFO
            elif self.not_applicable & bit:
                out[department] = Opinion.NOT_APPLICABLE
            else:
                out[department] = Opinion.NO_RECORD
        return out


def apply_decision(state: VettingState, decision: Decision) -> VettingState:
    """The state after ``decision``, or the :class:`VettingRuleError` the contract raises.

    The same checks in the same order as ``VettingRegistry._decide``, except the signer's
    key, level and active flag, which need the unit registry.
    """
    d = decision
    if state.outcome.final:
        raise ConcludedError(
            f"candidate is concluded ({state.outcome.name})", d.candidate_id, state.outcome
        )
    if d.stage != state.stage:
        raise OutOfOrderError(
            f"stage {d.stage} given, stage {int(state.stage)} expected",
            d.candidate_id,
            int(state.stage),
            d.stage,
        )
    if state.stage == Stage.JOINT_REVIEW:
        return _apply_opinion(state, d)
    reviewer = state.village_id if state.stage == Stage.PRE_REVIEW else state.township_id
    if d.unit_id != reviewer:
        raise WrongJurisdictionError(
            f"unit {d.unit_id.hex()} may not decide stage {d.stage}",
            d.candidate_id,
            d.stage,
            d.unit_id,
        )
    if d.verdict not in (Verdict.PASS, Verdict.FAIL, Verdict.RETURN):
        raise InvalidVerdictError(
            f"verdict {d.verdict} at stage {d.stage}", d.candidate_id, d.stage, d.verdict
        )
    if d.verdict == Verdict.FAIL and d.clauses_hash == _ZERO:
        raise MissingClausesError("FAIL without clause codes", d.candidate_id, d.stage, d.unit_id)
    if d.verdict == Verdict.PASS:
        return replace(state, stage=Stage(state.stage + 1))
    return replace(state, outcome=Outcome.FAILED if d.verdict == Verdict.FAIL else Outcome.RETURNED)


def _apply_opinion(state: VettingState, d: Decision) -> VettingState:
    if d.unit_id not in state.departments:
        raise WrongJurisdictionError(
            f"unit {d.unit_id.hex()} is not required by the round",
            d.candidate_id,
            d.stage,
            d.unit_id,
        )
    bit = 1 << state.departments.index(d.unit_id)
    resolving = state.outcome == Outcome.DEFERRED
    if (not state.needs_info & bit) if resolving else (state.opinions_given & bit):
        raise DuplicateOpinionError(
            "the department has given its opinion", d.candidate_id, d.unit_id
        )
    valid = (Opinion.NO_RECORD, Opinion.RECORD_FOUND, Opinion.NOT_APPLICABLE) + (
        () if resolving else (Opinion.NEEDS_INFO,)
    )
    if d.verdict not in valid:
        raise InvalidVerdictError(
            f"opinion {d.verdict} at stage {d.stage}"
            + (" (a resolving opinion may not be NEEDS_INFO)" if resolving else ""),
            d.candidate_id,
            d.stage,
            d.verdict,
        )
    if d.verdict == Opinion.RECORD_FOUND and d.clauses_hash == _ZERO:
        raise MissingClausesError(
            "RECORD_FOUND without clause codes", d.candidate_id, d.stage, d.unit_id
        )
    opinion = Opinion(d.verdict)
    state = replace(
        state,
        opinions_given=state.opinions_given | bit,
        record_found=state.record_found | (bit if opinion == Opinion.RECORD_FOUND else 0),
        needs_info=(state.needs_info & ~bit) | (bit if opinion == Opinion.NEEDS_INFO else 0),
        not_applicable=state.not_applicable | (bit if opinion == Opinion.NOT_APPLICABLE else 0),
        resolved=state.resolved | (bit if resolving else 0),
    )
    outcome = conclude(state.departments, state.opinions())
    return state if outcome == Outcome.NONE else replace(state, outcome=outcome)
