"""The log's tables (SQLAlchemy 2, typed). The schema itself is made by Alembic.

Every table here but ``log_counters`` is append-only: the migration installs
triggers that make the database refuse UPDATE and DELETE on them, so not even a
bug in this code can rewrite history. ``log_counters`` may only grow.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite makes an INTEGER PRIMARY KEY the rowid itself; BIGINT would add a
# second index for nothing.
BigInt = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


SEQUENCED_SIZE = "sequenced_size"
"""Counter: how many leaves have an index (the next index to give)."""
INTEGRATED_SIZE = "integrated_size"
"""Counter: how many leaves the stored tiles cover (the largest size proofs serve)."""


class LogCounter(Base):
    """The log's two heads. Each row is also the lock its writer takes."""

    __tablename__ = "log_counters"

    # "sequenced_size" (locked by the sequencer) or "integrated_size" (locked by
    # the integrator): two rows, so sequencing never waits for integration.
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Only ever grows; a trigger refuses a decrease.
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (CheckConstraint("value >= 0", name="value_nonnegative"),)


class LogLeaf(Base):
    """One entry of the log: its index, its canonical bytes and their leaf hash."""

    __tablename__ = "log_leaves"

    # Gapless, in sequencing order; the leaf's position in the Merkle tree.
    leaf_index: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    # The entry's own id (DESIGN.md "Entry"), so a record finds its leaf.
    entry_id: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    # JCS(entry): what the leaf hash commits to; an auditor re-hashes it.
    leaf_data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    # SHA-256(0x00 || leaf_data), kept so integration never re-reads the data.
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    # When the sequencer gave the index (UTC); informational, not hashed.
    sequenced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        CheckConstraint("leaf_index >= 0", name="leaf_index_nonnegative"),
        CheckConstraint("length(leaf_hash) = 32", name="leaf_hash_length"),
    )


class LogTile(Base):
    """A C2SP tlog-tiles style tile: up to 256 consecutive hashes of one tree level.

    Tile ``(level, tile_index)`` holds the hashes of nodes at tree level
    ``8 * level``, indices ``[256 * tile_index, 256 * tile_index + width)``.
    A tile is written once per width it reaches; the full one has width 256.
    Level-0 tiles are written only when full (the partial one is read from
    ``log_leaves``).
    """

    __tablename__ = "log_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tile_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    width: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # width * 32 bytes: the hashes, left to right.
    hashes: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)

    __table_args__ = (
        CheckConstraint("level >= 0", name="level_nonnegative"),
        CheckConstraint("tile_index >= 0", name="tile_index_nonnegative"),
        CheckConstraint("width BETWEEN 1 AND 256", name="width_range"),
        CheckConstraint("length(hashes) = 32 * width", name="hashes_length"),
    )


class LogCheckpoint(Base):
    """A signed tree head: the C2SP checkpoint note the log's key signed."""

    __tablename__ = "log_checkpoints"

    # One checkpoint per size: the same size can only ever have one root.
    tree_size: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    # The full signed note text (C2SP signed-note over tlog-checkpoint).
    note: Mapped[str] = mapped_column(Text, nullable=False)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        CheckConstraint("tree_size >= 0", name="tree_size_nonnegative"),
        CheckConstraint("length(root_hash) = 32", name="root_hash_length"),
    )


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


log_counters = _table(LogCounter)
log_leaves = _table(LogLeaf)
log_tiles = _table(LogTile)
log_checkpoints = _table(LogCheckpoint)

APPEND_ONLY_TABLES = ("log_leaves", "log_tiles", "log_checkpoints")
"""Tables whose rows the database refuses to update or delete."""


class ChainDeployment(Base):
    """Where a contract of ours lives on a chain, so every later step finds it again."""

    __tablename__ = "chain_deployments"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The contract's name in contracts/ (LogAnchor, UnitRegistry, ...).
    contract: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), nullable=False)
    # The block of the deployment: event scans start here.
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # keccak256 of the deployed runtime bytecode, to notice a different contract at the address.
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ChainAnchor(Base):
    """What the anchorer knows of one anchored checkpoint. The chain is the truth; this
    table is its memory, rebuilt from the chain's state and events after a crash."""

    __tablename__ = "chain_anchors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The LogAnchor it is on: a chain id alone is not enough (every anvil is 31337).
    contract: Mapped[str] = mapped_column(String(42), primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    # The transaction that anchored it, once known (null while only sent).
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    # sent → mined → final (after LEDGER_CONFIRMATIONS blocks); dropped when re-orged out.
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        CheckConstraint("status IN ('sent', 'mined', 'final', 'dropped')", name="status_known"),
    )


chain_deployments = _table(ChainDeployment)
chain_anchors = _table(ChainAnchor)


class ChainRelay(Base):
    """A signed message (decision, registration, grant, revocation) we relayed, and where
    it landed: the auditor's link from an off-chain record to its transaction."""

    __tablename__ = "chain_relays"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # registration | decision | grant | revocation
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The message's EIP-712 digest (the grant id for a grant), hex.
    item_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    contract: Mapped[str] = mapped_column(String(42), nullable=False)
    tx_hash: Mapped[str] = mapped_column(String(66), nullable=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_hash: Mapped[str] = mapped_column(String(66), nullable=False)
    relayed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


chain_relays = _table(ChainRelay)
