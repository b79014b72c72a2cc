"""Shared fixtures: a real broker, child processes, settings, SQLite and PostgreSQL databases.

The logic lives in tests/support (documented there); this file only wires it into pytest.

`--backend=postgresql` runs the tests that use a database (those that ask for `backend`, or for
`settings`, `db` or `procs`, which do) on PostgreSQL instead of SQLite files; the rest are
deselected, as are the `postgres` tests (the default run already has them on PostgreSQL) and the
`sqlite` ones (each says why). Without a server every selected test is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.db import make_engine, make_sessionmaker, migrate
from tests.support import net, postgres
from tests.support.backend import NAMES, SQLITE, Backend
from tests.support.broker import RunningBroker
from tests.support.procs import ProcessTracker

BACKEND = pytest.StashKey[Backend]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", choices=NAMES, default=SQLITE,
                     help="database engine of the tests that use one (default: %(default)s)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite(reason): runs on SQLite only, for the reason given (its file, "
                                       "or a fault run that says nothing new on PostgreSQL); deselected by "
                                       "--backend=postgresql")
    server = os.environ.get("ENERGY_TEST_PG_URL") or postgres.DEFAULT_SERVER_URL
    config.stash[BACKEND] = Backend(config.getoption("backend"), server)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = config.stash[BACKEND]
    if not chosen.postgresql:
        return
    selected = [item for item in items if "backend" in getattr(item, "fixturenames", ())
                and not item.get_closest_marker("postgres") and not item.get_closest_marker("sqlite")]
    config.hook.pytest_deselected(items=[item for item in items if item not in selected])
    items[:] = selected
    reason = chosen.unavailable() if selected else None
    for item in selected if reason else ():
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> Backend:
    """Where this run's databases live: `backend.settings(folder)`, `backend.env(folder)`."""
    return pytestconfig.stash[BACKEND]


@pytest.fixture(autouse=True)
def _drop_test_databases(request: pytest.FixtureRequest) -> Iterator[None]:
    """Drop the PostgreSQL databases a test made (not those of module fixtures, set up before it)."""
    chosen = request.config.stash[BACKEND]
    before = chosen.folders()
    yield
    chosen.drop(keep=before)


def pytest_sessionfinish(session: pytest.Session) -> None:
    session.config.stash[BACKEND].drop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RunningBroker]:
    """The project's Mosquitto on a free port, with ingest, watcher and meters 1..20.

    Its data folder (the secrets, and ENERGY_DATA_DIR in `broker.env()`) is the `settings`
    fixture's, tmp_path/"data": a worker started by `procs` with `broker.env()` uses the `db`
    fixture's database.
    """
    with RunningBroker(tmp_path / "broker", meters=range(1, 21), data_dir=tmp_path / "data") as running:
        yield running


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    return net.free_port()


@pytest.fixture
def procs(tmp_path: Path, backend: Backend) -> Iterator[ProcessTracker]:
    """Start `python -m` children with `procs(["ingest"], env)`; all are killed at teardown.

    A child whose env gives ENERGY_DATA_DIR but no ENERGY_DB_URL gets that folder's database.
    """
    tracker = ProcessTracker(tmp_path / "logs", backend.complete)
    yield tracker
    tracker.cleanup()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy URL) on ENERGY_TEST_PG_URL's server; skip without one."""
    server = os.environ.get("ENERGY_TEST_PG_URL") or postgres.DEFAULT_SERVER_URL
    try:
        url = postgres.create_database(server)
    except postgres.NoServer as error:
        pytest.skip(str(error))
    yield url
    postgres.drop_database(server, url)


@pytest.fixture
def settings(tmp_path: Path, backend: Backend) -> Settings:
    """Settings with a data folder in tmp_path, its database on the run's backend, the default zone."""
    return backend.settings(tmp_path / "data", ENERGY_TIMEZONE="America/Sao_Paulo")


@pytest.fixture
def db(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A sessionmaker over the settings' migrated database (a SQLite file in the data folder)."""
    engine = make_engine(settings.db_url, immediate=True)
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()
