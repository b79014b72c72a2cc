"""Reading times as `core.periods.iso` writes them, fast enough for pages of thousands (SPEC §5).

A page of a 5-second meter's day holds 1,000 readings; a `datetime` for each one was the largest
cost of the whole request. tzdata never changes a zone's offset twice within six days, so when
the offset is the same at both ends of a UTC day it is the same all through, and a local time
of that day is the UTC time plus the offset: integer arithmetic, with the text of each minute
built once. Where the offset changes within the UTC day, each reading gets its own `datetime`.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Iterable
from zoneinfo import ZoneInfo

DAY_S = 86_400
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
SECONDS = [f"{second:02d}" for second in range(60)]
CLOCKS = [f"T{minute // 60:02d}:{minute % 60:02d}:" for minute in range(1440)]  # per minute of the day


def iso_times(stamps: Iterable[int], zone: ZoneInfo) -> list[str]:
    """`core.periods.iso` of each instant (ms since the epoch), in order."""
    offsets: dict[int, tuple[int, str] | None] = {}  # per UTC day: the steady offset and its text
    minutes: dict[int, str] = {}  # per local minute since the epoch: "YYYY-MM-DDTHH:MM:"
    found = []
    for ts in stamps:
        seconds, millis = divmod(ts, 1000)
        day = seconds // DAY_S
        if day not in offsets:
            offsets[day] = _steady_offset(day * DAY_S, zone)
        steady = offsets[day]
        if steady is None:
            found.append(iso_time(ts, zone))
            continue
        offset, suffix = steady
        minute, second = divmod(seconds + offset, 60)
        if minute not in minutes:
            minutes[minute] = _minute_text(minute)
        fraction = f".{millis:03d}" if millis else ""
        found.append(minutes[minute] + SECONDS[second] + fraction + suffix)
    return found


def iso_time(ts_ms: int, zone: ZoneInfo) -> str:
    """`core.periods.iso` of one instant, without its Decimal steps."""
    seconds, millis = divmod(ts_ms, 1000)
    local = datetime.fromtimestamp(seconds, zone)
    if millis:
        return local.replace(microsecond=millis * 1000).isoformat(timespec="milliseconds")
    return local.isoformat()


def _steady_offset(start: int, zone: ZoneInfo) -> tuple[int, str] | None:
    """The offset (s) in force through the UTC day from `start` (s), and its ISO text; None if it changes."""
    try:
        first = datetime.fromtimestamp(start, zone)
        last = datetime.fromtimestamp(start + DAY_S - 1, zone)
    except (OverflowError, OSError, ValueError):  # near the ends of datetime's range: one by one
        return None
    offset = first.utcoffset()
    if offset is None or offset != last.utcoffset():
        return None
    return int(offset.total_seconds()), first.isoformat()[len("YYYY-MM-DDTHH:MM:SS"):]


def _minute_text(minute: int) -> str:
    """`YYYY-MM-DDTHH:MM:` of a local minute, counted from the local epoch."""
    day, minute_of_day = divmod(minute, 1440)
    return _day_text(day) + CLOCKS[minute_of_day]


@functools.lru_cache(maxsize=64)
def _day_text(day: int) -> str:
    """`YYYY-MM-DD` of a local day, counted from the local epoch."""
    return date.fromordinal(EPOCH_ORDINAL + day).isoformat()
