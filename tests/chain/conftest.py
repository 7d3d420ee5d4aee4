"""Chain fixtures: eth-tester (in process) and a real anvil node over JSON-RPC."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3
from web3.types import RPCEndpoint

from ledger.chain.client import Chain
from ledger.chain.node import Anvil


@pytest.fixture
def tester() -> EthereumTester:
    return EthereumTester(PyEVMBackend())


@pytest.fixture
def tester_chain(tester: EthereumTester) -> Chain:
    """A Chain on eth-tester whose account is a fresh key funded from a dev account."""
    w3 = Web3(EthereumTesterProvider(tester))
    account = Account.create()
    tx = w3.eth.send_transaction(
        {"from": w3.eth.accounts[0], "to": account.address, "value": 10**20}
    )
    w3.eth.wait_for_transaction_receipt(tx)
    return Chain(w3, account)


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[Anvil]:
    """A real anvil node, its state kept in a file under tmp_path."""
    node = Anvil(state_file=tmp_path / "anvil" / "state.json", log_file=tmp_path / "anvil.log")
    with node:
        yield node


def _fund(chain_url: str) -> Chain:
    account = Account.create()
    w3 = Web3(Web3.HTTPProvider(chain_url))
    w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [account.address, hex(10**20)])
    return Chain(w3, account)


@pytest.fixture
def fund() -> Callable[[str], Chain]:
    """``fund(url)``: a Chain on that anvil with a fresh key, funded by anvil_setBalance."""
    return _fund
