"""The Merkle log: counters, leaves, tiles, checkpoints, and the append-only triggers.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("log_leaves", "log_tiles", "log_checkpoints")
BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "log_counters",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("value >= 0", name=op.f("ck_log_counters_value_nonnegative")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_log_counters")),
    )
    op.bulk_insert(
        sa.table("log_counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger)),
        [{"name": "sequenced_size", "value": 0}, {"name": "integrated_size", "value": 0}],
    )
    op.create_table(
        "log_leaves",
        sa.Column("leaf_index", BigInt, autoincrement=False, nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("leaf_data", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("sequenced_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("leaf_index >= 0", name=op.f("ck_log_leaves_leaf_index_nonnegative")),
        sa.CheckConstraint("length(leaf_hash) = 32", name=op.f("ck_log_leaves_leaf_hash_length")),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_log_leaves")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_log_leaves_entry_id")),
    )
    op.create_table(
        "log_tiles",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tile_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("width", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("level >= 0", name=op.f("ck_log_tiles_level_nonnegative")),
        sa.CheckConstraint("tile_index >= 0", name=op.f("ck_log_tiles_tile_index_nonnegative")),
        sa.CheckConstraint("width BETWEEN 1 AND 256", name=op.f("ck_log_tiles_width_range")),
        sa.CheckConstraint("length(hashes) = 32 * width", name=op.f("ck_log_tiles_hashes_length")),
        sa.PrimaryKeyConstraint("level", "tile_index", "width", name=op.f("pk_log_tiles")),
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("tree_size", BigInt, autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("tree_size >= 0", name=op.f("ck_log_checkpoints_tree_size_nonnegative")),
        sa.CheckConstraint(
            "length(root_hash) = 32", name=op.f("ck_log_checkpoints_root_hash_length")
        ),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_log_checkpoints")),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _postgresql_triggers() -> None:
    op.execute(
        """
        CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'civic-ledger: % on append-only table % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
        )
    op.execute(
        """
        CREATE FUNCTION ledger_counter_grows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR NEW.value < OLD.value OR NEW.name <> OLD.name THEN
                RAISE EXCEPTION 'civic-ledger: log counter % may only grow', OLD.name
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER log_counters_only_grow BEFORE UPDATE OR DELETE ON log_counters "
        "FOR EACH ROW EXECUTE FUNCTION ledger_counter_grows()"
    )
    op.execute(
        "CREATE TRIGGER log_counters_no_truncate BEFORE TRUNCATE ON log_counters "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
    )


def _sqlite_triggers() -> None:
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            message = f"civic-ledger: {verb} on append-only table {table} refused"
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, '{message}'); END"
            )
    op.execute(
        "CREATE TRIGGER log_counters_only_grow BEFORE UPDATE ON log_counters "
        "WHEN NEW.value < OLD.value OR NEW.name <> OLD.name BEGIN "
        "SELECT RAISE(ABORT, 'civic-ledger: log counter may only grow'); END"
    )
    op.execute(
        "CREATE TRIGGER log_counters_no_delete BEFORE DELETE ON log_counters BEGIN "
        "SELECT RAISE(ABORT, 'civic-ledger: log counter may only grow'); END"
    )


def downgrade() -> None:
    raise NotImplementedError("the log is append-only; there is no way back from it")
