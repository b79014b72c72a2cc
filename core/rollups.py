"""Readings summed per meter and 15-minute bucket: the interval data that outlives raw readings.

Each row (`core.models.ReadingInterval`) holds how many readings a bucket received and its first
and last reading. That is enough to answer everything on the 15-minute grid exactly as the raw
readings would: the register at a grid instant is interpolated between the last reading before
it and the first after it, and those are always a bucket's last and the next bucket's first;
two consecutive readings more than 15 minutes apart (a gap) are always such a pair too. Every
local hour, day and billing cycle starts on the grid (time zones are offset from UTC by whole
quarter hours), so the hours of a day are read from at most 100 rows, whatever the reading rate.

The ingest worker records each batch's readings here in the same transaction as the readings.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import Insert, bindparam, case, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.models import ReadingInterval

BUCKET_MS = 15 * 60_000


def bucket_of(ts: int) -> int:
    """The start of the 15-minute bucket holding an instant."""
    return ts - ts % BUCKET_MS


def on_grid(instant: int) -> bool:
    """Whether an instant is a bucket boundary."""
    return instant % BUCKET_MS == 0


def summarize(rows: Iterable[tuple[int, int, int]]) -> list[dict]:
    """The rollup rows of some `(meter_id, ts, wh)` readings: one per meter and bucket they touch."""
    found: dict[tuple[int, int], dict] = {}
    for meter_id, ts, wh in rows:
        key = (meter_id, bucket_of(ts))
        row = found.get(key)
        if row is None:
            found[key] = {"meter_id": meter_id, "start": key[1], "readings": 1,
                          "first_ts": ts, "first_wh": wh, "last_ts": ts, "last_wh": wh}
            continue
        row["readings"] += 1
        if ts < row["first_ts"]:
            row["first_ts"], row["first_wh"] = ts, wh
        if ts > row["last_ts"]:
            row["last_ts"], row["last_wh"] = ts, wh
    return [found[key] for key in sorted(found)]


def record(session: Session, rows: Iterable[tuple[int, int, int]]) -> None:
    """Add newly stored `(meter_id, ts, wh)` readings (none stored before) to their buckets."""
    summary = summarize(rows)
    if summary:
        session.execute(_upsert(session.get_bind().dialect.name), summary)


@functools.lru_cache(maxsize=4)
def _upsert(dialect: str) -> Insert:
    """INSERT ... ON CONFLICT that widens an existing bucket (the same form on both engines)."""
    table = ReadingInterval.__table__
    statement = (sqlite_insert if dialect == "sqlite" else pg_insert)(table)
    new, old = statement.excluded, table.c
    earlier, later = new.first_ts < old.first_ts, new.last_ts > old.last_ts
    return statement.on_conflict_do_update(
        index_elements=[old.meter_id, old.start],
        set_={
            "readings": old.readings + new.readings,
            "first_ts": case((earlier, new.first_ts), else_=old.first_ts),
            "first_wh": case((earlier, new.first_wh), else_=old.first_wh),
            "last_ts": case((later, new.last_ts), else_=old.last_ts),
            "last_wh": case((later, new.last_wh), else_=old.last_wh),
        },
    )


_INTERVALS = ReadingInterval.__table__.c
_RECEIVED = select(func.coalesce(func.sum(_INTERVALS.readings), 0)).where(
    _INTERVALS.meter_id == bindparam("meter"), _INTERVALS.start >= bindparam("start"), _INTERVALS.start < bindparam("end"))


def received(session: Session, meter_id: int, start: int, end: int) -> int:
    """How many readings the buckets of `[start, end)` (both on the grid) received: one indexed sum."""
    return session.scalar(_RECEIVED, {"meter": meter_id, "start": start, "end": end})


@dataclass(frozen=True)
class Edges:
    """What the rollup says of `[start, end)`: the readings that bound its buckets, and their counts.

    `readings` are `(ts, raw Wh)` in time order: the first and last of every bucket inside, with
    the last reading before `start` and the first at or after `end` when there are such.
    `counts` maps each bucket start inside to the readings it received.
    """

    readings: list[tuple[int, int]]
    counts: dict[int, int]

    def received(self, start: int, end: int) -> int:
        """How many readings arrived in `[start, end)`, both on the grid."""
        return sum(count for bucket, count in self.counts.items() if start <= bucket < end)


def edges(session: Session, meter_id: int, start: int, end: int) -> Edges:
    """The rollup of `[start, end)` (both on the grid) with its neighbours: three indexed reads."""
    table = ReadingInterval
    mine = table.meter_id == meter_id
    inside = session.execute(
        select(table.start, table.readings, table.first_ts, table.first_wh, table.last_ts, table.last_wh)
        .where(mine, table.start >= start, table.start < end)
        .order_by(table.start)
    ).all()
    before = session.execute(
        select(table.last_ts, table.last_wh).where(mine, table.start < start).order_by(table.start.desc()).limit(1)
    ).first()
    after = session.execute(
        select(table.first_ts, table.first_wh).where(mine, table.start >= end).order_by(table.start).limit(1)
    ).first()
    readings: list[tuple[int, int]] = [tuple(before)] if before else []
    for _, _, first_ts, first_wh, last_ts, last_wh in inside:
        readings.append((first_ts, first_wh))
        if last_ts != first_ts:
            readings.append((last_ts, last_wh))
    if after:
        readings.append(tuple(after))
    return Edges(readings, {row.start: row.readings for row in inside})

