"""A year of household readings in a SQLite file, built fast and cached, for the API benchmark.

    from bench.dataset import Plan, ensure
    info = ensure(Plan(coarse=1000, days=365), Path("/tmp/energia-api-bench"))

One customer (id 1) reports every 5 s; `coarse` customers (ids 2 ...) every 15 minutes, each at
its own second of the quarter hour. Consumption follows a household's day (base load, morning,
the evening electric shower and TV), a southern-hemisphere season (more in January), weekends
and day-to-day noise, scaled per household.

Readings, meter states and, when the migrated schema has it, the `reading_intervals` rollup are
inserted in key order with sqlite3 (the schema's own tables, migrated by the real code); then
every customer is registered through `core.customers.register`, the API's own path, which
settles the year: a closed, frozen bill per cycle and the alert rules, as in production. Only
the token is then replaced by a known one (`token_for`), so the clients can authenticate.

The file is cached by a hash of the plan in the folder given: a second run reuses it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import sqlite3
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import inspect

from bench.common import sqlite_value
from core.config import Settings
from core.customers import register
from core.db import make_engine, make_sessionmaker, migrate
from core.periods import to_ms
from core.tokens import hash_token

TIMEZONE = "America/Sao_Paulo"
ZONE = ZoneInfo(TIMEZONE)
FIRST_DAY = date(2025, 1, 1)
FINE_METER = 1
FINE_STEP_MS = 5_000
COARSE_STEP_MS = 900_000
BUCKET_MS = 900_000  # reading_intervals: one row per meter and 15-minute bucket
ROLLUP = "reading_intervals"
VERSION = 1  # bump when the generated data changes, so caches are rebuilt
# Wh per quarter hour of a day: base load, morning, the evening electric shower and TV.
DAY = [25] * 24 + [40] * 4 + [90] * 8 + [45] * 32 + [130] * 4 + [190] * 12 + [80] * 8 + [35] * 4
INSERT_EVERY = 50  # meters per bulk transaction
REGISTER_EVERY = 50  # customers per registration transaction


@dataclass(frozen=True)
class Plan:
    """What to build: the 15-minute customers and the days of readings from 2025-01-01."""

    coarse: int = 1000
    days: int = 365
    seed: int = 2025

    def key(self) -> str:
        """A short hash naming the cached file."""
        text = json.dumps({**asdict(self), "version": VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def start(self) -> int:
        """The first local midnight, in ms."""
        return to_ms(datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=ZONE))

    @property
    def end(self) -> int:
        """The local midnight after the last day, in ms."""
        last = FIRST_DAY + timedelta(days=self.days)
        return to_ms(datetime(last.year, last.month, last.day, tzinfo=ZONE))

    def customers(self) -> list[int]:
        """Every customer id: the 5-second one first."""
        return [FINE_METER, *range(2, self.coarse + 2)]


@dataclass(frozen=True)
class Built:
    """A ready database file and how it came to be."""

    path: Path
    plan: Plan
    readings: int
    seconds: float  # set-up time; 0 when reused from the cache
    reused: bool
    rollup: bool  # the reading_intervals table exists and was filled


def settings_for(path: Path, data_dir: Path) -> Settings:
    """The settings the data was billed with (the SPEC's flat tariff, closing day 10)."""
    return Settings(db_url=f"sqlite:///{path}", timezone=TIMEZONE, data_dir=data_dir)


def token_for(customer_id: int) -> str:
    """The known bearer token of a generated customer."""
    return f"bench-token-{customer_id}"


def ensure(plan: Plan, folder: Path, log=print) -> Built:
    """The database of `plan` in `folder`: reused when a complete one is there, else built."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"api-{plan.key()}.db"
    marker = path.with_suffix(".json")
    if path.exists() and marker.exists():
        done = json.loads(marker.read_text())
        # A cache from an older schema is migrated here, not by the API under the start-up wait
        # (adding the rollup to 41 M readings takes a minute or two).
        started = time.perf_counter()
        engine = make_engine(settings_for(path, folder / "data").db_url, immediate=True)
        migrate(engine)
        rollup = inspect(engine).has_table(ROLLUP)
        engine.dispose()
        if time.perf_counter() - started > 1:
            log(f"  cached data migrated to the current schema in {time.perf_counter() - started:.0f} s")
        return Built(path, plan, done["readings"], 0.0, True, rollup)
    for leftover in folder.glob(path.name + "*"):
        leftover.unlink()
    marker.unlink(missing_ok=True)
    started = time.perf_counter()
    settings = settings_for(path, folder / "data")
    engine = make_engine(settings.db_url, immediate=True)
    migrate(engine)
    rollup = inspect(engine).has_table(ROLLUP)
    engine.dispose()
    readings = bulk_insert(path, plan, rollup, log)
    log(f"  readings inserted: {readings:,} in {time.perf_counter() - started:.0f} s; registering and settling")
    register_all(settings, plan)
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps({"plan": asdict(plan), "readings": readings, "rollup": rollup, "seconds": seconds}))
    return Built(path, plan, readings, seconds, False, rollup)


def bulk_insert(path: Path, plan: Plan, rollup: bool, log=print) -> int:
    """Readings, meter states and rollup rows of every meter, in key order; the count of readings."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = DELETE")  # a year in one WAL would be as big as the file
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA cache_size = -262144")
    rng = random.Random(plan.seed)
    days = day_factors(plan, rng)
    total = 0
    meters = plan.customers()
    for first in range(0, len(meters), INSERT_EVERY):
        connection.execute("BEGIN")
        for meter in meters[first:first + INSERT_EVERY]:
            rows = fine_readings(plan, days, rng) if meter == FINE_METER else coarse_readings(plan, days, rng)
            total += insert_meter(connection, meter, rows, rollup)
        connection.execute("COMMIT")
        if first and first % 200 == 0:
            log(f"  {first + INSERT_EVERY} of {len(meters)} meters, {total:,} readings")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.close()
    return total


def day_factors(plan: Plan, rng: random.Random) -> list[float]:
    """How much more or less than usual the whole town uses on each day (season, weekends)."""
    factors = []
    for offset in range(plan.days):
        day = FIRST_DAY + timedelta(days=offset)
        season = 1 + 0.25 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 20) / 365)
        weekend = 1.12 if day.weekday() >= 5 else 1.0
        factors.append(season * weekend * rng.uniform(0.9, 1.1))
    return factors


def coarse_readings(plan: Plan, days: list[float], rng: random.Random) -> list[tuple[int, int]]:
    """`(ts, Wh)` of a 15-minute meter: one reading per quarter hour at the meter's own second."""
    scale = rng.uniform(0.5, 1.8)
    phase = rng.randrange(0, COARSE_STEP_MS // 1000) * 1000
    noise = [rng.uniform(0.6, 1.4) for _ in range(997)]
    count = (plan.end - plan.start) // COARSE_STEP_MS
    steps = (round(DAY[slot % 96] * scale * days[slot // 96] * noise[slot % 997]) for slot in range(count))
    registers = itertools.accumulate(steps, initial=rng.randrange(1_000_000, 50_000_000))
    times = range(plan.start + phase, plan.start + phase + count * COARSE_STEP_MS, COARSE_STEP_MS)
    return list(zip(times, registers))


def fine_readings(plan: Plan, days: list[float], rng: random.Random) -> list[tuple[int, int]]:
    """`(ts, Wh)` of the 5-second meter: the register rises by the power of each quarter hour."""
    per_slot = COARSE_STEP_MS // FINE_STEP_MS
    scale = rng.uniform(0.8, 1.4)
    rows: list[tuple[int, int]] = []
    energy = float(rng.randrange(1_000_000, 5_000_000))
    ts = plan.start
    for slot in range((plan.end - plan.start) // COARSE_STEP_MS):
        step = DAY[slot % 96] * scale * days[slot // 96] * rng.uniform(0.6, 1.4) / per_slot
        for _ in range(per_slot):
            rows.append((ts, int(energy)))
            energy += step
            ts += FINE_STEP_MS
    return rows


def insert_meter(connection: sqlite3.Connection, meter: int, rows: list[tuple[int, int]], rollup: bool) -> int:
    """One meter's readings, its meter state and its rollup rows; how many readings."""
    connection.executemany("INSERT INTO readings (meter_id, ts, wh) VALUES (?, ?, ?)",
                           ((meter, ts, wh) for ts, wh in rows))
    (first_ts, first_wh), (last_ts, last_wh) = rows[0], rows[-1]
    connection.execute(
        "INSERT INTO meter_state (meter_id, first_ts, first_wh, last_ts, last_wh, adjust_wh, readings, registered) "
        "VALUES (?, ?, ?, ?, ?, 0, ?, 0)", (meter, first_ts, first_wh, last_ts, last_wh, len(rows)))
    if rollup:
        connection.executemany(
            f"INSERT INTO {ROLLUP} (meter_id, start, readings, first_ts, first_wh, last_ts, last_wh) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", ((meter, *bucket) for bucket in buckets(rows)))
    return len(rows)


def buckets(rows: list[tuple[int, int]]) -> Iterator[tuple[int, int, int, int, int, int]]:
    """`(start, readings, first_ts, first_wh, last_ts, last_wh)` of each 15-minute bucket with readings."""
    for start, group in itertools.groupby(rows, key=lambda row: row[0] - row[0] % BUCKET_MS):
        members = list(group)
        (first_ts, first_wh), (last_ts, last_wh) = members[0], members[-1]
        yield start, len(members), first_ts, first_wh, last_ts, last_wh


def register_all(settings: Settings, plan: Plan) -> None:
    """Register every customer through the API's own path (which settles the year), known tokens."""
    engine = make_engine(settings.db_url, immediate=True)
    sessions = make_sessionmaker(engine)
    registered_at = plan.end + 60_000
    customers = plan.customers()
    for first in range(0, len(customers), REGISTER_EVERY):
        with sessions.begin() as session:
            for customer_id in customers[first:first + REGISTER_EVERY]:
                customer, _ = register(session, customer_id, f"Cliente {customer_id}", f"Rua {customer_id}, 100",
                                       settings, registered_at)
                customer.token_hash = hash_token(token_for(customer_id))
    engine.dispose()
    connection = sqlite3.connect(settings.db_url.removeprefix("sqlite:///"))
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def bill_count(path: Path) -> int:
    """How many frozen bills the file holds."""
    return sqlite_value(path, "SELECT count(*) FROM bills")

