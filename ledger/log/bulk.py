"""Fast multi-row inserts: COPY on PostgreSQL, executemany elsewhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import IntegrityError

COPY_THRESHOLD = 256
"""Below this many rows a plain INSERT costs less than setting up COPY."""


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table`` in the caller's transaction."""
    if not rows:
        return
    if (
        conn.dialect.name == "postgresql"
        and conn.dialect.driver == "psycopg"
        and (len(rows) >= COPY_THRESHOLD)
    ):
        columns = list(rows[0].keys())
        raw = conn.connection.driver_connection
        assert raw is not None
        quoted = ", ".join(f'"{c}"' for c in columns)
        statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
        try:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        except psycopg.errors.IntegrityError as exc:
            # Surface it as SQLAlchemy does for every other statement.
            raise IntegrityError(statement, None, exc) from exc
        return
    conn.execute(insert(table), list(rows))
