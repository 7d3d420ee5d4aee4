"""The chain outbox: messages for the contracts, written in the transaction of the fact
they carry, relayed later in the order they were written (:mod:`ledger.chain.relayer`).

A message is done for a chain once ``chain_relays`` (landed) or
``chain_relay_failures`` (refused by the contract) has its (kind, item id) there.
Writing it with the fact means a crash between the two cannot lose it; relaying
later means a slow or absent chain never fails a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, insert, select

from ledger.store.domain import chain_outbox, chain_relay_failures
from ledger.store.models import chain_relays

KINDS = ("unit", "round", "dataset", "registration", "decision", "grant", "revocation")


@dataclass(frozen=True)
class Message:
    seq: int
    kind: str
    item_id: str
    payload: Mapping[str, Any]
    signature: bytes | None


def enqueue(
    conn: Connection,
    kind: str,
    item_id: str,
    payload: Mapping[str, Any],
    *,
    now: datetime,
    signature: bytes | None = None,
) -> None:
    assert kind in KINDS, kind
    conn.execute(
        insert(chain_outbox).values(
            kind=kind, item_id=item_id, payload=dict(payload), signature=signature, created_at=now
        )
    )


def pending(conn: Connection, chain_id: int, *, limit: int = 1000) -> list[Message]:
    """The oldest messages not yet landed on (or refused by) chain ``chain_id``, in order."""

    def done(table: Any) -> Any:
        return exists().where(
            and_(
                table.c.chain_id == chain_id,
                table.c.kind == chain_outbox.c.kind,
                table.c.item_id == chain_outbox.c.item_id,
            )
        )

    rows = conn.execute(
        select(chain_outbox)
        .where(~done(chain_relays), ~done(chain_relay_failures))
        .order_by(chain_outbox.c.seq)
        .limit(limit)
    )
    return [
        Message(
            r.seq,
            r.kind,
            r.item_id,
            r.payload,
            bytes(r.signature) if r.signature is not None else None,
        )
        for r in rows
    ]
