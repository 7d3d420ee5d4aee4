"""GrantRegistry on eth-tester: a small world of units and datasets, and its gas figures.

:func:`measure_grant_gas` is for the lead's gas report (it is not a test and asserts
nothing about gas). :func:`deploy_world` is the setup ``test_grant_registry.py`` shares:
the real ``UnitRegistry`` and ``GrantRegistry`` compiled from ``contracts/``, units
registered with deterministic test keys, the relayer a funded eth-tester account.

Run from the repository root: ``.venv/bin/python tests/contracts/grant_gas.py``.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_utils.crypto import keccak
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # when run as a script
    sys.path.insert(0, str(ROOT))

from ledger.chain import grants as g  # noqa: E402
from ledger.chain.compiler import compile_contracts  # noqa: E402

TX_GAS = 8_000_000  # ample for a batch of ten grants (~1.6M)

# IUnitRegistry.Level
NONE, VILLAGE, TOWNSHIP, COUNTY = 0, 1, 2, 3

# code -> (level, parent code): the demo units of DOMAIN.md §7.1–7.3 that grants need.
DEMO_UNITS: dict[str, tuple[int, str | None]] = {
    "ORG": (COUNTY, None),  # 中共珲春市委组织部
    "SWD": (COUNTY, None),  # 中共珲春市委社会工作部
    "MZ": (COUNTY, None),  # 珲春市民政局
    "GA": (COUNTY, None),  # 珲春市公安局
    "FY": (COUNTY, None),  # 珲春市人民法院
    "WJ": (COUNTY, None),  # 珲春市卫生健康局
    "RS": (COUNTY, None),  # 珲春市人力资源和社会保障局
    "TY": (COUNTY, None),  # 珲春市退役军人事务局
    "SZ": (COUNTY, None),  # 市政数局, the data authority
    "222404002": (TOWNSHIP, None),  # 新安街道
    "DEMO-TUANJIE": (VILLAGE, "222404002"),  # 团结社区
}


@functools.cache
def compiled(unit: str) -> dict[str, dict[str, Any]]:
    """Artifacts of one source unit (and what it imports), compiled once per process."""
    return compile_contracts([unit])


def unit_id(code: str) -> bytes:
    """``keccak256(bytes(code))``, as IUnitRegistry names units."""
    return bytes(keccak(code.encode("utf-8")))


def unit_key(code: str, generation: int = 0) -> LocalAccount:
    """A deterministic test signing key for a unit (``generation`` > 0 after a rotation)."""
    account: LocalAccount = Account.from_key(
        keccak(f"civic-ledger test unit key {code} {generation}".encode())
    )
    return account


@dataclass
class GrantWorld:
    """A chain with the unit and grant registries deployed and the demo units registered."""

    tester: EthereumTester
    w3: Web3
    units: Contract
    registry: Contract
    admin: str  # DEFAULT_ADMIN, UNIT_ADMIN and DATA_ADMIN on both registries
    relayer: str  # anyone: relays signed grants and revocations
    outsider: str  # an account with no role
    keys: dict[str, LocalAccount] = field(default_factory=dict)

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    @property
    def address(self) -> str:
        return str(self.registry.address)

    def transact(self, call: Any, sender: str | None = None) -> Any:
        """Send ``call`` (a bound contract function), wait, return the receipt; it must succeed.

        The gas limit is given, so eth-tester does not binary-search an estimate (it runs
        the transaction ~20 times); a revert then shows as a failed receipt, not an error.
        """
        tx = call.transact({"from": sender or self.relayer, "gas": TX_GAS})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction reverted: {call.fn_name}")
        return receipt

    def register_dataset(self, code: str, owner: str, sharing: g.SharingClass) -> bytes:
        dataset = g.dataset_id(code)
        self.transact(
            self.registry.functions.registerDataset(dataset, unit_id(owner), int(sharing)),
            self.admin,
        )
        return dataset

    def sign(self, grant: g.Grant, signer: str | None = None) -> bytes:
        """The grant signed by ``signer``'s key (by default the dataset owner's)."""
        key = self.keys[signer] if signer else self.owner_key(grant.dataset_id)
        return g.sign_grant(key.key, grant, chain_id=self.chain_id, contract=self.address)

    def owner_key(self, dataset: bytes) -> LocalAccount:
        owner = bytes(self.registry.functions.datasetOf(dataset).call()[0])
        return next(k for code, k in self.keys.items() if unit_id(code) == owner)

    def issue(self, grant: g.Grant, signature: bytes | None = None) -> Any:
        signature = self.sign(grant) if signature is None else signature
        return self.transact(self.registry.functions.issueGrant(grant.as_tuple(), signature))

    def issue_batch(self, grants: Iterable[g.Grant]) -> Any:
        batch = [(grant.as_tuple(), self.sign(grant)) for grant in grants]
        return self.transact(self.registry.functions.issueGrants(batch))

    def revoke(self, revocation: g.Revocation, signer: str) -> Any:
        signature = g.sign_revocation(
            self.keys[signer].key, revocation, chain_id=self.chain_id, contract=self.address
        )
        return self.transact(self.registry.functions.revokeGrant(revocation.as_tuple(), signature))

    def now(self) -> int:
        """The latest block's timestamp."""
        return int(self.w3.eth.get_block("latest")["timestamp"])


def _deploy(w3: Web3, unit: str, name: str, *args: Any, sender: str) -> Contract:
    artifact = compiled(unit)[name]
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(*args).transact({"from": sender, "gas": TX_GAS})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    return cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"]))


def deploy_world(units: dict[str, tuple[int, str | None]] | None = None) -> GrantWorld:
    """A fresh eth-tester chain with both registries and ``units`` (default: DEMO_UNITS)."""
    tester = EthereumTester(PyEVMBackend())
    w3 = Web3(EthereumTesterProvider(tester))
    accounts = list(w3.eth.accounts)
    admin, outsider, relayer = accounts[0], accounts[1], accounts[2]
    unit_registry = _deploy(w3, "contracts/UnitRegistry.sol", "UnitRegistry", admin, sender=admin)
    registry = _deploy(
        w3,
        "contracts/GrantRegistry.sol",
        "GrantRegistry",
        unit_registry.address,
        admin,
        sender=admin,
    )
    world = GrantWorld(tester, w3, unit_registry, registry, admin, relayer, outsider)
    for code, (level, parent) in (units or DEMO_UNITS).items():
        key = unit_key(code)
        parent_id = unit_id(parent) if parent else b"\x00" * 32
        world.transact(
            unit_registry.functions.registerUnit(unit_id(code), level, parent_id, key.address),
            admin,
        )
        world.keys[code] = key
    return world


def measure_grant_gas() -> list[dict[str, Any]]:
    """Gas used by publishing a dataset, one grant, a batch of ten grants, and a revocation,
    on a fresh eth-tester chain (each grant in its own fresh storage slots).

    Each row: ``operation``, ``grants`` (grants the transaction issues or revokes; 0 for
    the dataset), ``gas_used`` (the receipt's: intrinsic 21000 and calldata included) and
    ``gas_per_grant`` (``gas_used`` divided by ``grants``, or ``gas_used`` when 0).
    """
    world = deploy_world({"GA": (COUNTY, None), "ORG": (COUNTY, None)})
    dataset = g.dataset_id("违法犯罪记录核验")
    register = world.transact(
        world.registry.functions.registerDataset(
            dataset, unit_id("GA"), int(g.SharingClass.CONDITIONAL)
        ),
        world.admin,
    )
    scope = g.scope_hash(["has_record", "clause_code"], {"round": "R2026"})

    def grant(n: int) -> g.Grant:
        return g.Grant(
            dataset_id=dataset,
            grantee_unit_id=unit_id("ORG"),
            scope_hash=scope,
            valid_from=1_767_542_400,  # 2026-01-05 00:00 +08:00
            valid_until=1_774_972_800,  # 2026-04-01 00:00 +08:00
            request_id=keccak(f"request {n}".encode()),
            leaf_hash=keccak(f"leaf {n}".encode()),
        )

    single = world.issue(grant(0))
    batch = world.issue_batch(grant(n) for n in range(1, 11))
    revocation = g.Revocation(grant_id=g.grant_id(grant(0)), leaf_hash=keccak(b"revocation leaf"))
    revoke = world.revoke(revocation, "GA")
    rows = [
        ("registerDataset", 0, register),
        ("issueGrant", 1, single),
        ("issueGrants", 10, batch),
        ("revokeGrant", 1, revoke),
    ]
    return [
        {
            "operation": operation,
            "grants": count,
            "gas_used": int(receipt["gasUsed"]),
            "gas_per_grant": int(receipt["gasUsed"]) // max(count, 1),
        }
        for operation, count, receipt in rows
    ]


if __name__ == "__main__":
    print(json.dumps(measure_grant_gas(), indent=2))
