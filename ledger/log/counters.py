"""The two log heads and the row locks that serialise their writers."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from ledger.store.models import log_counters as _counters


def lock_counter(conn: Connection, name: str) -> int:
    """Read counter ``name`` and hold its row lock until the transaction ends.

    PostgreSQL: ``SELECT ... FOR UPDATE`` on the counter's row, so writers of
    the same counter queue up whatever the isolation level. SQLite: every
    transaction began with ``BEGIN IMMEDIATE`` (see :mod:`ledger.store.db`),
    which already holds the database's single write lock.
    """
    stmt = select(_counters.c.value).where(_counters.c.name == name).with_for_update()
    return int(conn.execute(stmt).scalar_one())


def read_counter(conn: Connection, name: str) -> int:
    """Read counter ``name`` without locking it."""
    stmt = select(_counters.c.value).where(_counters.c.name == name)
    return int(conn.execute(stmt).scalar_one())


def set_counter(conn: Connection, name: str, value: int) -> None:
    """Move counter ``name`` forward to ``value`` (a trigger refuses going back)."""
    conn.execute(update(_counters).where(_counters.c.name == name).values(value=value))
