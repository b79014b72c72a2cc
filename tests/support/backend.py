"""The database engine a test run uses: SQLite files (the default) or PostgreSQL.

`pytest --backend=postgresql` (the second pass of `make test`) runs every test that asks for the
`backend` fixture, directly or through `settings`, `db` or `procs`, on PostgreSQL. The rule that
makes this work without touching the tests is one database per data folder:

- SQLite: the data folder's `energy.db`, the product's own default (no ENERGY_DB_URL at all);
- PostgreSQL: a fresh database on ENERGY_TEST_PG_URL's server (`tests.support.postgres`),
  created the first time that folder's database is asked for and dropped after the test (or,
  for a folder of a module-scoped fixture, at the end of the run).

So `settings`, `backend.settings(folder)` and a child started by `procs` with that folder as
ENERGY_DATA_DIR (`broker.env()` gives the broker's) all meet in the same database, whichever
the engine.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path
from typing import Iterator, Mapping

import psycopg
from sqlalchemy.engine import make_url

from core.config import Settings
from tests.support import postgres

log = logging.getLogger(__name__)

SQLITE, POSTGRESQL = "sqlite", "postgresql"
NAMES = (SQLITE, POSTGRESQL)


class Backend:
    """Hands out the database of each data folder on one engine."""

    def __init__(self, name: str = SQLITE, server_url: str = postgres.DEFAULT_SERVER_URL):
        if name not in NAMES:
            raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}")
        self.name = name
        self.server_url = server_url
        self._databases: dict[Path, str] = {}  # data folder: its PostgreSQL database's URL

    @property
    def postgresql(self) -> bool:
        """Whether databases live on the PostgreSQL server."""
        return self.name == POSTGRESQL

    def unavailable(self) -> str | None:
        """Why this backend cannot run here (no PostgreSQL server answers), or None."""
        if not self.postgresql:
            return None
        try:
            postgres.drop_database(self.server_url, postgres.create_database(self.server_url))
        except postgres.NoServer as error:
            return str(error)
        return None

    def db_url(self, data_dir: Path | str) -> str | None:
        """The ENERGY_DB_URL of that folder's database; None on SQLite (the folder's own file)."""
        if not self.postgresql:
            return None
        key = Path(data_dir).resolve()
        if key not in self._databases:
            self._databases[key] = postgres.create_database(self.server_url)
            log.info("data folder %s uses %s", key, self._databases[key])
        return self._databases[key]

    def url(self, data_dir: Path | str) -> str:
        """The SQLAlchemy URL of that folder's database, on either engine."""
        return self.settings(data_dir).db_url

    def env(self, data_dir: Path | str, **extra: object) -> dict[str, str]:
        """Environment variables of a process with this data folder (and its database), plus `extra`."""
        env = {"ENERGY_DATA_DIR": str(data_dir)}
        url = self.db_url(data_dir)
        if url:
            env["ENERGY_DB_URL"] = url
        env.update({name: str(value) for name, value in extra.items()})
        return env

    def settings(self, data_dir: Path | str, **extra: object) -> Settings:
        """`Settings.from_env(self.env(data_dir, **extra))`: in-process code on that folder's database."""
        return Settings.from_env(self.env(data_dir, **extra))

    def complete(self, env: Mapping[str, str]) -> dict[str, str]:
        """A child's environment with its data folder's database added, unless it names one."""
        env = dict(env)
        if "ENERGY_DATA_DIR" in env and "ENERGY_DB_URL" not in env:
            url = self.db_url(env["ENERGY_DATA_DIR"])
            if url:
                env["ENERGY_DB_URL"] = url
        return env

    def folders(self) -> set[Path]:
        """The data folders that have a PostgreSQL database now."""
        return set(self._databases)

    def drop(self, keep: set[Path] = frozenset()) -> None:
        """Drop the PostgreSQL databases of every folder but `keep` (ending their sessions)."""
        for folder in self.folders() - set(keep):
            postgres.drop_database(self.server_url, self._databases.pop(folder))


# The tables an ingest worker writes for readings; holding them stops every batch from committing.
WRITTEN_BY_INGEST = ("meter_state", "readings", "reading_flags", "rejected_readings")


@contextlib.contextmanager
def writes_locked(db_url: str) -> Iterator[None]:
    """Hold the database so that no reading can be committed, while readers still read.

    SQLite: an exclusive transaction on the file. PostgreSQL: EXCLUSIVE locks on the tables the
    worker writes (reads go on). Either waits for a transaction in progress to end first.
    """
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, isolation_level=None, timeout=30)
        connection.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as connection:
        for table in WRITTEN_BY_INGEST:
            connection.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            connection.rollback()
