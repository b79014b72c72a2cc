"""Issue 5's guarantees on PostgreSQL: bounded lock waits, the operator's lists, a worker that
stops within 5 s while a table is locked (skipped when no server answers)."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timezone

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core import review
from core.db import make_engine, make_sessionmaker, migrate
from core.periods import to_ms
from core.series import Series
from core.wire import Reading, encode, topic_for
from ingest.store import Message, store_batch
from tests.support.load import publish_all, register_series
from tests.support.net import free_port
from tests.support.observe import scrape
from tests.support.waiting import wait_until

pytestmark = pytest.mark.postgres

T0 = to_ms(datetime(2024, 3, 1, tzinfo=timezone.utc))


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def pg(pg_url, settings):
    engine = make_engine(pg_url, lock_timeout_ms=300)
    migrate(engine)
    yield make_sessionmaker(engine), settings.with_overrides(db_url=pg_url, timezone="UTC")
    engine.dispose()


def batch(meter_id, *readings, received=T0 + 3_600_000):
    return [Message(topic_for(meter_id), encode(Reading(meter_id, ts, wh)), received) for ts, wh in readings]


def test_a_locked_table_fails_fast_instead_of_waiting_for_ever(pg, pg_url):
    db, settings = pg
    with psycopg.connect(libpq(pg_url)) as holder:
        holder.execute("LOCK TABLE meter_state IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock timeout"):
            with db.begin() as session:
                store_batch(session, batch(7, (T0, 0)), settings, T0 + 3_600_000)
        assert time.monotonic() - started < 5
        holder.rollback()


def test_the_operator_lists_page_by_cursor_on_postgresql(pg):
    db, settings = pg
    with db.begin() as session:
        store_batch(session, batch(7, (T0, 0), (T0 + 5_000, 100_000)) + batch(8, (T0, 50_000), (T0 + 3_600_000, 300))
                    + batch(9, (T0, 50_000), (T0 + 5_000, 40_000)), settings, T0 + 3_600_000)
        store_batch(session, [Message("meters/8/reading", b"x", T0), Message("meters/8/reading", b"y", T0)],
                    settings, T0 + 3_600_000)
    with db() as session:
        first = review.flagged(session, settings.zone, limit=2)
        rest = review.flagged(session, settings.zone, limit=2, after=first.next_cursor)
        assert first.total == 3 and rest.next_cursor is None
        assert [f["tipo"] for f in first.items + rest.items] == ["reset", "replacement", "jump"]
        page = review.rejected(session, settings.zone, meter_id=8, limit=1)
        assert page.total == 2 and review.rejected(session, settings.zone, limit=1, before_id=page.next_cursor).items


def test_estimated_intervals_are_found_the_same_on_postgresql(pg):
    db, settings = pg
    times = [T0, T0 + 60_000, T0 + 3_600_000, T0 + 3_660_000]
    with db.begin() as session:
        store_batch(session, batch(4, *[(ts, index) for index, ts in enumerate(times)]), settings, T0 + 3_600_000)
    with db() as session:
        energies, flags = Series(session, 4).measure([T0, T0 + 1_800_000, T0 + 3_660_000])
    assert flags == [True, True]  # 00:30 lies in the silence from 00:01 to 01:00
    assert sum(energies) == 3


@pytest.mark.slow
def test_sigterm_ends_a_worker_on_a_locked_postgresql_table_within_5_s(broker, procs, pg_url):
    engine = make_engine(pg_url)
    migrate(engine)
    engine.dispose()
    port = free_port()
    env = broker.env(ENERGY_DB_URL=pg_url, INGEST_METRICS_PORT=port)
    worker = procs(["ingest"], env, name="ingest")
    worker.wait_for_log("subscribed to meters/", timeout=20)
    plan = {meter_id: register_series(meter_id, 200, T0) for meter_id in range(1, 6)}
    with psycopg.connect(libpq(pg_url)) as holder:
        holder.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
        publish_all(broker, plan)
        wait_until(lambda: scrape(port)["energy_ingest_database_retries_total"] > 0, timeout=20)
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0
        elapsed = time.monotonic() - started
        holder.rollback()
    assert elapsed < 5, elapsed
    procs(["ingest"], env, name="ingest").wait_for_log("subscribed to meters/", timeout=20)
    engine = make_engine(pg_url)
    wait_until(lambda: _count(engine) == 1000, timeout=60, message="all 1,000 readings stored")
    engine.dispose()


def _count(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM readings")).scalar_one()
