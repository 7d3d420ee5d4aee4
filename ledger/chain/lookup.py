"""Step 4 of receipt verification, from the chain side: what LogAnchor holds.

:func:`anchored_root_from_rpc` gives :func:`ledger.receipts.verify_receipt` its
``anchored_root(chain_id, contract, tree_size)`` lookup over any EVM JSON-RPC
node: it calls ``rootAt(uint64)`` (a view, no account, no gas) with the ABI of
the committed artifact. Everything that goes wrong on the chain side (no node,
a node of another chain, no contract at the address) raises
:class:`ledger.receipts.AnchorLookupError`, which fails step 4 of that receipt
rather than the whole run.
"""

from __future__ import annotations

import threading
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from ledger.chain.client import load_artifact
from ledger.receipts import AnchoredRoot, AnchorLookupError

LOG_ANCHOR = "LogAnchor"
ZERO_ROOT = bytes(32)


def anchored_root_from_rpc(rpc_url: str, *, timeout: float = 30.0) -> AnchoredRoot:
    """The lookup of LogAnchor roots through the JSON-RPC node at ``rpc_url`` (HTTP).

    Connects on first use. Checks that the node serves the receipt's chain
    (``eth_chainId``); roots found are cached per (chain id, contract, tree size),
    since LogAnchor never changes a root once it holds one (a zero root, "not
    anchored", is asked again).
    """
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    return anchored_root_from_web3(w3, source=rpc_url)


def anchored_root_from_web3(w3: Web3, *, source: str = "the chain node") -> AnchoredRoot:
    """:func:`anchored_root_from_rpc` over an existing connection (e.g. eth-tester)."""
    abi = load_artifact(LOG_ANCHOR)["abi"]
    lock = threading.Lock()
    node_chain: list[int] = []  # the node's chain id, asked once
    contracts: dict[ChecksumAddress, Contract] = {}
    answers: dict[tuple[int, ChecksumAddress, int], bytes] = {}

    def chain_id() -> int:
        if not node_chain:
            try:
                node_chain.append(int(w3.eth.chain_id))
            except Exception as exc:  # any transport failure: the node cannot be asked
                raise AnchorLookupError(
                    f"no chain node answers at {source}: {_short(exc)}", rpc=source
                ) from exc
        return node_chain[0]

    def anchored_root(receipt_chain_id: int, contract: str, tree_size: int) -> bytes | None:
        address = _address(contract)
        key = (receipt_chain_id, address, tree_size)
        with lock:
            if key in answers:
                return answers[key]
            serving = chain_id()
            if serving != receipt_chain_id:
                raise AnchorLookupError(
                    f"the node at {source} serves chain {serving}, "
                    f"the anchor is on chain {receipt_chain_id}",
                    node_chain_id=serving,
                    receipt_chain_id=receipt_chain_id,
                )
            root = _root_at(w3, contracts, abi, address, tree_size, source)
            if root == ZERO_ROOT:
                return None  # not anchored (yet): asked again next time
            answers[key] = root
            return root

    return anchored_root


def _address(contract: str) -> ChecksumAddress:
    """The checksummed address; a mixed-case one must carry a valid EIP-55 checksum."""
    if not Web3.is_address(contract.lower()):
        raise AnchorLookupError(f"{contract!r} is not a contract address")
    if contract not in (contract.lower(), contract.upper()) and not Web3.is_checksum_address(
        contract
    ):
        raise AnchorLookupError(f"contract address {contract} fails its EIP-55 checksum")
    return Web3.to_checksum_address(contract.lower())


def _root_at(
    w3: Web3,
    contracts: dict[ChecksumAddress, Contract],
    abi: list[dict[str, Any]],
    address: ChecksumAddress,
    tree_size: int,
    source: str,
) -> bytes:
    log_anchor = contracts.get(address)
    try:
        if log_anchor is None:
            if not w3.eth.get_code(address):
                raise AnchorLookupError(f"no contract at {address} on this chain")
            log_anchor = contracts[address] = w3.eth.contract(address=address, abi=abi)
        root = bytes(log_anchor.functions.rootAt(tree_size).call())
    except AnchorLookupError:
        raise
    except Exception as exc:  # transport errors, a contract without rootAt, a revert
        raise AnchorLookupError(
            f"rootAt({tree_size}) at {address} failed on {source}: {_short(exc)}",
            contract=address,
            tree_size=tree_size,
        ) from exc
    if len(root) != len(ZERO_ROOT):
        raise AnchorLookupError(f"rootAt({tree_size}) at {address} returned {len(root)} bytes")
    return root


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
