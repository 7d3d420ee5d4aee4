"""The database fixtures of tests/conftest.py keep their promise, on both backends.

Each test gets a reachable database of the right backend, migrated to the same
schema a fresh migration gives, holding nothing a test wrote; no two tests share
one; and on PostgreSQL the per-test databases and the session's template are
dropped afterwards.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from ledger.store import migrate

ROOT = Path(__file__).resolve().parents[2]
CONFTEST = ROOT / "tests" / "conftest.py"

#: (table names, rows per table, alembic version rows) of a database.
Contents = tuple[set[str], dict[str, int], list[str]]

# Every database URL handed out in this session, to catch one handed out twice.
_seen_urls: set[str] = set()


def _contents(connection: sa.Connection) -> Contents:
    tables = set(sa.inspect(connection).get_table_names())
    counts = {
        table: connection.execute(
            sa.select(sa.func.count()).select_from(sa.table(table))
        ).scalar_one()
        for table in sorted(tables)
    }
    versions: list[str] = []
    if "alembic_version" in tables:
        versions = list(
            connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
        )
    return tables, counts, versions


@pytest.fixture(scope="module")
def freshly_migrated(tmp_path_factory: pytest.TempPathFactory) -> Contents:
    """The contents of a database just migrated by ledger.store.migrate, not by the fixture."""
    path = tmp_path_factory.mktemp("reference") / "reference.sqlite3"
    url = URL.create("sqlite+pysqlite", database=str(path)).render_as_string()
    migrate(url)
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return _contents(connection)
    finally:
        engine.dispose()


def test_database_is_reachable_migrated_and_empty(
    request: pytest.FixtureRequest,
    engine: sa.Engine,
    database_url: str,
    freshly_migrated: Contents,
) -> None:
    backend = request.node.callspec.params["database_url"]
    assert make_url(database_url).get_backend_name() == backend
    assert engine.dialect.name == backend

    want_tables, want_counts, want_versions = freshly_migrated
    assert "alembic_version" in want_tables, "ledger.store.migrate made no alembic_version table"
    assert len(want_versions) == 1, f"a fresh migration has versions {want_versions}, want one"
    assert want_tables - {"alembic_version"}, "ledger.store.migrate created no table"

    with engine.connect() as connection:
        tables, counts, versions = _contents(connection)
    assert tables == want_tables, f"tables {sorted(tables)}, want {sorted(want_tables)}"
    assert versions == want_versions, f"alembic version {versions}, want {want_versions}"
    # Empty: no row beyond what the migrations themselves insert.
    assert counts == want_counts, f"rows per table {counts}, want {want_counts}"


@pytest.mark.parametrize("attempt", ["first", "second"])
def test_each_test_gets_its_own_database(
    engine: sa.Engine, database_url: str, attempt: str
) -> None:
    # Each attempt leaves a table behind. Whichever runs second finds the other's,
    # and fails, if the fixture ever hands out the same database twice.
    with engine.begin() as connection:
        tables = sa.inspect(connection).get_table_names()
        assert "fixture_probe" not in tables, "this database was used by an earlier test"
        connection.execute(sa.text("CREATE TABLE fixture_probe (attempt VARCHAR(16))"))
        connection.execute(sa.text("INSERT INTO fixture_probe VALUES (:a)"), {"a": attempt})
    assert database_url not in _seen_urls, f"{database_url} was handed out before"
    _seen_urls.add(database_url)


@pytest.mark.postgres
def test_postgres_url_is_its_own_database_on_the_server(
    postgres_url: str, postgres_server_url: str
) -> None:
    database = make_url(postgres_url).database
    assert database != make_url(postgres_server_url).database
    engine = sa.create_engine(postgres_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            got = connection.execute(sa.text("SELECT current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert got == database, f"connected to {got}, want {database}"


@pytest.mark.postgres
def test_postgres_databases_are_dropped_after_use(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, postgres_server_url: str
) -> None:
    # An inner session with the real conftest records the names it was given; once it
    # is over, none of them may be left on the server.
    record = pytester.path / "used-databases.txt"
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n    postgres: needs PostgreSQL\n")
    pytester.makepyfile(
        test_inner=textwrap.dedent(
            f"""
            import pytest
            from sqlalchemy.engine import make_url

            @pytest.mark.parametrize("n", [1, 2])
            def test_uses_a_database(postgres_url, _postgres_template, n):
                with open({str(record)!r}, "a") as f:
                    print(make_url(postgres_url).database, _postgres_template, file=f)
            """
        )
    )
    # The inner session runs elsewhere: let it import ledger even when not pip-installed.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)

    names = set(record.read_text().split())
    assert len(names) == 3, f"inner session used databases {sorted(names)}, want 2 and a template"
    admin = sa.create_engine(postgres_server_url, poolclass=NullPool)
    try:
        with admin.connect() as connection:
            left = connection.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname = ANY(:names)"),
                {"names": sorted(names)},
            ).scalars()
            assert sorted(left) == [], "databases left behind after the session"
    finally:
        admin.dispose()
