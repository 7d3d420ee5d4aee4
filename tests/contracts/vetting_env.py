"""A chain with UnitRegistry and VettingRegistry on it, the demo units, and helpers.

Shared by ``test_unit_registry.py``, ``test_vetting_registry.py`` and ``vetting_gas.py``.
Both contracts are compiled once per process, in one solc run (solcjs takes seconds
per run). Transactions are sent with an explicit gas limit: web3 would otherwise
estimate first, running each one twice. A transaction that must succeed is checked by
its receipt status; a revert is checked with ``eth_call`` of the same function
(:func:`reverts`), which runs the same code on the same state without mining.

Revert data arrives in two shapes: web3 raises ``ContractCustomError`` with the hex data
over JSON-RPC (anvil), while its eth-tester provider re-raises py-evm's
``TransactionFailed("execution reverted: b'...'")`` with the raw bytes as a literal.
:func:`revert_data` reads both; :func:`decode_error` names the error from the ABIs.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from ledger.chain import vetting
from ledger.chain.compiler import compile_contracts
from ledger.chain.vetting import Decision, Level, Registration

UNITS = ["contracts/UnitRegistry.sol", "contracts/VettingRegistry.sol"]
GAS = 29_000_000
"""Gas limit of every transaction: below eth-tester's block gas limit, above any batch here."""

# DOMAIN.md §7.1–7.3 (codes of the townships; DEMO- codes for the villages).
TOWNSHIPS = {
    "222404101": "敬信镇",
    "222404002": "新安街道",
    "222404102": "板石镇",
    "222404203": "密江乡",
    "222404200": "马川子乡",
}
VILLAGES = {  # code → (name, township code)
    "DEMO-222404101-FANGCHUAN": ("防川村", "222404101"),
    "DEMO-222404002-TUANJIE": ("团结社区", "222404002"),
    "DEMO-222404102-MENGLING": ("孟岭村", "222404102"),
    "DEMO-222404203-MIJIANG": ("密江村", "222404203"),
    "DEMO-222404203-SANAN": ("三安村", "222404203"),
    "DEMO-222404200-MAXIN": ("马新村", "222404200"),
}
DEPARTMENTS = [
    "ORG", "SWD", "MZ", "JW", "ZF", "GA", "FY", "JCY",
    "SF", "XF", "ZR", "NY", "WJ", "RS", "TY", "SZ",
]  # fmt: skip
ROUND = "R2026"
ROUND_DEPARTMENTS = ["SWD", "JW", "ZF", "GA", "FY", "JCY", "SF", "XF", "ZR", "NY"]
"""The departments whose opinion round R2026 requires, in bitmap order."""


@functools.cache
def artifacts() -> dict[str, dict[str, Any]]:
    return compile_contracts(UNITS)


@functools.cache
def error_selectors() -> dict[bytes, tuple[str, list[str]]]:
    """4-byte selector → (error name, argument types), over both contracts' ABIs."""
    out: dict[bytes, tuple[str, list[str]]] = {}
    for name in ("UnitRegistry", "VettingRegistry"):
        for item in artifacts()[name]["abi"]:
            if item["type"] == "error":
                types = [i["type"] for i in item["inputs"]]
                out[function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")] = (
                    item["name"],
                    types,
                )
    return out


def key_for(label: str) -> LocalAccount:
    """A deterministic test key (never a real one): keccak of a label."""
    account: LocalAccount = Account.from_key(keccak(text=f"civic-ledger/test-key/{label}"))
    return account


def leaf(text: str) -> bytes:
    """A stand-in log leaf hash, SHA-256(0x00 || text) as RFC 9162 leaves are."""
    return hashlib.sha256(b"\x00" + text.encode()).digest()


def revert_data(exc: BaseException) -> bytes:
    """The raw revert data of a failed call, from either shape web3 raises it in."""
    if isinstance(exc, ContractLogicError) and isinstance(exc.data, str):
        return bytes.fromhex(exc.data.removeprefix("0x"))
    if isinstance(exc, TransactionFailed):
        text = str(exc.args[0])
        literal = text.removeprefix("execution reverted: ")
        if literal.startswith(("b'", 'b"')):
            value = ast.literal_eval(literal)
            assert isinstance(value, bytes)
            return value
        return b""
    raise AssertionError(f"not a revert: {exc!r}")


def decode_error(data: bytes) -> tuple[str, tuple[Any, ...]]:
    """(name, arguments) of a custom error from its revert data (addresses checksummed)."""
    if len(data) < 4:
        return ("", ())
    name, types = error_selectors()[data[:4]]
    values = abi_decode(types, data[4:])
    return name, tuple(
        to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)
    )


@contextmanager
def reverts(name: str, *args: Any) -> Iterator[None]:
    """Assert the block raises a revert with custom error ``name`` (and ``args``, if given).

    ``name=""`` asserts a revert without data (e.g. the ABI decoder refusing an enum).
    """
    try:
        yield
    except (ContractLogicError, TransactionFailed) as exc:
        got_name, got_args = decode_error(revert_data(exc))
        assert got_name == name, f"reverted with {got_name or 'no data'}{got_args}, want {name}"
        if args:
            assert got_args == args, f"{name} arguments {got_args}, want {args}"
    else:
        raise AssertionError(f"did not revert, want {name}")


@dataclass
class Chain:
    """One eth-tester chain with both contracts, the units registered and round R2026."""

    tester: Any
    w3: Web3
    admin: str
    relayer: str
    outsider: str
    units: Contract
    vetting: Contract
    keys: dict[str, LocalAccount] = field(default_factory=dict)
    codes: dict[bytes, str] = field(default_factory=dict)
    """unit id → code, for the units registered here."""

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    # -- transactions --

    def send(self, call: Any, sender: str | None = None) -> Any:
        """Mine ``call`` (a bound contract function) and return its receipt; it must succeed."""
        return send(self.w3, call, sender or self.relayer)

    def deploy(self, name: str, *args: Any) -> Contract:
        return deploy(self.w3, name, *args, sender=self.admin)

    # -- units --

    def register_unit(self, code: str, level: Level, parent: str | None = None) -> LocalAccount:
        key = key_for(code)
        self.keys[code] = key
        self.codes[vetting.unit_id(code)] = code
        parent_id = vetting.unit_id(parent) if parent else bytes(32)
        self.send(
            self.units.functions.registerUnit(vetting.unit_id(code), level, parent_id, key.address),
            self.admin,
        )
        return key

    def rotate(self, code: str, label: str) -> LocalAccount:
        key = key_for(f"{code}/{label}")
        self.send(self.units.functions.rotateKey(vetting.unit_id(code), key.address), self.admin)
        self.keys[code] = key
        return key

    # -- signing --

    def sign(self, message: Registration | Decision, key: LocalAccount | None = None) -> bytes:
        """Signed for this contract and chain, by ``key`` or by the acting unit's key."""
        if key is None:
            unit = message.village_id if isinstance(message, Registration) else message.unit_id
            key = self.keys[self.codes[unit]]
        return vetting.sign(key.key, message, self.chain_id, self.vetting.address)

    # -- vetting --

    def registration(self, candidate: str, village: str, round_code: str = ROUND) -> Registration:
        return Registration(
            candidate_id=candidate_id(candidate),
            round_id=round_id(round_code),
            village_id=vetting.unit_id(village),
            leaf_hash=leaf(f"register {candidate}"),
        )

    def register(self, candidate: str, village: str, round_code: str = ROUND) -> Any:
        r = self.registration(candidate, village, round_code)
        return self.send(self.vetting.functions.registerCandidate(r.as_abi(), self.sign(r)))

    def submit(self, *decisions: Decision, signatures: Sequence[bytes] | None = None) -> Any:
        sigs = list(signatures) if signatures is not None else [self.sign(d) for d in decisions]
        if len(decisions) == 1:
            call = self.vetting.functions.submitDecision(decisions[0].as_abi(), sigs[0])
        else:
            call = self.vetting.functions.submitDecisions([d.as_abi() for d in decisions], sigs)
        return self.send(call)

    def call_submit(self, decision: Decision, signature: bytes | None = None) -> None:
        """``eth_call`` of submitDecision: raises what a transaction would revert with."""
        sig = signature if signature is not None else self.sign(decision)
        self.vetting.functions.submitDecision(decision.as_abi(), sig).call({"from": self.relayer})

    def state(self, candidate: str) -> dict[str, Any]:
        c = self.vetting.functions.candidate(candidate_id(candidate)).call()
        names = (
            "round_id", "village_id", "stage", "outcome", "opinions_given",
            "record_found", "needs_info", "not_applicable", "resolved",
        )  # fmt: skip
        return dict(zip(names, c, strict=True))


def candidate_id(label: str) -> bytes:
    """A stand-in for the off-chain commitment that names a candidate."""
    return keccak(text=f"candidate/{label}")


def round_id(code: str) -> bytes:
    return keccak(text=f"round/{code}")


def decision(
    candidate: str,
    stage: int,
    unit: str,
    verdict: int,
    clauses: Sequence[str] = (),
    note: str = "",
) -> Decision:
    return Decision(
        candidate_id=candidate_id(candidate),
        stage=stage,
        unit_id=vetting.unit_id(unit),
        verdict=verdict,
        clauses_hash=vetting.clauses_hash(clauses, leaf(f"salt {candidate} {unit}")),
        leaf_hash=leaf(f"decide {candidate} {stage} {unit} {verdict} {note}"),
    )


def send(w3: Web3, call: Any, sender: str) -> Any:
    """Mine ``call`` (a bound contract function or constructor); it must succeed."""
    tx = call.transact({"from": sender, "gas": GAS})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1, f"transaction failed: {receipt}"
    return receipt


def deploy(w3: Web3, name: str, *args: Any, sender: str) -> Contract:
    a = artifacts()[name]
    factory = w3.eth.contract(abi=a["abi"], bytecode=a["bytecode"])
    receipt = send(w3, factory.constructor(*args), sender)
    contract: Contract = w3.eth.contract(address=receipt["contractAddress"], abi=a["abi"])
    return contract


def try_deploy(w3: Web3, name: str, *args: Any, sender: str) -> None:
    """Run a deployment without mining it (``eth_estimateGas``): raises its revert."""
    a = artifacts()[name]
    w3.eth.contract(abi=a["abi"], bytecode=a["bytecode"]).constructor(*args).estimate_gas(
        {"from": sender}
    )


def new_chain() -> Chain:
    """A fresh chain with both contracts deployed, no units."""
    tester = EthereumTester(PyEVMBackend())
    w3 = Web3(EthereumTesterProvider(tester))
    accounts: list[str] = list(w3.eth.accounts)  # web3 types it as a 1-tuple
    admin, relayer, outsider = accounts[0], accounts[1], accounts[2]
    units = deploy(w3, "UnitRegistry", admin, sender=admin)
    registry = deploy(w3, "VettingRegistry", units.address, admin, sender=admin)
    return Chain(tester, w3, admin, relayer, outsider, units, registry)


def demo_chain() -> Chain:
    """:func:`new_chain` with the demo townships, villages and departments, and round R2026."""
    chain = new_chain()
    for code in TOWNSHIPS:
        chain.register_unit(code, Level.TOWNSHIP)
    for code, (_, township) in VILLAGES.items():
        chain.register_unit(code, Level.VILLAGE, township)
    for code in DEPARTMENTS:
        chain.register_unit(code, Level.COUNTY)
    chain.send(
        chain.vetting.functions.openRound(
            round_id(ROUND), [vetting.unit_id(d) for d in ROUND_DEPARTMENTS]
        ),
        chain.admin,
    )
    return chain
