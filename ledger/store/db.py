"""Engines for the two databases civic-ledger runs on: SQLite and PostgreSQL.

SQLite needs care to behave like a server database under concurrent writers:
Python's sqlite3 module normally opens transactions lazily (a read can later
fail to upgrade to a write lock), so every transaction here starts with
``BEGIN IMMEDIATE`` and takes the database's write lock at once. That is simple
and safe, and it serialises every transaction, reads included: on SQLite the
sequencer does wait while the integrator or the signer works (PostgreSQL, with
its row locks, is the database for concurrent load). ``synchronous=FULL`` keeps
a committed transaction durable across a power cut.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (``sqlite+pysqlite:///path`` or ``postgresql+psycopg://...``)."""
    if is_sqlite(url):
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 60)
        engine = sqlalchemy.create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sqlalchemy.create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sqlalchemy.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
