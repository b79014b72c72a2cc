"""Bytes per stored raw reading in SQLite, and the size of a day of 10,000 meters every 5 s.

    .venv/bin/python bench/storage.py [--meters 10000] [--hours 24] [--batch 1000] [--dir /tmp/energia-storage]
    .venv/bin/python bench/storage.py --meters 1000 --hours 2      # a quick run (extrapolated, and says so)

Each meter sends one reading every 5 s at its own phase, its register rising like a household's.
The same readings are stored twice, in fresh files with the real migrated schema:
- arrival order, as the ingest worker writes them: time-major (each tick brings about one
  reading per meter), cut into batches of --batch readings (at live load a worker's batch is what
  arrived in the 50 ms after its first message and during the commit before, some hundreds at
  2,000/s; INGEST_BATCH_SIZE, 10,000 by default, caps a backlog's), each batch sorted by key
  and inserted in one transaction (`ingest.store.store_batch` sorts by meter, then time);
  when the schema has the `reading_intervals` rollup, each batch also upserts its rows there, as
  the worker does;
- key order (meter-major), as a bulk load or a rebuild writes them.
For each, the `dbstat` virtual table gives the pages of the readings table and of every index on
it, and the fill of its leaf pages (B-tree page fill depends on insertion order). Then the
arrival-order file is compacted with `VACUUM INTO` and measured again, to show what a periodic
compaction buys. When --meters or --hours is below a full day of 10,000 meters, the day size is
extrapolated from the bytes per reading, and labelled so.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import sqlite_value  # noqa: E402
from core.db import make_engine, migrate  # noqa: E402

STEP_MS = 5_000
BUCKET_MS = 900_000
START_MS = 1_735_700_400_000  # 2025-01-01 00:00 in São Paulo
FULL_METERS, FULL_HOURS = 10_000, 24
TARGET_BYTES = 30
ROLLUP = "reading_intervals"
# Wh per hour of a household's day, to shape the register's climb (only its byte width matters).
HOURLY_WH = [250, 220, 200, 200, 210, 260, 420, 520, 430, 380, 360, 370, 400, 380, 360, 380, 450, 640, 900, 880,
             720, 560, 420, 300]


@dataclass(frozen=True)
class Measure:
    """Where the bytes of one file went."""

    readings: int
    table_bytes: int  # the readings table and its indexes
    leaf_fill: float  # used share of the readings table's leaf pages (cells and their pointers)
    rollup_bytes: int
    file_bytes: int
    seconds: float

    @property
    def per_reading(self) -> float:
        return self.table_bytes / self.readings


def main() -> int:
    """Store the readings in both orders, measure, compact, print."""
    args = parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    total = args.meters * args.hours * 3600_000 // STEP_MS
    full = FULL_METERS * FULL_HOURS * 3600_000 // STEP_MS
    print(f"{args.meters:,} meters every 5 s for {args.hours} h: {total:,} readings; batches of {args.batch:,}", flush=True)

    arrival = args.dir / "arrival.db"
    found = store(arrival, arrival_batches(args.meters, args.hours, args.batch), total)
    show("arrival order (time-major batches, as the worker)", found)
    keyed = args.dir / "key-order.db"
    sorted_found = store(keyed, key_order_batches(args.meters, args.hours), total)
    show("key order (meter-major, bulk load)", sorted_found)
    compacted = args.dir / "compacted.db"
    compacted.unlink(missing_ok=True)
    started = time.perf_counter()
    connection = sqlite3.connect(arrival)
    connection.execute("VACUUM INTO ?", (str(compacted),))
    connection.close()
    vacuumed = measure(compacted, total, time.perf_counter() - started)
    show("arrival order, then VACUUM INTO", vacuumed)

    print(f"target: at most {TARGET_BYTES} bytes per raw reading, indexes included: arrival order "
          f"{verdict(found)}, key order {verdict(sorted_found)}, compacted {verdict(vacuumed)}")
    for name, figures in (("arrival order", found), ("compacted", vacuumed)):
        readings_day = figures.per_reading * full
        rollup_day = figures.rollup_bytes / total * full
        label = "extrapolated from this run" if total < full else "measured"
        rollup_text = (f" + rollup {rollup_day / 2**30:.2f} GiB" if figures.rollup_bytes
                       else f" (no {ROLLUP} table in the schema)")
        print(f"a day of {FULL_METERS:,} meters every 5 s ({full / 1e6:.1f} M readings), {name}: readings "
              f"{readings_day / 2**30:.2f} GiB{rollup_text} ({label})")
    if total >= full:
        print(f"file after the simulated day: {found.file_bytes / 2**30:.2f} GiB (arrival order)")
    print(f"SQLite {sqlite3.sqlite_version}, page size {sqlite_value(arrival, 'PRAGMA page_size')} bytes")
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)
    return 0


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meters", type=int, default=FULL_METERS)
    parser.add_argument("--hours", type=int, default=FULL_HOURS)
    parser.add_argument("--batch", type=int, default=1000, help="readings per transaction (the worker's batches at live load; INGEST_BATCH_SIZE caps them)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/energia-storage"), help="where the files go")
    parser.add_argument("--keep", action="store_true", help="keep the files")
    return parser.parse_args()


def register(meter: int, tick: int, hour: int) -> int:
    """The register (Wh) of a meter at a tick: a base of millions plus the household's climb."""
    per_tick = HOURLY_WH[hour] * (0.5 + meter % 7 / 6) * STEP_MS / 3600_000
    return 1_000_000 + meter * 977 + int(tick * per_tick * 1.3)


def arrival_batches(meters: int, hours: int, batch: int) -> Iterator[list[tuple[int, int, int]]]:
    """Time-major readings cut into batches of `batch`, each sorted by key as the worker stores it."""
    order = sorted(range(1, meters + 1), key=lambda meter: meter * 337 % STEP_MS)
    pending: list[tuple[int, int, int]] = []
    for tick in range(hours * 3600_000 // STEP_MS):
        hour = (tick * STEP_MS // 3600_000) % 24
        for meter in order:
            pending.append((meter, START_MS + tick * STEP_MS + meter * 337 % STEP_MS, register(meter, tick, hour)))
            if len(pending) == batch:
                yield sorted(pending)
                pending = []
    if pending:
        yield sorted(pending)


def key_order_batches(meters: int, hours: int) -> Iterator[list[tuple[int, int, int]]]:
    """The same readings, meter by meter in time order."""
    ticks = hours * 3600_000 // STEP_MS
    for meter in range(1, meters + 1):
        phase = meter * 337 % STEP_MS
        yield [(meter, START_MS + tick * STEP_MS + phase, register(meter, tick, (tick * STEP_MS // 3600_000) % 24))
               for tick in range(ticks)]


def store(path: Path, batches: Iterator[list[tuple[int, int, int]]], total: int) -> Measure:
    """A fresh migrated file holding the readings, one transaction per batch; its measure."""
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    engine = make_engine(f"sqlite:///{path}", immediate=True)
    migrate(engine)
    engine.dispose()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = OFF")  # the disk's speed is not what is measured
    has_rollup = bool(connection.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (ROLLUP,)).fetchone())
    started, done = time.perf_counter(), 0
    for rows in batches:
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO readings (meter_id, ts, wh) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", rows)
        if has_rollup:
            upsert_rollup(connection, rows)
        connection.execute("COMMIT")
        done += len(rows)
        if done % 2_000_000 < len(rows):
            print(f"  {path.name}: {done:,} of {total:,} readings, {done / (time.perf_counter() - started):,.0f}/s",
                  flush=True)
    elapsed = time.perf_counter() - started
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return measure(path, total, elapsed)


def upsert_rollup(connection: sqlite3.Connection, rows: list[tuple[int, int, int]]) -> None:
    """The 15-minute buckets of some key-ordered readings: new rows, or first/last and count updated."""
    buckets: dict[tuple[int, int], list[int]] = {}
    for meter, ts, wh in rows:
        key = (meter, ts - ts % BUCKET_MS)
        found = buckets.get(key)
        if found is None:
            buckets[key] = [1, ts, wh, ts, wh]
        else:
            found[0] += 1
            found[3], found[4] = ts, wh
    connection.executemany(
        f"INSERT INTO {ROLLUP} (meter_id, start, readings, first_ts, first_wh, last_ts, last_wh) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (meter_id, start) DO UPDATE SET "
        "readings = readings + excluded.readings, last_ts = excluded.last_ts, last_wh = excluded.last_wh",
        [(*key, *values) for key, values in buckets.items()])


def measure(path: Path, readings: int, seconds: float) -> Measure:
    """Bytes of the readings table with its indexes, its leaf fill, the rollup's bytes, the file's."""
    connection = sqlite3.connect(path)
    names = [name for (name,) in connection.execute(
        "SELECT name FROM sqlite_master WHERE tbl_name = 'readings' AND type IN ('table', 'index')")]
    marks = ",".join("?" * len(names))
    table_bytes = connection.execute(f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({marks})", names).fetchone()[0]
    leaf_bytes, unused = connection.execute(
        "SELECT sum(pgsize), sum(unused) FROM dbstat WHERE name = 'readings' AND pagetype = 'leaf'"
    ).fetchone()
    rollup = connection.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?", (ROLLUP,)).fetchone()[0] or 0
    connection.close()
    return Measure(readings, table_bytes, 1 - unused / leaf_bytes, rollup, path.stat().st_size, seconds)


def show(name: str, found: Measure) -> None:
    """One result line."""
    rollup = f"; rollup {found.rollup_bytes / found.readings:.1f} bytes per reading" if found.rollup_bytes else ""
    print(f"{name}: {found.per_reading:.1f} bytes per reading (table and indexes {found.table_bytes / 2**20:.1f} MiB, "
          f"leaf pages {found.leaf_fill:.0%} full){rollup}; file {found.file_bytes / 2**20:.1f} MiB; "
          f"stored in {found.seconds:.1f} s ({found.readings / max(found.seconds, 1e-9):,.0f} readings/s)", flush=True)


def verdict(found: Measure) -> str:
    """`24.1 (met)` or `36.0 (missed by 6.0)`."""
    gap = found.per_reading - TARGET_BYTES
    return f"{found.per_reading:.1f} ({'met' if gap <= 0 else f'missed by {gap:.1f}'})"


if __name__ == "__main__":
    sys.exit(main())
