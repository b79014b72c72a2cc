"""Local days, billing cycles and ISO-8601 times in the configured zone (SPEC §6). Pure functions."""

from __future__ import annotations

import calendar
import time
import functools
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple
from zoneinfo import ZoneInfo

UTC = timezone.utc
MS_PER_DAY = 86_400_000


class Cycle(NamedTuple):
    """A bill's month: the cycle `[closing day of mes-1, closing day of mes)`."""

    ano: int
    mes: int

    def next(self) -> "Cycle":
        """The cycle after this one."""
        return Cycle(self.ano + self.mes // 12, self.mes % 12 + 1)

    def previous(self) -> "Cycle":
        """The cycle before this one."""
        return Cycle(self.ano - (self.mes == 1), (self.mes - 2) % 12 + 1)

    def label(self) -> str:
        """`YYYY-MM`, the cause key of this cycle's alerts."""
        return f"{self.ano:04d}-{self.mes:02d}"


def now_ms() -> int:
    """The wall clock in milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime, exactly."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ts_ms: int, zone: ZoneInfo) -> datetime:
    """The local time of an instant."""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)).astimezone(zone)


def iso(ts_ms: int, zone: ZoneInfo) -> str:
    """ISO-8601 with the zone's offset; milliseconds only when the instant has them."""
    spec = "milliseconds" if ts_ms % 1000 else "seconds"
    return from_ms(ts_ms, zone).isoformat(timespec=spec)


def local_date(ts_ms: int, zone: ZoneInfo) -> date:
    """The local calendar day of an instant."""
    return from_ms(ts_ms, zone).date()


def day_start(day: date, zone: ZoneInfo) -> int:
    """The first instant of a local day: midnight, or the end of a DST gap that swallows it."""
    return wall_instant(day, 0, zone)


@functools.lru_cache(maxsize=4096)  # every meter of a neighbourhood asks for the same days
def wall_instant(day: date, minute: int, zone: ZoneInfo) -> int:
    """The first instant whose local wall time is at least `minute` minutes past `day`'s midnight.

    An ambiguous wall time (DST ends) is its first occurrence; one inside a DST gap becomes the
    end of the gap. `minute` may be 1440: the start of the next day.
    """
    naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
    early = to_ms(naive.replace(tzinfo=zone, fold=1))
    late = to_ms(naive.replace(tzinfo=zone, fold=0))
    low, high = min(early, late), max(early, late)
    if _wall(low, zone) >= naive:
        return low
    while high - low > 1:  # only inside a gap: the first millisecond already at or past `naive`
        middle = (low + high) // 2
        if _wall(middle, zone) >= naive:
            high = middle
        else:
            low = middle
    return high


def _wall(ts_ms: int, zone: ZoneInfo) -> datetime:
    """The naive local wall time of an instant."""
    return from_ms(ts_ms, zone).replace(tzinfo=None)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[int, int]:
    """`[start, end)` of a local day in milliseconds."""
    return day_start(day, zone), day_start(day + timedelta(days=1), zone)


def closing_date(ano: int, mes: int, closing_day: int) -> date:
    """The closing day of a month, clamped to the month's last day."""
    return date(ano, mes, min(closing_day, calendar.monthrange(ano, mes)[1]))


@functools.lru_cache(maxsize=4096)  # settling a neighbourhood asks for the same few cycles over and over
def cycle_bounds(cycle: Cycle, closing_day: int, zone: ZoneInfo) -> tuple[int, int]:
    """`[start, end)` of the cycle billed in `cycle.mes`, in milliseconds."""
    before = cycle.previous()
    start = day_start(closing_date(before.ano, before.mes, closing_day), zone)
    end = day_start(closing_date(cycle.ano, cycle.mes, closing_day), zone)
    return start, end


def cycle_of(ts_ms: int, closing_day: int, zone: ZoneInfo) -> Cycle:
    """The cycle whose bill holds the instant `ts_ms`."""
    here = local_date(ts_ms, zone)
    cycle = Cycle(here.year, here.month)
    _, end = cycle_bounds(cycle, closing_day, zone)
    return cycle if ts_ms < end else cycle.next()


def cycles_between(first: Cycle, last: Cycle) -> list[Cycle]:
    """Every cycle from `first` to `last`, both included."""
    cycles = []
    cycle = first
    while cycle <= last:
        cycles.append(cycle)
        cycle = cycle.next()
    return cycles
