"""Storage: engines, the typed table models, and the Alembic migrations that make the schema.

The same schema runs on SQLite (the embedded default) and PostgreSQL
(production). :func:`migrate` brings a database to the newest schema.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from ledger.store.db import create_engine, is_sqlite
from ledger.store.models import (
    APPEND_ONLY_TABLES,
    INTEGRATED_SIZE,
    SEQUENCED_SIZE,
    Base,
    LogCheckpoint,
    LogCounter,
    LogLeaf,
    LogTile,
)

MIGRATIONS = Path(__file__).parent / "migrations"

__all__ = [
    "APPEND_ONLY_TABLES",
    "INTEGRATED_SIZE",
    "SEQUENCED_SIZE",
    "Base",
    "LogCheckpoint",
    "LogCounter",
    "LogLeaf",
    "LogTile",
    "create_engine",
    "is_sqlite",
    "migrate",
]


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (the newest by default)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
