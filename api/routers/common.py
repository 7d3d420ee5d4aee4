"""Pieces every router uses: the strict request model base, pagination, error responses."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict

from api.schemas import ErrorBody


class Strict(BaseModel):
    """A request body: unknown fields and wrong types are refused (422), never coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """A page of a list; pass ``next`` as ``after`` for the following page (null: the end)."""

    items: list[Item]
    next: str | None


Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
After = Annotated[str | None, Query(max_length=128, description="The `next` of the previous page.")]

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Invalid input (a domain rule); nothing was written"),
        (401, "Missing, malformed, unknown or revoked API key"),
        (403, "The caller's role or jurisdiction does not allow this"),
        (404, "Not found"),
        (409, "Conflicts with the stored state; nothing was written"),
        (413, "Request body too large"),
        (422, "Malformed request (JSON, types, unknown fields)"),
        (503, "A part the request needs (the chain) is unavailable"),
    )
}
"""The error responses every authenticated endpoint documents (one shape for all)."""


def page(items: list[Item], limit: int, key: Any) -> Page[Item]:
    """A page of ``items`` (fetched with ``limit + 1``) whose cursor is ``key(last item)``."""
    more = len(items) > limit
    items = items[:limit]
    return Page[Item](items=items, next=str(key(items[-1])) if more and items else None)
