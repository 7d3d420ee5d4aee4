"""Chain fixtures: a real anvil node over JSON-RPC (eth-tester's are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3
from web3.types import RPCEndpoint

from ledger.chain.client import Chain
from ledger.chain.node import Anvil


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
