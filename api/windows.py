"""The instants a `data`/`horario` query covers, as `[start, end)` windows in ms. Pure functions.

A full date is one window. `DD/MM/` is that date in every year from the local year of the
customer's first reading to that of its latest one (years where the date does not exist, such
as 29/02 in a common year, are skipped); without readings there is no window at all.

A wall time (`horario`) is read in the configured zone with PEP 495 `fold=0`: a time repeated
when clocks go back means its first occurrence, and a time skipped when clocks go forward is
read with the offset in force just before the jump (so 00:30 in a gap from 00:00 to 01:00 is
the instant shown as 01:30 after it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from api.params import Clock, Day
from core.periods import MS_PER_DAY, day_bounds, day_start, local_date, to_ms

MIN_TS, MAX_TS = -(2**63), 2**63 - 1  # every reading lies in [MIN_TS, MAX_TS)


class Window(NamedTuple):
    """`[start, end)` in ms since the epoch."""

    start: int
    end: int


EVERYTHING = Window(MIN_TS, MAX_TS)


def dates(spec: Day, first_ts: int | None, last_ts: int | None, zone: ZoneInfo) -> list[date]:
    """The calendar days a `data` value names, in order."""
    if spec.year is not None:
        found = spec.on(spec.year)
        return [found] if found else []
    if first_ts is None or last_ts is None:
        return []
    first_year, last_year = local_date(first_ts, zone).year, local_date(last_ts, zone).year
    return [found for year in range(first_year, last_year + 1) if (found := spec.on(year))]


def day_windows(days: list[date], zone: ZoneInfo) -> list[Window]:
    """Each local day as a window (23 or 25 hours long on a DST change)."""
    return [Window(*_day_bounds(day, zone)) for day in days]


def clock_windows(days: list[date], wall: Clock, zone: ZoneInfo) -> list[Window]:
    """The second or minute `wall` on each day, as windows."""
    windows = []
    for day in days:
        moment = datetime(day.year, day.month, day.day, wall.hour, wall.minute, wall.second or 0, tzinfo=zone, fold=0)
        start = to_ms(moment)
        windows.append(Window(start, start + wall.span_ms))
    return windows


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[int, int]:
    if day == date.max:  # 9999-12-31 has no next day to start at
        start = day_start(day, zone)
        return start, start + MS_PER_DAY
    return day_bounds(day, zone)
