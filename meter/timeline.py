"""Simulated time: durations and instants from the command line, and a history replayed before going live.

`--since 90d` starts each meter's clock 90 days ago; the meter then publishes a reading every
`--history-step` (15 minutes by default) of simulated time, `--speed` times faster than real
time or as fast as the broker acknowledges, until its clock reaches now; from then on it reads
every `--interval` seconds of real time. A 5-second history would be 1.5 million readings per
meter for 90 days: the coarser step keeps it to 8,640, and bills, which interpolate the
register between readings, come out the same.

A meter whose state file is newer than `--since` continues from its state: its history resumes
at the first step after the stored reading, so a restarted history run never publishes a time
it has already published and its register never goes back. A state file older than `--since`
is kept too (the register continues from the stored value), but the days between are not
invented: history starts at `--since`.

Pure functions over integers (milliseconds since the epoch); no clock is read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.periods import to_ms

UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
DEFAULT_STEP_MS = 15 * UNITS_MS["m"]


def parse_duration(text: str) -> int:
    """Milliseconds in "90d", "1h30m", "2.5s" (units ms, s, m, h, d, w); `ValueError` otherwise."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or _PART.sub("", compact):
        raise ValueError(f"{text!r} is not a duration such as 90d, 36h, 15m or 1h30m")
    total = sum(float(number) * UNITS_MS[unit] for number, unit in _PART.findall(compact))
    return round(total)


def parse_instant(text: str, zone: ZoneInfo) -> int:
    """An ISO-8601 date or date and time (local to `zone` without an offset), in ms; `ValueError` otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (90d) nor an ISO date (2026-08-01T06:00)") from None
    if len(text.strip()) == 10:  # a plain date: its local midnight
        day = date.fromisoformat(text.strip())
        moment = datetime(day.year, day.month, day.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return to_ms(moment)


def parse_since(text: str, zone: ZoneInfo, now_ms: int) -> int:
    """The start of the history: a duration before `now_ms` ("90d") or an ISO date or time."""
    try:
        return now_ms - parse_duration(text)
    except ValueError:
        return parse_instant(text, zone)


def parse_speed(text: str) -> float | None:
    """`--speed`: "max" (None: as fast as the broker acknowledges) or a factor above 1 such as 20000."""
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither max nor a number such as 20000") from None
    if not 1 <= value < float("inf"):
        raise ValueError(f"the speed must be max or at least 1 (real time), not {text!r}")
    return value


@dataclass(frozen=True)
class History:
    """A history to replay: from `since_ms`, a reading every `step_ms`, at `speed` (None: as fast as acknowledged)."""

    since_ms: int
    step_ms: int = DEFAULT_STEP_MS
    speed: float | None = None

    @property
    def origin_ms(self) -> int:
        """The first step at or after `since_ms`: where the replay's timeline starts."""
        return _align_up(self.since_ms, self.step_ms)

    def first_ts(self, stored_ts_ms: int) -> int:
        """The first history reading of a meter whose state file holds a reading at `stored_ts_ms` (0: none)."""
        if stored_ts_ms <= 0:
            return self.origin_ms
        return max(self.origin_ms, stored_ts_ms - stored_ts_ms % self.step_ms + self.step_ms)

    def real_offset_s(self, ts_ms: int) -> float:
        """Seconds after the replay's start at which the reading at `ts_ms` is due (0 at max speed)."""
        if self.speed is None:
            return 0.0
        return (ts_ms - self.origin_ms) / 1000 / self.speed


def _align_up(ms: int, step_ms: int) -> int:
    """The first multiple of `step_ms` at or after `ms` (steps are aligned on the epoch, so 15 min and 1 h
    steps fall on local quarter hours in every whole-hour zone)."""
    return -(-ms // step_ms) * step_ms
