"""What the audit reads from the chain, as plain Python values (no web3 type leaves here).

Views only: no account, no gas, nothing sent. :class:`ChainReads` wraps a web3
connection (JSON-RPC, or eth-tester in tests); :func:`open_reads` finds the node the
way the service does (``--rpc``, else ``LEDGER_CHAIN_URL``, else the embedded anvil,
started from its state file for the duration when it is not running), and never
deploys or funds anything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from ledger.chain.client import ChainError, load_artifact
from ledger.chain.deploy import GRANT_REGISTRY, LOG_ANCHOR, VETTING_REGISTRY
from ledger.chain.node import Anvil
from ledger.config import Settings
from ledger.errors import UnavailableError

P = ParamSpec("P")
R = TypeVar("R")


class ChainReadError(ChainError, UnavailableError):
    """The node could not answer a read: no node, a dead connection, no contract there."""

    code = "chain_unreachable"


def _reading(
    method: Callable[Concatenate[ChainReads, P], R],
) -> Callable[Concatenate[ChainReads, P], R]:
    """Any failure of a read becomes a :class:`ChainReadError` naming the node."""

    def read(self: ChainReads, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except ChainReadError:
            raise
        except Exception as exc:  # transport errors, a missing contract, a bad answer
            text = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise ChainReadError(
                f"{method.__name__} on {self.source} failed: {text}", rpc=self.source
            ) from exc

    read.__name__, read.__doc__ = method.__name__, method.__doc__
    return read


@dataclass(frozen=True)
class AnchoredEvent:
    """One ``Anchored(treeSize, rootHash, previousSize)`` event of a LogAnchor."""

    tree_size: int
    root_hash: bytes
    previous_size: int
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class CandidateOnChain:
    """``IVettingRegistry.Candidate``; ``stage`` 0 means the registry does not know it."""

    round_id: bytes
    village_id: bytes
    stage: int
    outcome: int
    opinions_given: int
    record_found: int
    needs_info: int
    not_applicable: int
    resolved: int


@dataclass(frozen=True)
class GrantOnChain:
    """``IGrantRegistry.GrantRecord``: the grant's terms, owner, issue and revocation time."""

    dataset_id: bytes
    grantee_unit_id: bytes
    scope_hash: bytes
    valid_from: int
    valid_until: int
    request_id: bytes
    leaf_hash: bytes
    owner_unit_id: bytes
    issued_at: int
    revoked_at: int


class ChainReads:
    """Read-only views of our contracts on one node."""

    def __init__(self, w3: Web3, *, source: str = "the chain node") -> None:
        self.w3 = w3
        self.source = source
        self._contracts: dict[tuple[str, str], Contract] = {}

    @classmethod
    def connect(cls, url: str, *, timeout: float = 30.0) -> ChainReads:
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
        reads = cls(w3, source=url)
        reads.chain_id()  # asks the node once, so a dead URL fails here
        return reads

    def _contract(self, name: str, address: str) -> Contract:
        key = (name, address)
        if key not in self._contracts:
            self._contracts[key] = self.w3.eth.contract(
                address=Web3.to_checksum_address(address), abi=load_artifact(name)["abi"]
            )
        return self._contracts[key]

    @_reading
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    @_reading
    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    @_reading
    def code_hash(self, address: str) -> bytes:
        """keccak256 of the code at ``address`` (of the empty string when there is none)."""
        return bytes(Web3.keccak(self.w3.eth.get_code(Web3.to_checksum_address(address))))

    # ---- LogAnchor --------------------------------------------------------------------

    @_reading
    def head(self, log_anchor: str) -> tuple[int, bytes]:
        size, root = self._contract(LOG_ANCHOR, log_anchor).functions.head().call()
        return int(size), bytes(root)

    @_reading
    def root_at(self, log_anchor: str, tree_size: int) -> bytes:
        """The anchored root of ``tree_size``; 32 zero bytes where it was never anchored."""
        return bytes(self._contract(LOG_ANCHOR, log_anchor).functions.rootAt(tree_size).call())

    @_reading
    def anchored_events(self, log_anchor: str, *, from_block: int = 0) -> list[AnchoredEvent]:
        contract = self._contract(LOG_ANCHOR, log_anchor)
        events = contract.events.Anchored.get_logs(from_block=from_block, to_block="latest")
        return [
            AnchoredEvent(
                tree_size=int(e["args"]["treeSize"]),
                root_hash=bytes(e["args"]["rootHash"]),
                previous_size=int(e["args"]["previousSize"]),
                tx_hash=e["transactionHash"].to_0x_hex(),
                block_number=int(e["blockNumber"]),
            )
            for e in events
        ]

    # ---- the registries ---------------------------------------------------------------

    @_reading
    def candidate(self, vetting: str, candidate_id: bytes) -> CandidateOnChain:
        c = self._contract(VETTING_REGISTRY, vetting).functions.candidate(candidate_id).call()
        return CandidateOnChain(bytes(c[0]), bytes(c[1]), *(int(x) for x in c[2:9]))

    @_reading
    def grant(self, grants: str, grant_id: bytes) -> GrantOnChain | None:
        """The grant, or None when the registry does not know it."""
        try:
            r: Any = self._contract(GRANT_REGISTRY, grants).functions.grantOf(grant_id).call()
        except ContractLogicError:
            return None  # GrantRegistryUnknownGrant
        terms = r[0]
        return GrantOnChain(
            dataset_id=bytes(terms[0]),
            grantee_unit_id=bytes(terms[1]),
            scope_hash=bytes(terms[2]),
            valid_from=int(terms[3]),
            valid_until=int(terms[4]),
            request_id=bytes(terms[5]),
            leaf_hash=bytes(terms[6]),
            owner_unit_id=bytes(r[1]),
            issued_at=int(r[2]),
            revoked_at=int(r[3]),
        )


def _answers(url: str) -> bool:
    with contextlib.suppress(Exception):
        return bool(Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2})).is_connected())
    return False


@contextlib.contextmanager
def open_reads(settings: Settings, rpc: str | None = None) -> Iterator[ChainReads]:
    """The chain the ledger anchors on, for reading: ``rpc``, ``LEDGER_CHAIN_URL``, or the
    embedded anvil (started from its state file, and stopped after, if not running)."""
    url = rpc or settings.chain_url
    if url is not None:
        yield ChainReads.connect(url)
        return
    url = f"http://127.0.0.1:{settings.anvil_port}"
    if _answers(url):
        yield ChainReads.connect(url)
        return
    if not settings.anvil_state_file.exists():
        raise ChainReadError(
            f"no chain node answers at {url}, and the embedded chain has no state at "
            f"{settings.anvil_state_file}",
            rpc=url,
        )
    node = Anvil(
        state_file=settings.anvil_state_file,
        port=settings.anvil_port,
        log_file=settings.data_dir / "anvil" / "anvil.log",
    ).start()
    try:
        yield ChainReads.connect(node.url)
    finally:
        node.stop()
