"""Engine factory, schema migrations and the one dialect-specific statement (insert-or-ignore)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 60_000
_PG_MIGRATION_LOCK = 7_301_999_417


def make_engine(url: str, *, immediate: bool = False, lock_timeout_ms: int | None = None, **options: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and explicit transactions.

    `immediate=True` makes every SQLite transaction take the write lock at BEGIN, which is what a
    writer wants: a deferred transaction that reads and then writes can fail at once with
    SQLITE_BUSY when another writer committed in between, whatever the busy timeout.
    `lock_timeout_ms` bounds how long a statement waits for a lock before OperationalError
    (SQLite's busy timeout, PostgreSQL's lock_timeout); by default SQLite waits a minute and
    PostgreSQL as long as it takes. The ingest worker sets it short, so that it retries in its
    own loop, where a stop signal is noticed within seconds.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        options.setdefault("pool_pre_ping", True)
        if lock_timeout_ms is not None:
            options.setdefault("connect_args", {})["options"] = f"-c lock_timeout={int(lock_timeout_ms)}"
        return create_engine(url, **options)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False}, **options)
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
    busy_timeout_ms = SQLITE_BUSY_TIMEOUT_MS if lock_timeout_ms is None else int(lock_timeout_ms)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is ours, issued in _begin below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: commits survive a process crash
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


# What a database says when it is busy or away, as opposed to a statement that can never succeed
# (SQLite says "integer overflow" with the same exception class as "database is locked").
TRANSIENT_SIGNS = (
    "locked", "busy", "lock timeout", "could not obtain lock", "deadlock", "could not serialize",
    "connection", "server closed", "terminating", "the database system is", "disk i/o error",
    "unable to open database",
)


def is_transient(error: OperationalError) -> bool:
    """Whether an OperationalError is worth retrying: a lock, a busy file, a lost connection."""
    if error.connection_invalidated:
        return True
    text = str(error.orig or error).lower()
    return any(sign in text for sign in TRANSIENT_SIGNS)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """The one session factory of a process."""
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision; safe when several processes start at once."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive file lock beside a SQLite file; PostgreSQL uses an advisory lock instead."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database + ".migrate-lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def insert_many(session: Session, table: Table, rows: list[Mapping[str, Any]]) -> None:
    """Insert rows of the same keys through the driver's executemany, in the session's transaction.

    For the hot path of the ingest worker: SQLAlchemy's bulk insert spends more time per row
    (compiling parameters, ORM bookkeeping) than SQLite takes to store it. The statement names
    the columns of the first row; every row must have the same keys.
    """
    if not rows:
        return
    columns = list(rows[0])
    connection = session.connection()
    mark = _marker(connection.dialect.name)
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(mark(c) for c in columns)})", rows,
    )


def update_many(session: Session, table: Table, key: str, rows: list[Mapping[str, Any]]) -> None:
    """`UPDATE table SET <the other keys of the rows> WHERE key = :key`, one executemany through
    the driver, in the session's transaction (every row must have the same keys)."""
    if not rows:
        return
    connection = session.connection()
    mark = _marker(connection.dialect.name)
    quote = connection.dialect.identifier_preparer.quote
    assignments = ", ".join(f"{quote(column)} = {mark(column)}" for column in rows[0] if column != key)
    connection.exec_driver_sql(f"UPDATE {quote(table.name)} SET {assignments} WHERE {quote(key)} = {mark(key)}", rows)


def _marker(dialect: str):
    """How the driver of `dialect` names a parameter in SQL."""
    if dialect == "sqlite":  # sqlite3 takes named parameters whatever SQLAlchemy's paramstyle
        return lambda column: f":{column}"
    if dialect == "postgresql":
        return lambda column: f"%({column})s"
    raise NotImplementedError(f"no driver-level statements for {dialect}")  # pragma: no cover


def insert_ignore(session: Session, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert rows, skipping any whose key already exists (idempotent writes)."""
    rows = list(rows)
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        statement = sqlite_insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = pg_insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"insert_ignore has no form for {dialect}")
    session.execute(statement, rows)

