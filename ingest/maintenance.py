"""`python -m ingest prune` and `python -m ingest backup FILE`: the database's upkeep.

`prune` runs a whole retention pass now (the worker runs one every `[retention] every_minutes`).
`backup` takes a consistent copy of the SQLite database while the worker and the API keep
running: SQLite's `VACUUM INTO` reads one snapshot in a single read transaction, which in WAL
mode never blocks the writers, and writes it compacted to a new file. The copy is checked
(`PRAGMA quick_check`) and only then renamed into place, so a FILE that exists is a good backup.
Restoring is copying it back with every process stopped (README, "Backups").
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from core import retention
from core.config import Settings
from core.db import SQLITE_BUSY_TIMEOUT_MS, make_engine, make_sessionmaker, migrate
from core.periods import now_ms

log = logging.getLogger(__name__)


def prune_now(settings: Settings) -> int:
    """Thin every raw reading past the retention window; print what was done."""
    if settings.raw_days == 0:
        print("retention.raw_days is 0: every raw reading is kept; nothing to do")
        return 0
    engine = make_engine(settings.db_url, immediate=True)
    try:
        migrate(engine)
        started = time.monotonic()
        progress = retention.prune(make_sessionmaker(engine), now_ms(), settings.raw_days)
    finally:
        engine.dispose()
    print(f"removed {progress.removed} raw readings older than {settings.raw_days} days "
          f"({progress.meters} meter visits) in {time.monotonic() - started:.1f} s")
    return 0


def backup(settings: Settings, target: Path) -> int:
    """Write a consistent, checked copy of the SQLite database to `target`; 0 on success."""
    url = make_url(settings.db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        print("backup copies a SQLite file; for PostgreSQL use pg_dump (README, \"Backups\")")
        return 2
    source = Path(url.database)
    if not source.exists():
        print(f"no database at {source}")
        return 1
    if target.exists():
        print(f"{target} exists; give a new file name")
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    started = time.monotonic()
    log.info("backing up %s to %s", source, target)
    _vacuum_into(source, partial)
    problem, readings = _check(partial)
    if problem:
        partial.unlink()
        print(f"the copy failed its check ({problem}); nothing written")
        return 1
    os.replace(partial, target)
    size = target.stat().st_size
    print(f"backup of {source} written to {target}: {size / 2**20:.1f} MiB, {readings} readings, "
          f"{time.monotonic() - started:.1f} s")
    return 0


def _vacuum_into(source: Path, partial: Path) -> None:
    connection = sqlite3.connect(source, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        connection.execute("VACUUM INTO ?", (str(partial),))
    finally:
        connection.close()


def _check(path: Path) -> tuple[str | None, int]:
    """What `quick_check` finds wrong (None when nothing) and how many readings the copy holds."""
    connection = sqlite3.connect(path)
    try:
        verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
        readings = connection.execute("SELECT count(*) FROM readings").fetchone()[0]
    finally:
        connection.close()
    return (None if verdict == "ok" else verdict), readings
