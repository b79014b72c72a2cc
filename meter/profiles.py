"""How much power a simulated home or shop draws at a given local time. Pure: no clock, no I/O.

A profile is anything with `power_w(moment, rng) -> float`: the mean power in watts around a
timezone-aware local `moment`, with noise drawn from `rng`. Premises are built by adding loads
(`Sum`) and wrapping them (`Presence` for who is home today, `meter.seasons.Seasonal` for the
time of year), so a new kind of consumer is a new load or a new factory in `meter.premises`,
not a change to the loads here.

Everything random that must look the same however often it is sampled (the day's shower times,
whether the family is away today) is drawn from a seed and the date, never from `rng`, so a
replayed history and a live run of the same meter see the same days.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

HOURS_PER_DAY = 24


class Profile(Protocol):
    """Mean power drawn around a local time; never negative."""

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """Watts drawn at `moment` (timezone-aware, local), with noise from `rng`."""
        ...


@dataclass(frozen=True)
class Constant:
    """Standby loads that are always on (router, chargers, clocks), with a little jitter."""

    watts: float
    jitter: float = 0.05

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """The constant load, jittered by a few percent."""
        return max(0.0, self.watts * rng.gauss(1.0, self.jitter))


@dataclass(frozen=True)
class Cycling:
    """A thermostat-driven appliance (a refrigerator's compressor): on for a fixed share of each cycle."""

    watts: float
    period_min: float
    duty: float
    phase_min: float = 0.0

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """Full power during the on part of the cycle, nothing otherwise."""
        minutes = moment.timestamp() / 60 + self.phase_min  # absolute time: DST does not skip a cycle
        return self.watts if minutes % self.period_min < self.duty * self.period_min else 0.0


@dataclass(frozen=True)
class DailyCurve:
    """Activity through the day (lights, TV, cooking, an open shop): watts at each hour, linear in between.

    `weekend` replaces `weekdays` on Saturdays and Sundays when given, and `sunday` replaces
    both on Sundays (a shop open on Saturday mornings and closed on Sundays).
    """

    weekdays: tuple[float, ...]
    weekend: tuple[float, ...] | None = None
    jitter: float = 0.25
    sunday: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for curve in (self.weekdays, self.weekend, self.sunday):
            if curve is not None and len(curve) != HOURS_PER_DAY:
                raise ValueError(f"a daily curve needs {HOURS_PER_DAY} hourly values, not {len(curve)}")

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """The curve's value at this time of day, with multiplicative noise."""
        curve = self.curve_of(moment.weekday())
        hour = moment.hour + moment.minute / 60 + moment.second / 3600
        low = int(hour)
        share = hour - low
        mean = curve[low] * (1 - share) + curve[(low + 1) % HOURS_PER_DAY] * share
        return max(0.0, mean * rng.gauss(1.0, self.jitter))

    def curve_of(self, weekday: int) -> tuple[float, ...]:
        """The hourly values of a day of the week (0 is Monday)."""
        if weekday == 6 and self.sunday is not None:
            return self.sunday
        if weekday >= 5 and self.weekend is not None:
            return self.weekend
        return self.weekdays


@dataclass(frozen=True)
class Window:
    """A part of the day in which a burst may start, and how likely it is on a given day."""

    start_h: float
    end_h: float
    chance: float


@dataclass(frozen=True)
class Bursts:
    """Short heavy loads at times that vary from day to day (an electric shower, an iron).

    Each day, each window holds at most one burst, at a time drawn from `seed` and the date, so a
    household showers at the same times however often it is sampled.
    """

    watts: float
    minutes: float
    windows: tuple[Window, ...]
    seed: int

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """Full power while a burst of this day is running."""
        hour = moment.hour + moment.minute / 60 + moment.second / 3600
        for start in _burst_starts(self.seed, moment.date().toordinal(), self.windows):
            if start <= hour < start + self.minutes / 60:
                return self.watts
        return 0.0


@dataclass(frozen=True)
class Sum:
    """Loads drawn together: the home is the sum of its appliances."""

    parts: tuple[Profile, ...]

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """The sum of the parts' power."""
        return sum(part.power_w(moment, rng) for part in self.parts)


@dataclass(frozen=True)
class Presence:
    """Who is in today: most days the usual routine, a little busier or quieter; some days nobody.

    Wraps the loads people switch on (lights, TV, the shower, air conditioning); the refrigerator
    and standby loads run whether anyone is home or not. The day's factor comes from `seed` and
    the date: 0 on a day away (a trip, a weekend at the family's), else around 1.
    """

    part: Profile
    seed: int
    away_chance: float = 0.03
    spread: float = 0.2

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """The wrapped loads, scaled by today's presence."""
        factor = _presence(self.seed, moment.date().toordinal(), self.away_chance, self.spread)
        return factor * self.part.power_w(moment, rng) if factor else 0.0


@dataclass(frozen=True)
class OnDays:
    """A load that runs only on some days of the week (0 is Monday): a shop's air conditioning."""

    part: Profile
    weekdays: tuple[int, ...]

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """The wrapped load on its days, nothing on the others."""
        return self.part.power_w(moment, rng) if moment.weekday() in self.weekdays else 0.0


@dataclass(frozen=True)
class During:
    """A load switched on between two instants, whatever the time of day: `watts` from `start_ms` up
    to `end_ms` (milliseconds since the epoch). A stuck water heater is one."""

    watts: float
    start_ms: int
    end_ms: int

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """`watts` inside the interval, nothing outside."""
        return self.watts if self.start_ms <= moment.timestamp() * 1000 < self.end_ms else 0.0


@functools.lru_cache(maxsize=16384)
def _presence(seed: int, day: int, away_chance: float, spread: float) -> float:
    """Today's presence factor; cached because every sample of the day asks again."""
    draw = random.Random(f"presence:{seed}:{day}")
    if draw.random() < away_chance:
        return 0.0
    return max(0.3, draw.gauss(1.0, spread))


@functools.lru_cache(maxsize=4096)
def _burst_starts(seed: int, day: int, windows: tuple[Window, ...]) -> tuple[float, ...]:
    """Start hours of one day's bursts; cached because every sample of the day asks again."""
    draw = random.Random(f"bursts:{seed}:{day}")
    starts = []
    for window in windows:
        happens, at = draw.random(), draw.uniform(window.start_h, window.end_h)
        if happens < window.chance:
            starts.append(at)
    return tuple(starts)
