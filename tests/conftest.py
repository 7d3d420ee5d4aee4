"""Database fixtures for every storage test: a fresh, migrated, empty database per test.

``database_url`` runs a test twice, on SQLite (a file under ``tmp_path``) and on
PostgreSQL (marked ``postgres``); ``engine`` is a :func:`ledger.store.create_engine`
on it; ``postgres_url`` is the PostgreSQL one alone, for concurrency tests.

The PostgreSQL server is ``LEDGER_TEST_DATABASE_URL``, which ``scripts/test`` sets
(to the local server, or to a throwaway cluster it starts). When it is missing or
unreachable, PostgreSQL tests are skipped with a loud reason, except under
``CI=true``, where they fail: CI must never go green by skipping them.

On PostgreSQL, each test session migrates one template database with
:func:`ledger.store.migrate`, and each test gets ``CREATE DATABASE ... TEMPLATE``
of it: a copy in milliseconds instead of a migration per test. Both are dropped
after use. Names carry the pid, the pytest-xdist worker and a random part, so
concurrent sessions and xdist workers never share a database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa
from eth_account import Account
from eth_tester import EthereumTester, PyEVMBackend
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool
from web3 import EthereumTesterProvider, Web3

from ledger.chain.client import Chain

# tests/integration/test_database_fixture.py runs an inner pytest session.
pytest_plugins = ["pytester"]

ENV_URL = "LEDGER_TEST_DATABASE_URL"

#: The backends ``database_url`` runs each test on.
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]

#: Fixtures that need a PostgreSQL: a test using one of them is marked ``postgres``.
POSTGRES_FIXTURES = frozenset({"postgres_server_url", "postgres_url"})


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def _no_postgres(reason: str) -> NoReturn:
    """Skip the test loudly, or fail it in CI, where a skip would hide untested code."""
    if _in_ci():
        pytest.fail(
            f"PostgreSQL is required in CI (CI=true), but {reason}. "
            f"Set {ENV_URL}, or run the suite through ./scripts/test, which provides one.",
            pytrace=False,
        )
    pytest.skip(
        f"!!! NO POSTGRESQL, TEST SKIPPED: {reason}. Set {ENV_URL} "
        "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres) or run ./scripts/test."
    )


def _unique_name(kind: str) -> str:
    """A database name no other session, worker or test uses (at most 63 bytes)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"ledger_{kind}_{os.getpid()}_{worker}_{secrets.token_hex(4)}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _execute(engine: sa.Engine, sql: str, **params: object) -> None:
    with engine.connect() as connection:
        connection.execute(sa.text(sql), params)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs_postgres = POSTGRES_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if needs_postgres and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The PostgreSQL server to make test databases on (``LEDGER_TEST_DATABASE_URL``).

    Skips (fails under ``CI=true``) when it is unset or unreachable. A URL that is not
    a PostgreSQL one is a configuration error and always fails.
    """
    raw = os.environ.get(ENV_URL, "").strip()
    if not raw:
        _no_postgres(f"{ENV_URL} is not set")
    try:
        url = make_url(raw)
    except sa.exc.ArgumentError as exc:
        pytest.fail(f"{ENV_URL} is not a database URL: {exc}", pytrace=False)
    if url.get_backend_name() != "postgresql":
        pytest.fail(
            f"{ENV_URL} must be a PostgreSQL URL, got backend {url.get_backend_name()!r}",
            pytrace=False,
        )
    if url.drivername == "postgresql":
        # SQLAlchemy's default driver is psycopg2; the project installs psycopg 3.
        url = url.set(drivername="postgresql+psycopg")
    shown = url.render_as_string(hide_password=True)
    probe = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with probe.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        reason = " ".join(str(exc.orig or exc).split())
        _no_postgres(f"{ENV_URL}={shown} is not reachable ({reason})")
    finally:
        probe.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _postgres_admin(postgres_server_url: str) -> Iterator[sa.Engine]:
    """An AUTOCOMMIT engine on the server's own database: CREATE/DROP DATABASE need it."""
    engine = sa.create_engine(
        postgres_server_url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 10},
    )
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _postgres_template(postgres_server_url: str, _postgres_admin: sa.Engine) -> Iterator[str]:
    """The name of a database migrated to head once per session, to copy for each test."""
    from ledger.store import migrate

    name = _unique_name("tpl")
    _execute(_postgres_admin, f"CREATE DATABASE {_quote(name)}")
    try:
        migrate(_with_database(postgres_server_url, name))
        # CREATE DATABASE ... TEMPLATE needs the template without sessions: refuse new
        # ones and end any left over by the migration.
        _execute(_postgres_admin, f"ALTER DATABASE {_quote(name)} WITH ALLOW_CONNECTIONS false")
        _execute(
            _postgres_admin,
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()",
            name=name,
        )
        yield name
    finally:
        _execute(_postgres_admin, f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")


@pytest.fixture
def postgres_url(
    postgres_server_url: str, _postgres_admin: sa.Engine, _postgres_template: str
) -> Iterator[str]:
    """The URL of a fresh, migrated, empty PostgreSQL database, dropped after the test."""
    name = _unique_name("test")
    _execute(
        _postgres_admin, f"CREATE DATABASE {_quote(name)} TEMPLATE {_quote(_postgres_template)}"
    )
    try:
        yield _with_database(postgres_server_url, name)
    finally:
        # FORCE: a connection the test leaked must not keep its database alive.
        _execute(_postgres_admin, f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")


def _fresh_sqlite_url(tmp_path: Path) -> str:
    from ledger.store import migrate

    path = tmp_path / "ledger-test.sqlite3"
    assert not path.exists(), f"{path} exists already; tmp_path is not fresh"
    url = URL.create("sqlite+pysqlite", database=str(path)).render_as_string()
    migrate(url)
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, migrated, empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return _fresh_sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """``ledger.store.create_engine(database_url)``, disposed after the test."""
    from ledger.store import create_engine

    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


# ---- chains -------------------------------------------------------------------------------


@pytest.fixture
def tester() -> EthereumTester:
    return EthereumTester(PyEVMBackend())


@pytest.fixture
def tester_chain(tester: EthereumTester) -> Chain:
    """A Chain on eth-tester whose account is a fresh key funded from a dev account."""
    w3 = Web3(EthereumTesterProvider(tester))
    account = Account.create()
    tx = w3.eth.send_transaction(
        {"from": w3.eth.accounts[0], "to": account.address, "value": 10**20}
    )
    w3.eth.wait_for_transaction_receipt(tx)
    return Chain(w3, account)
