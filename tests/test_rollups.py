"""The 15-minute rollup: kept exact by the ingest however readings arrive, built by the migration,
and giving the hours of a day exactly as the raw readings do."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alembic import command
from alembic.config import Config
from sqlalchemy import insert, select

from api.hours import day_hours
from core import rollups
from core.customers import delete_customer, register
from core.db import MIGRATIONS, make_engine
from core.intervals import hour_bounds, intervals
from core.models import Reading, ReadingInterval
from core.periods import to_ms
from core.series import Series
from core.wire import Reading as Wire
from core.wire import encode, topic_for
from ingest.store import Message, store_batch

ZONE = ZoneInfo("America/Sao_Paulo")
T0 = to_ms(datetime(2024, 3, 9, 22, tzinfo=ZONE))
S = 1000


def stream(seconds: int, every: int = 5, seed: int = 1) -> list[tuple[int, int]]:
    """`(ts, wh)` of a meter every `every` s, with a 40-minute silence and a register reset."""
    rng, wh, found = random.Random(seed), 5_000, []
    for step in range(0, seconds, every):
        if 3_000 <= step < 5_400:
            continue  # silent for 40 minutes
        wh = rng.randint(0, 40) if step == 7_200 else wh + rng.randint(0, 12)  # reset to zero at 2 h
        found.append((T0 + step * S + rng.randint(0, 900), wh))
    return found


def store(db, settings, readings, meter=7, batch=400):
    for first in range(0, len(readings), batch):
        chunk = readings[first:first + batch]
        received = max(ts for ts, _ in chunk) + 1_000
        messages = [Message(topic_for(meter), encode(Wire(meter, ts, wh)), received) for ts, wh in chunk]
        with db.begin() as session:
            store_batch(session, messages, settings, received)


def rollup_rows(session, meter=7):
    rows = session.scalars(select(ReadingInterval).where(ReadingInterval.meter_id == meter).order_by(ReadingInterval.start))
    return [(r.meter_id, r.start, r.readings, r.first_ts, r.first_wh, r.last_ts, r.last_wh) for r in rows]


def expected(session, meter=7):
    stored = session.execute(select(Reading.meter_id, Reading.ts, Reading.wh).where(Reading.meter_id == meter)).all()
    return [tuple(row.values()) for row in rollups.summarize(stored)]


def test_a_bucket_counts_its_readings_and_keeps_its_first_and_last():
    quarter = rollups.BUCKET_MS
    rows = rollups.summarize([(7, quarter + 600_000, 12), (7, quarter, 10), (7, quarter + 5_000, 11), (7, 2 * quarter, 13), (8, 0, 1)])
    assert rows == [
        {"meter_id": 7, "start": quarter, "readings": 3, "first_ts": quarter, "first_wh": 10, "last_ts": quarter + 600_000, "last_wh": 12},
        {"meter_id": 7, "start": 2 * quarter, "readings": 1, "first_ts": 2 * quarter, "first_wh": 13, "last_ts": 2 * quarter, "last_wh": 13},
        {"meter_id": 8, "start": 0, "readings": 1, "first_ts": 0, "first_wh": 1, "last_ts": 0, "last_wh": 1},
    ]


def test_the_rollup_matches_the_readings_in_order_shuffled_and_redelivered(db, settings):
    readings = stream(4 * 3600)
    late = readings[100:2000:7]
    in_order = [pair for pair in readings if pair not in set(late)]
    store(db, settings, in_order)
    store(db, settings, late + readings[:500])  # late ones fill buckets from both sides; the rest are copies
    shuffled = stream(2 * 3600, every=7, seed=2)
    random.Random(3).shuffle(shuffled)
    store(db, settings, shuffled, meter=8, batch=97)
    with db() as session:
        assert rollup_rows(session) == expected(session)
        assert sum(row[2] for row in rollup_rows(session)) == len(readings)
        assert rollup_rows(session, 8) == expected(session, 8)


def test_the_hours_of_a_day_from_the_rollup_are_those_of_the_raw_readings(db, settings):
    store(db, settings, stream(26 * 3600, every=5))
    day = to_ms(datetime(2024, 3, 10, tzinfo=ZONE))
    with db() as session:
        series = Series(session, 7)
        found = {}
        for start, end in ((day, day + 24 * 3600 * S), (T0 - 3600 * S, T0 + 4 * 3600 * S)):
            found[start] = intervals(hour_bounds(start, end), series.points(start, end))
            assert day_hours(series, start, end) == found[start]
    assert sum(hour.readings for hour in found[day]) == 24 * 720
    assert [hour.estimated for hour in found[T0 - 3600 * S]] == [False, True, True, False, False]  # silent 22:50-23:30


def test_the_migration_builds_the_rollup_of_readings_already_stored(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    readings = stream(3600, every=5)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "i4_alerts")
        connection.execute(insert(Reading), [{"meter_id": 7, "ts": ts, "wh": wh} for ts, wh in readings])
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with engine.connect() as connection:
        built = connection.execute(select(ReadingInterval.__table__).order_by(ReadingInterval.start)).all()
    engine.dispose()
    assert [tuple(row) for row in built] == [tuple(row.values()) for row in rollups.summarize((7, ts, wh) for ts, wh in readings)]


def test_deleting_a_customer_deletes_its_rollup(db, settings):
    with db.begin() as session:
        register(session, 7, "Ana", "Rua A", settings, T0)
    store(db, settings, stream(1800))
    with db.begin() as session:
        assert rollup_rows(session)
        delete_customer(session, 7)
    with db() as session:
        assert rollup_rows(session) == []


def test_on_grid_instants_are_quarter_hours_of_every_zone():
    for zone in ("America/Sao_Paulo", "Asia/Kathmandu", "Australia/Adelaide", "America/St_Johns"):
        midnight = to_ms(datetime(2024, 6, 1, tzinfo=ZoneInfo(zone)))
        assert rollups.on_grid(midnight) and rollups.on_grid(midnight + int(timedelta(hours=5).total_seconds() * S))
    assert not rollups.on_grid(T0 + 60 * S)
