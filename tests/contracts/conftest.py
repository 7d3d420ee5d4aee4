"""Fixtures for contract tests on eth-tester (py-evm, in process).

Contracts are compiled from ``contracts/`` at test time (once per source file
per session), so a test always runs the source it sits beside; a separate test
asserts the committed artifacts in ``contracts/build`` equal a fresh compile.
``deploy("LogAnchor", *args)`` compiles ``contracts/LogAnchor.sol`` and deploys
the contract of that name from account 0.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

from ledger.chain.compiler import compile_contracts

Deploy = Callable[..., Contract]


@functools.cache
def _compiled(unit: str) -> dict[str, dict[str, Any]]:
    return compile_contracts([unit])


def artifact(name: str, unit: str | None = None) -> dict[str, Any]:
    """The freshly compiled artifact of ``name`` (from ``contracts/<name>.sol`` by default)."""
    return _compiled(unit or f"contracts/{name}.sol")[name]


@pytest.fixture
def tester() -> EthereumTester:
    return EthereumTester(PyEVMBackend())


@pytest.fixture
def w3(tester: EthereumTester) -> Web3:
    return Web3(EthereumTesterProvider(tester))


@pytest.fixture
def deploy(w3: Web3) -> Deploy:
    def _deploy(
        name: str, *args: Any, unit: str | None = None, sender: str | None = None
    ) -> Contract:
        a = artifact(name, unit)
        factory = w3.eth.contract(abi=a["abi"], bytecode=a["bytecode"])
        tx = factory.constructor(*args).transact({"from": sender or w3.eth.accounts[0]})
        receipt = w3.eth.wait_for_transaction_receipt(tx)
        return w3.eth.contract(address=receipt["contractAddress"], abi=a["abi"])

    return _deploy
