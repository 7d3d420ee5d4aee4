"""Response bodies (pydantic). Hashes are lower-case hex."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class CheckpointPublic(BaseModel):
    origin: str
    tree_size: int
    root_hash: str
    note: str
    signed_at: str


class LeafPublic(BaseModel):
    leaf_index: int
    leaf_hash: str
    entry: dict[str, Any]


class InclusionProofPublic(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    inclusion_proof: list[str]


class ConsistencyProofPublic(BaseModel):
    first: int
    second: int
    first_root_hash: str
    second_root_hash: str
    consistency_proof: list[str]
