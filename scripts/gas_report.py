#!/usr/bin/env python3
"""Gas used by the chain side of civic-ledger, measured from receipts on eth-tester.

Anchoring (``contracts/LogAnchor.sol``):

- the first anchor (no proof);
- an anchor extending the head to tree sizes 10^3, 10^6 and 10^9, each from the earlier
  size whose consistency proof costs the most to check at that size (the longest proof
  and the most hashing: see :func:`costliest_size1`), and re-sending the same anchor
  (a no-op);
- gas per record when one checkpoint covers 1, 10^3 or 10^5 new records of a tree of
  about 10^9 (the anchor's gas divided by the records).

A real tree of 10^9 leaves cannot be built here, so the proofs come from a
:class:`VirtualTree` whose leaves all have the same hash: every perfect subtree of
``2**k`` leaves then has the same hash ``h_k``, and any node, root or consistency proof
costs O(log n). Gas does not depend on the hash values (SHA-256 precompile gas depends
only on the input length, calldata gas on the zero bytes, and these hashes have as few as
random ones), so the numbers hold for a real log. Every virtual proof is checked with
``ledger.merkle.verify_consistency`` before it is sent, and the virtual tree is compared
with ``ledger.merkle.InMemoryTree`` on small sizes first.

Decision and grant rows (VettingRegistry, GrantRegistry) are to be added by their owners
in :func:`decision_rows` and :func:`grant_rows`.

Usage::

    .venv/bin/python scripts/gas_report.py           # a table
    .venv/bin/python scripts/gas_report.py --json    # the same rows as JSON

Exit status 1 when an anchor costs more than :data:`ANCHOR_GAS_TARGET`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eth_tester import EthereumTester, PyEVMBackend  # noqa: E402
from web3 import EthereumTesterProvider, Web3  # noqa: E402
from web3.contract import Contract  # noqa: E402

from ledger.chain.compiler import compile_contracts  # noqa: E402
from ledger.merkle import (  # noqa: E402
    InMemoryTree,
    consistency_nodes,
    hash_children,
    hash_leaf,
    range_nodes,
    root_from_range,
    verify_consistency,
)

ANCHOR_GAS_TARGET = 80_000
DECISION_GAS_TARGET = 40_000
"""Per decision, in batches of 100."""
"""The most an anchor may cost, whatever the tree size."""
ANCHOR_SIZES = (10**3, 10**6, 10**9)
"""Tree sizes the head is extended to."""
CHECKPOINT_RECORDS = (1, 10**3, 10**5)
"""Records covered by one checkpoint, for the gas-per-record rows."""
PER_RECORD_TREE_SIZE = 10**9
"""Tree size at which the gas-per-record checkpoints end."""


# --------------------------------------------------------------------------
# The virtual tree


class VirtualTree:
    """An RFC 9162 tree of any size whose leaves all have the hash ``leaf_hash``.

    The perfect subtree of ``2**k`` leaves has the hash ``h_k``, ``h_0 = leaf_hash`` and
    ``h_{k+1} = hash_children(h_k, h_k)``, wherever it sits; so a root or a proof is the
    same fold over perfect nodes as in ``InMemoryTree``, with each node's hash looked up
    by its level alone.
    """

    def __init__(self, leaf_hash: bytes, max_level: int = 64) -> None:
        self._levels = [leaf_hash]
        for _ in range(max_level):
            self._levels.append(hash_children(self._levels[-1], self._levels[-1]))

    def perfect_hash(self, level: int) -> bytes:
        return self._levels[level]

    def root(self, size: int) -> bytes:
        """MTH(D[0:size])."""
        return root_from_range([self._levels[n.level] for n in range_nodes(0, size)])

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """PROOF(size1, D[0:size2]), RFC 9162 §2.1.4.1. Requires ``0 <= size1 <= size2``."""
        nodes = consistency_nodes(size1, size2)
        return nodes.rehash([self._levels[n.level] for n in nodes.ids], hash_children)


def check_virtual_tree(tree: VirtualTree, leaf_hash: bytes, max_size: int = 40) -> None:
    """Assert that the virtual tree equals an ``InMemoryTree`` of the same leaves, sizes 1..max."""
    real = InMemoryTree([leaf_hash] * max_size)
    for size2 in range(1, max_size + 1):
        if tree.root(size2) != real.root(size2):
            raise AssertionError(f"virtual root of size {size2} differs from InMemoryTree's")
        for size1 in range(1, size2 + 1):
            if tree.consistency_proof(size1, size2) != real.consistency_proof(size1, size2):
                raise AssertionError(
                    f"virtual proof {size1} -> {size2} differs from InMemoryTree's"
                )


# --------------------------------------------------------------------------
# Which proof is the costliest to check


def proof_cost(size1: int, size2: int) -> tuple[int, int]:
    """(proof length, SHA-256 calls) of checking PROOF(size1, D[0:size2]) on chain.

    Follows ``RFC9162.verifyConsistency``: ``chainInnerRight`` hashes the inner levels whose
    mask bit is set, ``chainInner`` every inner level, ``chainBorderRight`` the border twice.
    Requires ``0 < size1 < size2``.
    """
    index = size1 - 1
    inner = (index ^ (size2 - 1)).bit_length()
    border = (index >> inner).bit_count()
    shift = (size1 & -size1).bit_length() - 1
    inner -= shift
    start = 0 if size1 == 1 << shift else 1
    mask = index >> shift
    hashes = (mask & ((1 << inner) - 1)).bit_count() + inner + 2 * border
    return start + inner + border, hashes


def costliest_size1(size2: int) -> int:
    """The ``size1 < size2`` whose consistency proof to ``size2`` costs the most gas to check.

    A proof's cost is set by the level ``f`` where the paths to leaves ``size1 - 1`` and
    ``size2 - 1`` fork (``size1 - 1`` has bit ``f - 1`` clear where ``size2 - 1`` has it set,
    and the same bits above) and by ``shift``, the trailing zeros of ``size1``: the bits of
    ``size1 - 1`` between them are free, and set bits add ``chainInnerRight`` hashes. So the
    candidates are, for each ``f`` and ``shift``, the one with all free bits set; calldata
    (~512 gas a hash) and hashing (~300 gas a hash) are weighed to pick one.
    """
    last = size2 - 1
    best, best_cost = 1, -1
    for fork in range(1, last.bit_length() + 1):
        if not (last >> (fork - 1)) & 1:
            continue
        high = (last >> fork) << fork
        for shift in range(fork):
            free = ((1 << (fork - 1)) - 1) & ~((1 << (shift + 1)) - 1)
            size1 = (high | free | ((1 << shift) - 1)) + 1
            if not 0 < size1 < size2:
                continue
            length, hashes = proof_cost(size1, size2)
            cost = 512 * length + 300 * hashes
            if cost > best_cost:
                best, best_cost = size1, cost
    return best


# --------------------------------------------------------------------------
# Measuring


TX_BASE_GAS = 21_000
"""Intrinsic gas of every transaction."""


@dataclass(frozen=True)
class Measured:
    """The gas of one mined transaction, with the part its input (calldata) costs."""

    gas: int
    calldata_gas: int
    """4 gas per zero byte and 16 per other byte of the input (EIP-2028)."""
    floor_gas: int
    """The EIP-7623 (Prague) minimum for this input: 21000 + 10 per zero byte, 40 per other."""

    @property
    def execution_gas(self) -> int | None:
        """Gas of the execution itself; None when the floor set the price."""
        return None if self.gas == self.floor_gas else self.gas - TX_BASE_GAS - self.calldata_gas


@dataclass(frozen=True)
class GasRow:
    """One measured transaction, in a section of the report."""

    section: str
    case: str
    gas: int
    calldata_gas: int
    execution_gas: int | None
    detail: str = ""

    @classmethod
    def of(cls, section: str, case: str, measured: Measured, detail: str = "") -> GasRow:
        return cls(
            section, case, measured.gas, measured.calldata_gas, measured.execution_gas, detail
        )


@dataclass(frozen=True)
class PerRecordRow:
    """Anchoring gas spread over the records one checkpoint covers."""

    records: int
    size1: int
    size2: int
    anchor_gas: int
    gas_per_record: float


class Chain:
    """An in-process eth-tester chain with a deployer/admin and an anchorer account."""

    def __init__(self) -> None:
        self.w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
        self.admin, self.anchorer = self.w3.eth.accounts[:2]
        self._artifacts = compile_contracts(["contracts/LogAnchor.sol"])

    def deploy_log_anchor(self) -> Contract:
        a = self._artifacts["LogAnchor"]
        factory = self.w3.eth.contract(abi=a["abi"], bytecode=a["bytecode"])
        receipt = self.w3.eth.wait_for_transaction_receipt(
            factory.constructor(self.admin).transact({"from": self.admin})
        )
        anchor = self.w3.eth.contract(address=receipt["contractAddress"], abi=a["abi"])
        role = anchor.functions.ANCHORER_ROLE().call()
        self.measure(anchor.functions.grantRole(role, self.anchorer), self.admin)
        return anchor

    def measure(self, call: Any, sender: str) -> Measured:
        """Send ``call`` from ``sender``; its gas from the receipt. Fails unless it succeeded."""
        tx_hash = call.transact({"from": sender})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction failed: {receipt}")
        data = bytes(self.w3.eth.get_transaction(tx_hash)["input"])
        zeros = data.count(0)
        return Measured(
            gas=int(receipt["gasUsed"]),
            calldata_gas=4 * zeros + 16 * (len(data) - zeros),
            floor_gas=TX_BASE_GAS + 10 * (zeros + 4 * (len(data) - zeros)),
        )


def checked_proof(tree: VirtualTree, size1: int, size2: int) -> list[bytes]:
    """The virtual proof, verified with ``ledger.merkle.verify_consistency`` first."""
    proof = tree.consistency_proof(size1, size2)
    verify_consistency(size1, size2, proof, tree.root(size1), tree.root(size2))
    if len(proof) != proof_cost(size1, size2)[0]:
        raise AssertionError(f"proof_cost({size1}, {size2}) disagrees with the proof's length")
    return proof


def anchor_gas(
    chain: Chain, tree: VirtualTree, size1: int, size2: int
) -> tuple[Measured, Measured]:
    """Anchoring size2 on a fresh LogAnchor whose head is size1, and re-sending that anchor.

    Each measurement is the second anchor of its contract, as every anchor after the first
    is in production (the head's slot already holds a size).
    """
    anchor = chain.deploy_log_anchor()
    chain.measure(anchor.functions.anchor(size1, tree.root(size1), []), chain.anchorer)
    call = anchor.functions.anchor(size2, tree.root(size2), checked_proof(tree, size1, size2))
    measured = chain.measure(call, chain.anchorer)
    if anchor.functions.head().call() != [size2, tree.root(size2)]:
        raise AssertionError(f"head is not {size2} after anchoring it")
    return measured, chain.measure(call, chain.anchorer)


def _power(n: int) -> str:
    return f"10^{len(str(n)) - 1}" if str(n).strip("0") == "1" else f"{n:,}"


def anchor_rows(chain: Chain, tree: VirtualTree) -> list[GasRow]:
    first = chain.deploy_log_anchor()
    call = first.functions.anchor(10**3, tree.root(10**3), [])
    rows = [
        GasRow.of(
            "anchor",
            "first anchor (0 -> 10^3)",
            chain.measure(call, chain.anchorer),
            "no proof; two fresh storage slots",
        )
    ]
    for size2 in ANCHOR_SIZES:
        resent = None
        for size1, how in ((costliest_size1(size2), "costliest"), (size2 - 10**3, "+10^3")):
            if size1 <= 0:
                continue
            measured, resent_here = anchor_gas(chain, tree, size1, size2)
            resent = resent or resent_here
            length, hashes = proof_cost(size1, size2)
            case = f"extend to {_power(size2)} ({how})"
            detail = f"from {size1:,}: {length} proof hashes, {hashes} SHA-256 calls"
            rows.append(GasRow.of("anchor", case, measured, detail))
        assert resent is not None
        floor = ", EIP-7623 floor price" if resent.execution_gas is None else ""
        detail = f"the costliest anchor sent again: a no-op{floor}"
        rows.append(GasRow.of("anchor", f"re-send to {_power(size2)}", resent, detail))
    return rows


def per_record_rows(chain: Chain, tree: VirtualTree) -> list[PerRecordRow]:
    rows = []
    for records in CHECKPOINT_RECORDS:
        size2 = PER_RECORD_TREE_SIZE
        size1 = size2 - records
        gas = anchor_gas(chain, tree, size1, size2)[0].gas
        rows.append(PerRecordRow(records, size1, size2, gas, gas / records))
    return rows


# ========================================================================== TO BE ADDED
# Decision and grant rows: measure with ``chain.measure(contract.functions.f(...), sender)``
# and return ``GasRow.of("decision" | "grant", case, measured, detail)``. ``Chain`` compiles
# LogAnchor only; compile and deploy your own contract inside your function.


def _contract_measurements() -> Any:
    """The measuring helpers that live beside the contract tests (tests/contracts)."""
    folder = str(Path(__file__).resolve().parents[1] / "tests" / "contracts")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import grant_gas
    import vetting_gas

    return vetting_gas, grant_gas


def decision_rows(chain: Chain) -> list[GasRow]:
    """Registering candidates and each vetting decision, alone and in batches of 10 and 100
    (gas per decision; calldata split not measured here)."""
    del chain  # VettingRegistry is measured on a chain of its own
    vetting_gas, _ = _contract_measurements()
    return [
        GasRow(
            "decision",
            f"{r['step']} x{r['batch_size']}",
            int(r["gas_per_item"]),
            0,
            None,
            f"per item; {int(r['gas_used']):,} for the transaction",
        )
        for r in vetting_gas.measure_decision_gas(batch_sizes=(1, 10, 100))
    ]


def grant_rows(chain: Chain) -> list[GasRow]:
    """Publishing a dataset, one grant, a batch of ten grants, and a revocation."""
    del chain
    _, grant_gas = _contract_measurements()
    return [
        GasRow(
            "grant",
            f"{r['operation']} x{max(1, int(r['grants']))}",
            int(r["gas_per_grant"]),
            0,
            None,
            f"per grant; {int(r['gas_used']):,} for the transaction",
        )
        for r in grant_gas.measure_grant_gas()
    ]


# ==========================================================================


# --------------------------------------------------------------------------
# Output


def render_table(rows: list[GasRow], per_record: list[PerRecordRow]) -> str:
    width = max(len(r.case) for r in rows)
    head = f"{'section':<9} {'case':<{width}} {'gas':>8} {'calldata':>8} {'execution':>9}  detail"
    lines = [head]
    for r in rows:
        if r.section != "anchor":
            execution = "-"  # measured per item, without the calldata split
        else:
            execution = "floor" if r.execution_gas is None else f"{r.execution_gas:,}"
        flag = "  OVER TARGET" if _over_target(r) else ""
        lines.append(
            f"{r.section:<9} {r.case:<{width}} {r.gas:>8,} {r.calldata_gas:>8,} "
            f"{execution:>9}  {r.detail}{flag}"
        )
    lines.append(
        f"(gas = {TX_BASE_GAS:,} + calldata + execution, unless the EIP-7623 floor is higher)"
    )
    lines += [
        "",
        f"{'records/checkpoint':>18} {'tree sizes':>27} {'anchor gas':>11} {'gas/record':>11}",
    ]
    for p in per_record:
        sizes = f"{p.size1:,} -> {p.size2:,}"
        lines.append(f"{p.records:>18,} {sizes:>27} {p.anchor_gas:>11,} {p.gas_per_record:>11,.2f}")
    return "\n".join(lines)


def _over_target(row: GasRow) -> bool:
    if row.section == "anchor":
        return row.gas > ANCHOR_GAS_TARGET
    if (
        row.section == "decision"
        and row.case.endswith(" x100")
        and not row.case.startswith("registration")
    ):
        return row.gas > DECISION_GAS_TARGET
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)

    leaf = hash_leaf(b"civic-ledger gas report")
    tree = VirtualTree(leaf)
    check_virtual_tree(tree, leaf)
    chain = Chain()
    sections: list[Callable[[Chain], list[GasRow]]] = [decision_rows, grant_rows]
    rows = anchor_rows(chain, tree)
    for section in sections:
        rows += section(chain)
    per_record = per_record_rows(chain, tree)
    over = [r for r in rows if _over_target(r)]

    if args.json:
        out = {
            "anchor_gas_target": ANCHOR_GAS_TARGET,
            "rows": [asdict(r) for r in rows],
            "per_record": [asdict(p) for p in per_record],
            "over_target": [r.case for r in over],
        }
        print(json.dumps(out, indent=2))
    else:
        print(render_table(rows, per_record))
        print(
            f"\ntargets: anchor <= {ANCHOR_GAS_TARGET:,}; decision <= {DECISION_GAS_TARGET:,} "
            f"in batches of 100; over target: {len(over)}"
        )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
