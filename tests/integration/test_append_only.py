"""The database itself refuses to rewrite the log, on SQLite and PostgreSQL.

Raw SQL through the engine, as a buggy caller or a careless operator would send it:
UPDATE and DELETE on the append-only tables are refused by the migration's triggers
(and TRUNCATE on PostgreSQL); the counters may grow but never shrink or vanish.
Each refusal leaves the rows exactly as they were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ledger.checkpoint import generate_signer
from ledger.log import LeafInput, MerkleLog
from ledger.store import create_engine

# For each append-only table: its key column (to pick one row) and a harmless
# change to try on that row.
APPEND_ONLY: dict[str, tuple[str, str]] = {
    "log_leaves": ("leaf_index", "leaf_data = leaf_data"),
    "log_tiles": ("tile_index", "hashes = hashes"),
    "log_checkpoints": ("tree_size", "note = note"),
}


# PostgreSQL names the counter in the message, SQLite cannot.
COUNTER_REFUSED = r"civic-ledger: log counter (\w+ )?may only grow"


def fill(engine: sa.Engine) -> sa.Engine:
    """Give ``engine``'s empty log 300 leaves, a full level-0 tile, a level-1 tile and
    one checkpoint."""
    log = MerkleLog(engine, origin="civic-ledger.test/append-only")
    log.append([LeafInput(f"e{i}", f"data {i}".encode()) for i in range(300)])
    log.integrate()
    log.sign(generate_signer("test-log", bytes(32)))
    for table in APPEND_ONLY:
        assert table_rows(engine, table), f"{table} is empty; the test would prove nothing"
    return engine


@pytest.fixture
def filled(engine: sa.Engine) -> sa.Engine:
    return fill(engine)


@pytest.fixture
def pg_filled(postgres_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(postgres_url)
    try:
        yield fill(engine)
    finally:
        engine.dispose()


def table_rows(engine: sa.Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows: Sequence[sa.Row[Any]] = conn.execute(sa.text(f"SELECT * FROM {table}")).all()
    return sorted(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows)


def counters(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, value FROM log_counters")).all()
    return {r.name: r.value for r in rows}


def run(engine: sa.Engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql))


@pytest.mark.parametrize("table", sorted(APPEND_ONLY))
@pytest.mark.parametrize("where", ["one-row", "all-rows"])
def test_update_is_refused(filled: sa.Engine, table: str, where: str) -> None:
    key, change = APPEND_ONLY[table]
    before = table_rows(filled, table)
    condition = f" WHERE {key} = (SELECT max({key}) FROM {table})" if where == "one-row" else ""
    with pytest.raises(IntegrityError, match=f"civic-ledger: UPDATE on append-only table {table}"):
        run(filled, f"UPDATE {table} SET {change}{condition}")
    assert table_rows(filled, table) == before


# A forgery that would pass every CHECK constraint: only the trigger stands in its way.
FORGERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "log_leaves": (
        "UPDATE log_leaves SET leaf_data = :data, leaf_hash = :hash WHERE leaf_index = 0",
        {"data": b"forged", "hash": hashlib.sha256(b"\x00forged").digest()},
    ),
    "log_tiles": (
        "UPDATE log_tiles SET hashes = :hashes WHERE level = 0 AND tile_index = 0",
        {"hashes": bytes(32 * 256)},
    ),
    "log_checkpoints": (
        "UPDATE log_checkpoints SET root_hash = :root, note = :note WHERE tree_size = 300",
        {"root": bytes(32), "note": "forged\n"},
    ),
}


@pytest.mark.parametrize("table", sorted(APPEND_ONLY))
def test_update_that_forges_a_row_is_refused(filled: sa.Engine, table: str) -> None:
    before = table_rows(filled, table)
    sql, params = FORGERIES[table]
    refused = f"civic-ledger: UPDATE on append-only table {table}"
    with pytest.raises(IntegrityError, match=refused), filled.begin() as conn:
        conn.execute(sa.text(sql), params)
    assert table_rows(filled, table) == before


@pytest.mark.parametrize("table", sorted(APPEND_ONLY))
@pytest.mark.parametrize("where", ["one-row", "all-rows"])
def test_delete_is_refused(filled: sa.Engine, table: str, where: str) -> None:
    key, _ = APPEND_ONLY[table]
    before = table_rows(filled, table)
    condition = f" WHERE {key} = (SELECT max({key}) FROM {table})" if where == "one-row" else ""
    with pytest.raises(IntegrityError, match=f"civic-ledger: DELETE on append-only table {table}"):
        run(filled, f"DELETE FROM {table}{condition}")
    assert table_rows(filled, table) == before


@pytest.mark.parametrize("table", sorted(APPEND_ONLY))
def test_truncate_is_refused_on_postgresql(pg_filled: sa.Engine, table: str) -> None:
    filled = pg_filled
    before = table_rows(filled, table)
    with pytest.raises(
        IntegrityError, match=f"civic-ledger: TRUNCATE on append-only table {table}"
    ):
        run(filled, f"TRUNCATE {table}")
    assert table_rows(filled, table) == before


def test_appending_still_works_after_refusals(filled: sa.Engine) -> None:
    with pytest.raises(IntegrityError):
        run(filled, "DELETE FROM log_leaves")
    log = MerkleLog(filled, origin="civic-ledger.test/append-only")
    assert log.append([LeafInput("after", b"after")]) == range(300, 301)
    assert log.integrate_all() == 301


# --------------------------------------------------------------------------
# Counters: grow, never shrink, never vanish


@pytest.mark.parametrize("name", ["sequenced_size", "integrated_size"])
def test_a_counter_cannot_decrease(filled: sa.Engine, name: str) -> None:
    before = counters(filled)
    assert before[name] == 300
    with pytest.raises(IntegrityError, match=COUNTER_REFUSED):
        run(filled, f"UPDATE log_counters SET value = value - 1 WHERE name = '{name}'")
    with pytest.raises(IntegrityError, match=COUNTER_REFUSED):
        run(filled, f"UPDATE log_counters SET value = 0 WHERE name = '{name}'")
    assert counters(filled) == before


@pytest.mark.parametrize("name", ["sequenced_size", "integrated_size"])
def test_a_counter_cannot_be_renamed(filled: sa.Engine, name: str) -> None:
    before = counters(filled)
    with pytest.raises(IntegrityError, match=COUNTER_REFUSED):
        run(filled, f"UPDATE log_counters SET name = 'x_{name}' WHERE name = '{name}'")
    assert counters(filled) == before


@pytest.mark.parametrize("where", ["one-row", "all-rows"])
def test_a_counter_cannot_be_deleted(filled: sa.Engine, where: str) -> None:
    before = counters(filled)
    condition = " WHERE name = 'sequenced_size'" if where == "one-row" else ""
    with pytest.raises(IntegrityError, match=COUNTER_REFUSED):
        run(filled, f"DELETE FROM log_counters{condition}")
    assert counters(filled) == before


def test_counters_cannot_be_truncated_on_postgresql(pg_filled: sa.Engine) -> None:
    filled = pg_filled
    before = counters(filled)
    # TRUNCATE fires no row-level trigger: only a statement-level one can refuse it.
    with pytest.raises(IntegrityError, match=r"civic-ledger: .*(refused|may only grow)"):
        run(filled, "TRUNCATE log_counters")
    assert counters(filled) == before


@pytest.mark.parametrize("name", ["sequenced_size", "integrated_size"])
def test_a_counter_can_increase(engine: sa.Engine, name: str) -> None:
    assert counters(engine) == {"sequenced_size": 0, "integrated_size": 0}
    run(engine, f"UPDATE log_counters SET value = value + 5 WHERE name = '{name}'")
    run(engine, f"UPDATE log_counters SET value = value WHERE name = '{name}'")
    other = {"sequenced_size": "integrated_size", "integrated_size": "sequenced_size"}[name]
    assert counters(engine) == {name: 5, other: 0}
