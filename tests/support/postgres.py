"""A throw-away PostgreSQL database per test, on the server named by ENERGY_TEST_PG_URL."""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Iterator

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

log = logging.getLogger(__name__)

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT_S = 2


class NoServer(RuntimeError):
    """No PostgreSQL server answered; tests that need one are skipped."""


def create_database(server_url: str = DEFAULT_SERVER_URL) -> str:
    """Create a uniquely named database on that server; return its SQLAlchemy URL (psycopg 3).

    Raises NoServer when nothing answers within a couple of seconds.
    """
    server = make_url(server_url)
    name = f"energy_test_{uuid.uuid4().hex[:12]}"
    with _admin_connection(server) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log.info("created database %s on %s", name, server.host)
    return server.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, database_url: str) -> None:
    """Drop a database made by create_database, ending any session a killed process left open."""
    with _admin_connection(make_url(server_url)) as admin:
        name = make_url(database_url).database
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def temporary_database(server_url: str = DEFAULT_SERVER_URL) -> Iterator[str]:
    """A database for the duration of a `with` block: yields its URL, then drops it."""
    url = create_database(server_url)
    try:
        yield url
    finally:
        drop_database(server_url, url)


@contextlib.contextmanager
def _admin_connection(server: URL) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the server: the URL's own database, or `postgres` if that is absent."""
    try:
        connection = _connect(server)
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error) or server.database == "postgres":
            raise NoServer(f"no PostgreSQL server answered at {server}: {str(error).strip()}") from None
        connection = _connect(server.set(database="postgres"))
    with connection:
        yield connection


def _connect(server: URL) -> psycopg.Connection:
    url = server.set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True)
