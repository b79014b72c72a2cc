"""Shared fixtures: a real broker, child processes, settings, SQLite and PostgreSQL databases.

The logic lives in tests/support (documented there); this file only wires it into pytest.
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
from tests.support.broker import RunningBroker
from tests.support.procs import ProcessTracker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RunningBroker]:
    """The project's Mosquitto on a free port, with ingest, watcher and meters 1..20.

    Its data folder (the secrets, and ENERGY_DATA_DIR in `broker.env()`) is the `settings`
    fixture's, tmp_path/"data": a worker started with `broker.env()` writes the `db` fixture's file.
    """
    with RunningBroker(tmp_path / "broker", meters=range(1, 21), data_dir=tmp_path / "data") as running:
        yield running


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    return net.free_port()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[ProcessTracker]:
    """Start `python -m` children with `procs(["ingest"], env)`; all are killed at teardown."""
    tracker = ProcessTracker(tmp_path / "logs")
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
def settings(tmp_path: Path) -> Settings:
    """Settings with a data folder in tmp_path and the default time zone."""
    return Settings.from_env({"ENERGY_DATA_DIR": str(tmp_path / "data"), "ENERGY_TIMEZONE": "America/Sao_Paulo"})


@pytest.fixture
def db(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A sessionmaker over a migrated SQLite file in the settings' data folder."""
    engine = make_engine(settings.db_url, immediate=True)
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()
