"""The Merkle log, read-only: checkpoints, leaves and proofs, for auditors and monitors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import LedgerDep
from api.errors import NotFoundError
from api.schemas import (
    CheckpointPublic,
    ConsistencyProofPublic,
    ErrorBody,
    InclusionProofPublic,
    LeafPublic,
)
from ledger.entries import Entry

router = APIRouter(prefix="/v1/log", tags=["log"], responses={400: {"model": ErrorBody}})

NonNegative = Annotated[int, Query(ge=0, le=2**63 - 1)]


@router.get("/checkpoint", responses={404: {"model": ErrorBody}})
def get_checkpoint(ledger: LedgerDep) -> CheckpointPublic:
    """The newest signed checkpoint (C2SP tlog-checkpoint in a signed note)."""
    signed = ledger.log.latest_checkpoint()
    if signed is None:
        raise NotFoundError("no checkpoint has been signed yet")
    return CheckpointPublic(
        origin=signed.checkpoint.origin,
        tree_size=signed.checkpoint.size,
        root_hash=signed.checkpoint.root_hash.hex(),
        note=signed.note,
        signed_at=signed.signed_at.isoformat(),
    )


@router.get("/leaves/{leaf_index}", responses={404: {"model": ErrorBody}})
def get_leaf(ledger: LedgerDep, leaf_index: Annotated[int, Path(ge=0, le=2**63 - 1)]) -> LeafPublic:
    """One logged entry and its leaf hash."""
    found = ledger.log.leaf(leaf_index)
    if found is None:
        raise NotFoundError(f"no leaf at index {leaf_index}")
    leaf_data, leaf_hash = found
    return LeafPublic(
        leaf_index=leaf_index,
        leaf_hash=leaf_hash.hex(),
        entry=Entry.from_leaf_data(leaf_data).to_json(),
    )


@router.get("/proofs/inclusion")
def get_inclusion_proof(
    ledger: LedgerDep, leaf_index: NonNegative, tree_size: NonNegative
) -> InclusionProofPublic:
    """RFC 9162 §2.1.3 inclusion proof of leaf ``leaf_index`` in the tree of ``tree_size``."""
    proof = ledger.log.inclusion_proof(leaf_index, tree_size)
    found = ledger.log.leaf(leaf_index)
    assert found is not None  # the proof exists, so the leaf does
    return InclusionProofPublic(
        leaf_index=leaf_index,
        tree_size=tree_size,
        leaf_hash=found[1].hex(),
        root_hash=ledger.log.root(tree_size).hex(),
        inclusion_proof=[h.hex() for h in proof],
    )


@router.get("/proofs/consistency")
def get_consistency_proof(
    ledger: LedgerDep, first: NonNegative, second: NonNegative
) -> ConsistencyProofPublic:
    """RFC 9162 §2.1.4 consistency proof between tree sizes ``first`` and ``second``."""
    proof = ledger.log.consistency_proof(first, second)
    return ConsistencyProofPublic(
        first=first,
        second=second,
        first_root_hash=ledger.log.root(first).hex(),
        second_root_hash=ledger.log.root(second).hex(),
        consistency_proof=[h.hex() for h in proof],
    )
