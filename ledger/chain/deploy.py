"""Deploying our contracts and remembering where they are (``chain_deployments``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from web3 import Web3
from web3.contract import Contract

from ledger.chain.client import Chain, ChainError
from ledger.store.models import chain_deployments

LOG_ANCHOR = "LogAnchor"
UNIT_REGISTRY = "UnitRegistry"
VETTING_REGISTRY = "VettingRegistry"
GRANT_REGISTRY = "GrantRegistry"


@dataclass(frozen=True)
class Contracts:
    """Our four contracts on one chain; the operator's account administers them all."""

    log_anchor: Contract
    units: Contract
    vetting: Contract
    grants: Contract
    deployments: dict[str, Deployment]


@dataclass(frozen=True)
class Deployment:
    contract: str
    address: str
    block_number: int
    code_hash: bytes


def deployed(engine: Engine, chain: Chain, name: str) -> Deployment | None:
    """Our recorded deployment of ``name`` on this chain, if its code is still there."""
    with engine.connect() as conn:
        row = conn.execute(
            select(chain_deployments).where(
                chain_deployments.c.chain_id == chain.chain_id,
                chain_deployments.c.contract == name,
            )
        ).first()
    if row is None:
        return None
    code = chain.w3.eth.get_code(Web3.to_checksum_address(row.address))
    if Web3.keccak(code) != bytes(row.code_hash):
        raise ChainError(
            f"{name} at {row.address} on chain {chain.chain_id} is not the contract we deployed "
            "(its code differs or is gone)",
            contract=name,
            address=row.address,
        )
    return Deployment(name, row.address, int(row.block_number), bytes(row.code_hash))


def ensure_log_anchor(engine: Engine, chain: Chain) -> tuple[Contract, Deployment]:
    """The LogAnchor of this chain, deployed (with our account as admin and anchorer) if new."""

    def after(contract: Contract) -> None:
        anchorer_role = contract.functions.ANCHORER_ROLE().call()
        if not contract.functions.hasRole(anchorer_role, chain.address).call():
            chain.transact(contract.functions.grantRole(anchorer_role, chain.address))

    return _ensure(engine, chain, LOG_ANCHOR, (chain.address,), after)


def ensure_contracts(engine: Engine, chain: Chain) -> Contracts:
    """All four contracts, each deployed on first use and found again afterwards."""
    log_anchor, anchor_at = ensure_log_anchor(engine, chain)
    units, units_at = _ensure(engine, chain, UNIT_REGISTRY, (chain.address,))
    vetting, vetting_at = _ensure(engine, chain, VETTING_REGISTRY, (units.address, chain.address))
    grants, grants_at = _ensure(engine, chain, GRANT_REGISTRY, (units.address, chain.address))
    return Contracts(
        log_anchor,
        units,
        vetting,
        grants,
        {d.contract: d for d in (anchor_at, units_at, vetting_at, grants_at)},
    )


def _ensure(
    engine: Engine,
    chain: Chain,
    name: str,
    args: tuple[object, ...],
    after: Callable[[Contract], None] | None = None,
) -> tuple[Contract, Deployment]:
    found = deployed(engine, chain, name)
    if found is not None:
        return chain.contract(name, found.address), found
    contract, receipt = chain.deploy(name, *args)
    if after is not None:
        after(contract)
    deployment = Deployment(
        name,
        str(contract.address),
        int(receipt["blockNumber"]),
        bytes(Web3.keccak(chain.w3.eth.get_code(contract.address))),
    )
    with engine.begin() as conn:
        conn.execute(
            chain_deployments.insert().values(
                chain_id=chain.chain_id,
                contract=deployment.contract,
                address=deployment.address,
                block_number=deployment.block_number,
                code_hash=deployment.code_hash,
                deployed_at=datetime.now(UTC),
            )
        )
    return contract, deployment
