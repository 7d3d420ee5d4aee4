"""The domain: units, principals and keys, records and sealed data, vetting, sharing, outbox.

Every table refuses UPDATE; every table but the erasable ones (``data_keys``,
``blind_indexes``: what crypto-shredding destroys) refuses DELETE and TRUNCATE.
See ``ledger/store/domain.py`` for what each column is for.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ERASABLE = ("data_keys", "blind_indexes")
TABLES = (
    "units",
    "unit_keys",
    "principals",
    "api_keys",
    "api_key_revocations",
    "records",
    "sealed_data",
    "data_keys",
    "blind_indexes",
    "erasures",
    "negative_list",
    "election_rounds",
    "candidates",
    "vetting_decisions",
    "datasets",
    "dataset_rows",
    "grant_requests",
    "grant_answers",
    "grant_revocations",
    "access_entries",
    "chain_outbox",
    "chain_relay_failures",
)


def upgrade() -> None:
    _create_tables()
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _create_tables() -> None:
    op.create_table(
        "access_entries",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("grant_id", sa.String(length=66), nullable=False),
        sa.Column("dataset_code", sa.String(length=64), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("query_hash", sa.String(length=64), nullable=False),
        sa.Column("rows_returned", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_access_entries")),
    )
    op.create_index(
        op.f("ix_access_entries_grant_id"), "access_entries", ["grant_id"], unique=False
    )
    op.create_table(
        "blind_indexes",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "kind", name=op.f("pk_blind_indexes")),
    )
    op.create_index(op.f("ix_blind_indexes_digest"), "blind_indexes", ["digest"], unique=False)
    op.create_table(
        "chain_outbox",
        sa.Column("seq", BigInt, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=66), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=65), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_chain_outbox")),
    )
    op.create_index("uq_chain_outbox_kind_item", "chain_outbox", ["kind", "item_id"], unique=True)
    op.create_table(
        "chain_relay_failures",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=66), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "chain_id", "kind", "item_id", name=op.f("pk_chain_relay_failures")
        ),
    )
    op.create_table(
        "data_keys",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_data_keys")),
    )
    op.create_table(
        "erasures",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("tombstone_record_id", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_erasures")),
    )
    op.create_table(
        "grant_revocations",
        sa.Column("grant_id", sa.String(length=66), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=65), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("grant_id", name=op.f("pk_grant_revocations")),
    )
    op.create_table(
        "negative_list",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("lookback_years", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "severity IN ('BAR', 'UNSUITABLE')", name=op.f("ck_negative_list_severity")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_negative_list")),
    )
    op.create_table(
        "records",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=66), nullable=True),
        sa.Column("leaf_index", BigInt, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records")),
        sa.UniqueConstraint("leaf_index", name=op.f("uq_records_leaf_index")),
    )
    op.create_index("ix_records_subject", "records", ["subject"], unique=False)
    op.create_index(
        "ix_records_unit_code_created_at", "records", ["unit_code", "created_at"], unique=False
    )
    op.create_table(
        "sealed_data",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_sealed_data")),
    )
    op.create_table(
        "units",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("signing_address", sa.String(length=42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "level IN ('village', 'township', 'county')", name=op.f("ck_units_level_known")
        ),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["units.code"], name=op.f("fk_units_parent_code_units")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_units")),
        sa.UniqueConstraint("signing_address", name=op.f("uq_units_signing_address")),
    )
    op.create_table(
        "datasets",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("owner_code", sa.String(length=32), nullable=False),
        sa.Column("sharing_class", sa.String(length=16), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_code"], ["units.code"], name=op.f("fk_datasets_owner_code_units")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_datasets")),
    )
    op.create_table(
        "election_rounds",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("election_day", sa.Date(), nullable=False),
        sa.Column("lead_department", sa.String(length=32), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("deferral_days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_department"],
            ["units.code"],
            name=op.f("fk_election_rounds_lead_department_units"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_election_rounds")),
    )
    op.create_table(
        "principals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_principals_unit_code_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principals")),
    )
    op.create_table(
        "unit_keys",
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_unit_keys_unit_code_units")
        ),
        sa.PrimaryKeyConstraint("unit_code", name=op.f("pk_unit_keys")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name=op.f("fk_api_keys_principal_id_principals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "candidates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("round_code", sa.String(length=32), nullable=False),
        sa.Column("village_code", sa.String(length=32), nullable=False),
        sa.Column("committee", sa.String(length=32), nullable=False),
        sa.Column("post", sa.String(length=32), nullable=False),
        sa.Column("incumbent", sa.Boolean(), nullable=False),
        sa.Column("id_number_masked", sa.String(length=18), nullable=False),
        sa.Column("chain_id_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("resubmits", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_code"],
            ["election_rounds.code"],
            name=op.f("fk_candidates_round_code_election_rounds"),
        ),
        sa.ForeignKeyConstraint(
            ["village_code"], ["units.code"], name=op.f("fk_candidates_village_code_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidates")),
        sa.UniqueConstraint("chain_id_hash", name=op.f("uq_candidates_chain_id_hash")),
        sa.UniqueConstraint("record_id", name=op.f("uq_candidates_record_id")),
    )
    op.create_table(
        "dataset_rows",
        sa.Column("id", BigInt, autoincrement=True, nullable=False),
        sa.Column("dataset_code", sa.String(length=64), nullable=False),
        sa.Column("division_code", sa.String(length=32), nullable=False),
        sa.Column("batch_record_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_code"], ["datasets.code"], name=op.f("fk_dataset_rows_dataset_code_datasets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_rows")),
    )
    op.create_index(
        "ix_dataset_rows_dataset_division",
        "dataset_rows",
        ["dataset_code", "division_code"],
        unique=False,
    )
    op.create_table(
        "grant_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dataset_code", sa.String(length=64), nullable=False),
        sa.Column("requester_code", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("scenario", sa.String(length=128), nullable=False),
        sa.Column("legal_basis", sa.String(length=256), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_code"],
            ["datasets.code"],
            name=op.f("fk_grant_requests_dataset_code_datasets"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_code"], ["units.code"], name=op.f("fk_grant_requests_requester_code_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_requests")),
    )
    op.create_table(
        "api_key_revocations",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_by", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_api_key_revocations_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_key_revocations")),
    )
    op.create_table(
        "grant_answers",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("grant_id", sa.String(length=66), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=True),
        sa.Column("row_scope", sa.String(length=32), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scope_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("signature", sa.LargeBinary(length=65), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["grant_requests.id"],
            name=op.f("fk_grant_answers_request_id_grant_requests"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_grant_answers")),
        sa.UniqueConstraint("grant_id", name=op.f("uq_grant_answers_grant_id")),
    )
    op.create_table(
        "vetting_decisions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("candidate_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("verdict", sa.Integer(), nullable=False),
        sa.Column("clause_codes", sa.JSON(), nullable=False),
        sa.Column("clauses_salt", sa.LargeBinary(length=32), nullable=False),
        sa.Column("clauses_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=65), nullable=False),
        sa.Column("digest", sa.String(length=66), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_vetting_decisions_candidate_id_candidates"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_vetting_decisions_unit_code_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vetting_decisions")),
        sa.UniqueConstraint("digest", name=op.f("uq_vetting_decisions_digest")),
        sa.UniqueConstraint("record_id", name=op.f("uq_vetting_decisions_record_id")),
    )
    op.create_index(
        "uq_vetting_decisions_candidate_seq",
        "vetting_decisions",
        ["candidate_id", "seq"],
        unique=True,
    )


def _postgresql_triggers() -> None:
    # ledger_refuse_change() is revision 0001's.
    for table in TABLES:
        verbs = "UPDATE" if table in ERASABLE else "UPDATE OR DELETE"
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE {verbs} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
        if table not in ERASABLE:
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
            )


def _sqlite_triggers() -> None:
    for table in TABLES:
        for verb in ("UPDATE",) if table in ERASABLE else ("UPDATE", "DELETE"):
            message = f"civic-ledger: {verb} on append-only table {table} refused"
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, '{message}'); END"
            )


def downgrade() -> None:
    raise NotImplementedError("the records are append-only; there is no way back from them")
