"""Personal data at rest: sealing a record's personal part, reading it back, erasing it.

The storage side of :mod:`ledger.sealing`. A record's personal part is encrypted under
its own data key (``sealed_data``); the wrapped data key and the commitment salt are in
``data_keys`` and the blind indexes in ``blind_indexes`` — the only rows the database
lets anyone delete. :func:`erase` deletes them: the ciphertext stays, unreadable, and
the record's leaf still verifies while revealing nothing (its commitment is salted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from ledger import sealing
from ledger.store.domain import blind_indexes, data_keys, sealed_data


@dataclass(frozen=True)
class Sealed:
    """A personal part sealed, as the rows that store it and the entry's commitment."""

    commitment: str
    sealed_row: dict[str, Any]  # for sealed_data
    key_row: dict[str, Any]  # for data_keys (erasable)


def seal_rows(master: sealing.MasterKey, record_id: str, personal: Mapping[str, Any]) -> Sealed:
    """Seal ``personal`` under a fresh data key and salt, touching no database: callers that
    store many records at once insert the rows in bulk; :func:`seal` inserts them now."""
    key, box = sealing.seal(master, record_id, personal)
    salt = sealing.new_salt()
    return Sealed(
        sealing.commitment(personal, salt),
        {"record_id": record_id, "nonce": box.nonce, "ciphertext": box.ciphertext},
        {"record_id": record_id, "wrapped_key": key.wrapped, "salt": salt},
    )


def seal(
    conn: Connection,
    master: sealing.MasterKey,
    record_id: str,
    personal: Mapping[str, Any],
    *,
    index: Mapping[str, str] | None = None,
) -> str:
    """Store ``personal`` sealed under ``record_id``; returns the entry's ``sealed`` commitment.

    ``index`` maps a kind ("id_number") to a value to find the record by, as a blind index.
    """
    sealed = seal_rows(master, record_id, personal)
    conn.execute(insert(sealed_data).values(**sealed.sealed_row))
    conn.execute(insert(data_keys).values(**sealed.key_row))
    if index:
        conn.execute(
            insert(blind_indexes),
            [
                {
                    "record_id": record_id,
                    "kind": kind,
                    "digest": sealing.blind_index(master, kind, v),
                }
                for kind, v in index.items()
            ],
        )
    return sealed.commitment


def unseal(conn: Connection, master: sealing.MasterKey, record_id: str) -> dict[str, Any] | None:
    """The record's personal part, or None when it was erased (or never sealed)."""
    row = conn.execute(
        select(sealed_data.c.nonce, sealed_data.c.ciphertext, data_keys.c.wrapped_key)
        .join(data_keys, data_keys.c.record_id == sealed_data.c.record_id)
        .where(sealed_data.c.record_id == record_id)
    ).first()
    if row is None:
        return None
    return sealing.open_sealed(
        master,
        record_id,
        sealing.DataKey(bytes(row.wrapped_key)),
        sealing.SealedData(bytes(row.nonce), bytes(row.ciphertext)),
    )


def find(conn: Connection, master: sealing.MasterKey, kind: str, value: str) -> list[str]:
    """Record ids whose blind index of ``kind`` matches ``value`` (erased ones never do)."""
    digest = sealing.blind_index(master, kind, value)
    return list(
        conn.execute(
            select(blind_indexes.c.record_id).where(
                blind_indexes.c.kind == kind, blind_indexes.c.digest == digest
            )
        ).scalars()
    )


def erase(conn: Connection, record_id: str) -> bool:
    """Destroy the record's data key, salt and blind indexes; False if already gone."""
    gone = conn.execute(delete(data_keys).where(data_keys.c.record_id == record_id)).rowcount
    conn.execute(delete(blind_indexes).where(blind_indexes.c.record_id == record_id))
    return bool(gone)
