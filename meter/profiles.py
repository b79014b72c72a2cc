"""How much power a simulated home draws at a given local time. Pure: no clock, no I/O.

A profile is anything with `power_w(moment, rng) -> float`: the mean power in watts around a
timezone-aware local `moment`, with noise drawn from `rng`. Homes are built by adding loads
(`Sum`), so new kinds of consumer (air conditioning, seasons, a small shop) are new loads or new
factories next to `household`, not changes to the ones here.

The default household follows DOMAIN.md: about 160 kWh a month (5.3 kWh a day), an always-on
base of standby plus a cycling refrigerator, morning and evening peaks, a quiet night, and an
electric shower that takes about a quarter of the energy.
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
    """Activity through the day (lights, TV, cooking): watts at each hour, linear in between.

    `weekend` replaces `weekdays` on Saturdays and Sundays when given.
    """

    weekdays: tuple[float, ...]
    weekend: tuple[float, ...] | None = None
    jitter: float = 0.25

    def __post_init__(self) -> None:
        for curve in (self.weekdays, self.weekend):
            if curve is not None and len(curve) != HOURS_PER_DAY:
                raise ValueError(f"a daily curve needs {HOURS_PER_DAY} hourly values, not {len(curve)}")

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """The curve's value at this time of day, with multiplicative noise."""
        curve = self.weekend if self.weekend is not None and moment.weekday() >= 5 else self.weekdays
        hour = moment.hour + moment.minute / 60 + moment.second / 3600
        low = int(hour)
        share = hour - low
        mean = curve[low] * (1 - share) + curve[(low + 1) % HOURS_PER_DAY] * share
        return max(0.0, mean * rng.gauss(1.0, self.jitter))


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


# Activity of one occupant, in watts at each hour 0h..23h: nearly nothing at night, a morning
# peak 6-8h, a light day, the evening peak 18-22h (lights, TV, cooking), winding down after.
_WEEKDAY_ACTIVITY = (
    6, 5, 5, 5, 5, 12, 70, 85, 45, 20, 18, 30,
    35, 20, 18, 18, 25, 50, 95, 115, 110, 90, 55, 20,
)
# At weekends people get up later and stay home during the day.
_WEEKEND_ACTIVITY = (
    10, 6, 5, 5, 5, 5, 15, 35, 65, 60, 50, 60,
    70, 55, 45, 45, 50, 65, 95, 110, 105, 90, 65, 30,
)


def household(seed: int) -> Sum:
    """A typical Brazilian home, its size and appliances drawn from `seed` (same seed, same home)."""
    draw = random.Random(f"household:{seed}")
    occupants = draw.choice((1, 2, 2, 3, 3, 3, 4, 4, 5))
    scale = 0.9 + 0.2 * occupants
    activity = DailyCurve(
        weekdays=tuple(watts * scale for watts in _WEEKDAY_ACTIVITY),
        weekend=tuple(watts * scale for watts in _WEEKEND_ACTIVITY),
    )
    refrigerator = Cycling(
        watts=draw.uniform(90, 150),
        period_min=draw.uniform(30, 50),
        duty=draw.uniform(0.3, 0.45),
        phase_min=draw.uniform(0, 60),
    )
    shower = Bursts(
        watts=draw.choice((4400, 5500, 5500, 6800)),
        minutes=draw.uniform(6, 9),
        windows=_shower_windows(occupants),
        seed=seed,
    )
    return Sum((Constant(draw.uniform(60, 90)), refrigerator, activity, shower))


def _shower_windows(occupants: int) -> tuple[Window, ...]:
    """About one shower a day per occupant, at most three (the rest of the family showers elsewhere or on
    the 'summer' setting), split between the morning and the evening."""
    morning = Window(6.0, 8.0, 0.6)
    evening = Window(18.0, 22.0, 0.9)
    late = Window(19.0, 22.5, 0.6)
    return (morning, evening, late)[: min(occupants, 3)] if occupants > 1 else (evening,)
