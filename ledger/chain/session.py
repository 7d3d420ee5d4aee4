"""Opening the chain a ledger anchors on: ``LEDGER_CHAIN_URL``, or the embedded anvil,
with all four contracts deployed on first use, an anchorer and a relayer.

The embedded anvil listens on 127.0.0.1:``LEDGER_ANVIL_PORT`` with its state in
the data dir. If one already answers there (the service's), it is used; else a
new one is started and stopped when the session closes. The operator's key is
a Web3 Secret Storage file (created on first use); on the embedded chain it is
funded with ``anvil_setBalance``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine
from web3 import Web3
from web3.contract import Contract
from web3.types import RPCEndpoint

from ledger.chain.anchorer import Anchorer
from ledger.chain.client import Chain, load_or_create_keystore
from ledger.chain.deploy import LOG_ANCHOR, Contracts, Deployment, ensure_contracts
from ledger.chain.node import Anvil
from ledger.chain.relayer import Relayer
from ledger.checkpoint import Verifier
from ledger.config import Settings

EMBEDDED_BALANCE = 10**21  # wei; a local dev chain's pretend ether


@dataclass
class ChainSession:
    chain: Chain
    contracts: Contracts
    anchorer: Anchorer
    relayer: Relayer
    url: str

    @property
    def log_anchor(self) -> Contract:
        return self.contracts.log_anchor

    @property
    def deployment(self) -> Deployment:
        return self.contracts.deployments[LOG_ANCHOR]


def _answers(url: str) -> bool:
    with contextlib.suppress(Exception):
        return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2})).is_connected()
    return False


@contextlib.contextmanager
def open_chain(settings: Settings, engine: Engine, verifier: Verifier) -> Iterator[ChainSession]:
    """The chain with our LogAnchor deployed on it (at first use) and an anchorer for it."""
    # A new key is made only for the embedded chain: on a real one it must be funded first.
    account = load_or_create_keystore(
        settings.chain_key_file,
        settings.chain_key_password_file,
        create=settings.chain_url is None,
    )
    node: Anvil | None = None
    url = settings.chain_url
    if url is None:
        url = f"http://127.0.0.1:{settings.anvil_port}"
        if not _answers(url):
            node = Anvil(
                state_file=settings.anvil_state_file,
                port=settings.anvil_port,
                log_file=settings.data_dir / "anvil" / "anvil.log",
            ).start()
    try:
        chain = Chain.connect(url, account)
        if settings.chain_url is None:
            chain.w3.provider.make_request(
                RPCEndpoint("anvil_setBalance"), [account.address, hex(EMBEDDED_BALANCE)]
            )
        yield session_on(
            chain,
            engine,
            settings,
            verifier,
            url=url,
            # The embedded anvil mines only our own transactions, one block each, and has
            # no other node to re-org it: an anchor there is final once mined.
            confirmations=settings.confirmations if settings.chain_url else 0,
        )
    finally:
        if node is not None:
            node.stop()


def session_on(
    chain: Chain,
    engine: Engine,
    settings: Settings,
    verifier: Verifier,
    *,
    url: str,
    confirmations: int,
) -> ChainSession:
    """A session on a connected ``chain``: our contracts (deployed at first use), an
    anchorer and a relayer. :func:`open_chain` uses it; tests pass an eth-tester chain."""
    contracts = ensure_contracts(engine, chain)
    anchorer = Anchorer(
        chain,
        contracts.log_anchor,
        engine,
        origin=settings.log_origin,
        verifier=verifier,
        deployed_at_block=contracts.deployments[LOG_ANCHOR].block_number,
        confirmations=confirmations,
    )
    relayer = Relayer(
        chain, engine, vetting=contracts.vetting, grants=contracts.grants, units=contracts.units
    )
    return ChainSession(chain, contracts, anchorer, relayer, url)
