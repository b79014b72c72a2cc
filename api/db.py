"""The API's database edge: two engines built once, one session per request.

Reads use a plain engine; views marked `@writes` get a session of an engine whose SQLite
transactions BEGIN IMMEDIATE, so a write never fails half-way with SQLITE_BUSY because
the ingest worker committed in between (see `core.db.make_engine`). The session is opened on
first use, passed to the functions that need it, and closed when the request ends; handlers
commit explicitly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.db import make_engine, make_sessionmaker, migrate

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Database:
    """The engines and session factories of one app."""

    read_engine: Engine
    write_engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.read_engine.dispose()
        self.write_engine.dispose()


@dataclass(frozen=True)
class Context:
    """What every request needs: the settings, the database and the admin token."""

    settings: Settings
    database: Database
    admin_token: str


def open_database(settings: Settings, run_migrations: bool = True) -> Database:
    """Build both engines and, unless told not to, bring the schema up to date."""
    read_engine = make_engine(settings.db_url)
    write_engine = make_engine(settings.db_url, immediate=True)
    if run_migrations:
        migrate(write_engine)
    return Database(read_engine, write_engine, make_sessionmaker(read_engine), make_sessionmaker(write_engine))


def context() -> Context:
    """The current app's context."""
    return current_app.extensions["energia"]


def session() -> Session:
    """This request's session, opened on first use."""
    if "db_session" not in g:
        database = context().database
        factory = database.writer if g.get("db_writes") else database.reader
        g.db_session = factory()
    return g.db_session


def writes(view: View) -> View:
    """Mark a view that writes: its session takes the write lock at BEGIN."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.db_writes = True
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def close_session(_error: BaseException | None = None) -> None:
    """Close the request's session; whatever was not committed is rolled back."""
    opened = g.pop("db_session", None)
    if opened is not None:
        opened.close()


def init_app(app: Flask, ctx: Context) -> None:
    """Attach the context to the app and close sessions at teardown."""
    app.extensions["energia"] = ctx
    app.teardown_appcontext(close_session)
