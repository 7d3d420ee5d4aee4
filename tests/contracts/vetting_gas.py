"""Gas of VettingRegistry registrations and decisions, alone and in batches.

``measure_decision_gas(batch_sizes)`` builds a fresh eth-tester chain and, for each
batch size n, takes n candidates through every step, one transaction per step:

- ``registration``: n registrations by one village (``registerCandidate`` for n = 1,
  else ``registerCandidates``);
- ``pre_review``: n stage-1 PASS by that village (``submitDecision`` for n = 1, else
  ``submitDecisions``); ``preliminary_review``: n stage-2 PASS by its township;
- ``joint_review``: n NO_RECORD opinions by one department, not yet concluding;
- ``joint_review_concluding``: n NO_RECORD opinions by a second department, each the last
  one its candidate needs (so each also emits ``CandidateConcluded``);
- ``pre_review_distinct_villages``: n stage-1 PASS, each by a different village (every
  signer's registry entry is read cold: the costliest batch).

Each row: ``{"step", "batch_size", "gas_used", "gas_per_item"}``; ``gas_used`` is the
transaction's, 21,000 intrinsic gas and calldata included. Gas is not asserted in tests:
``scripts/gas_report.py`` prints these rows. Run alone: ``python tests/contracts/vetting_gas.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

if str(Path(__file__).parent) not in sys.path:  # importable from scripts/ too
    sys.path.insert(0, str(Path(__file__).parent))

from vetting_env import Chain, candidate_id, decision, leaf, new_chain, round_id

from ledger.chain import vetting
from ledger.chain.vetting import Level, Opinion, Registration, Stage, Verdict

TOWNSHIP = "GAS-TOWNSHIP"
VILLAGE = "GAS-VILLAGE"
DEPARTMENTS = ("GAS-DEPT-A", "GAS-DEPT-B")
ROUND = "GAS-ROUND"


def _row(step: str, n: int, receipt: Any) -> dict[str, Any]:
    gas = int(receipt["gasUsed"])
    return {"step": step, "batch_size": n, "gas_used": gas, "gas_per_item": gas // n}


def _register(chain: Chain, labels: Sequence[str], villages: Sequence[str]) -> Any:
    rs = [
        Registration(candidate_id(c), round_id(ROUND), vetting.unit_id(v), leaf(f"r {c}"))
        for c, v in zip(labels, villages, strict=True)
    ]
    sigs = [chain.sign(r) for r in rs]
    f = chain.vetting.functions
    if len(rs) == 1:
        return chain.send(f.registerCandidate(rs[0].as_abi(), sigs[0]))
    return chain.send(f.registerCandidates([r.as_abi() for r in rs], sigs))


def _setup() -> Chain:
    chain = new_chain()
    chain.register_unit(TOWNSHIP, Level.TOWNSHIP)
    chain.register_unit(VILLAGE, Level.VILLAGE, TOWNSHIP)
    for code in DEPARTMENTS:
        chain.register_unit(code, Level.COUNTY)
    chain.send(
        chain.vetting.functions.openRound(
            round_id(ROUND), [vetting.unit_id(d) for d in DEPARTMENTS]
        ),
        chain.admin,
    )
    return chain


def measure_decision_gas(batch_sizes: Iterable[int] = (1, 10, 100)) -> list[dict[str, Any]]:
    """Gas per registration and per decision, by step and batch size (see the module doc)."""
    chain = _setup()
    rows: list[dict[str, Any]] = []
    villages_made = 0
    for n in batch_sizes:
        labels = [f"gas-{n}-{i}" for i in range(n)]
        rows.append(_row("registration", n, _register(chain, labels, [VILLAGE] * n)))
        steps = [
            ("pre_review", Stage.PRE_REVIEW, VILLAGE, Verdict.PASS),
            ("preliminary_review", Stage.PRELIMINARY_REVIEW, TOWNSHIP, Verdict.PASS),
            ("joint_review", Stage.JOINT_REVIEW, DEPARTMENTS[0], Opinion.NO_RECORD),
            ("joint_review_concluding", Stage.JOINT_REVIEW, DEPARTMENTS[1], Opinion.NO_RECORD),
        ]
        for step, stage, unit, verdict in steps:
            batch = [decision(c, stage, unit, verdict) for c in labels]
            rows.append(_row(step, n, chain.submit(*batch)))

        villages = [f"GAS-VILLAGE-{villages_made + i}" for i in range(n)]
        villages_made += n
        for v in villages:
            chain.register_unit(v, Level.VILLAGE, TOWNSHIP)
        distinct = [f"gas-distinct-{n}-{i}" for i in range(n)]
        _register(chain, distinct, villages)
        batch = [
            decision(c, Stage.PRE_REVIEW, v, Verdict.PASS)
            for c, v in zip(distinct, villages, strict=True)
        ]
        rows.append(_row("pre_review_distinct_villages", n, chain.submit(*batch)))
    return rows


def main() -> None:
    print(f"{'step':<30} {'batch':>5} {'gas used':>10} {'gas/item':>9}")
    for row in measure_decision_gas():
        print(
            f"{row['step']:<30} {row['batch_size']:>5} {row['gas_used']:>10} "
            f"{row['gas_per_item']:>9}"
        )


if __name__ == "__main__":
    main()
