"""The time of year in a simulated neighbourhood: southern-hemisphere seasons, weather, air conditioning.

Brazil's populous south-east is hot from December to March and mild from June to August. The
season changes what people switch on: air conditioning on hot afternoons and nights, the
electric shower on its hotter "inverno" setting in winter and its "verão" setting in summer, a
refrigerator that works harder in the heat. Pure, like `meter.profiles`: the day's weather comes
from a seed and the date, so every home of a neighbourhood has the same hot days.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime

from meter.profiles import Profile

HOTTEST_DAY_OF_YEAR = 20  # about 20 January, the height of the southern summer
DAYS_PER_YEAR = 365.25


def season(day: date) -> float:
    """+1 at the height of summer (late January), -1 in the depth of winter (late July), between otherwise."""
    return _season(day.toordinal())


@functools.lru_cache(maxsize=4096)
def _season(day: int) -> float:
    """`season` of a day by its ordinal; cached because every sample of a history asks again."""
    angle = 2 * math.pi * (date.fromordinal(day).timetuple().tm_yday - HOTTEST_DAY_OF_YEAR) / DAYS_PER_YEAR
    return math.cos(angle)


@dataclass(frozen=True)
class Seasonal:
    """A load that draws `summer` times its usual power at the height of summer, `winter` times in
    the depth of winter, and in between along the year."""

    part: Profile
    summer: float
    winter: float

    def factor(self, day: date) -> float:
        """The multiplier of that day."""
        middle, half_range = (self.summer + self.winter) / 2, (self.summer - self.winter) / 2
        return middle + half_range * season(day)

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """The wrapped load's power scaled by the season."""
        return self.factor(moment.date()) * self.part.power_w(moment, rng)


@dataclass(frozen=True)
class Weather:
    """The day's maximum temperature (°C): a seasonal mean of about 31 °C in January and 21 °C in July,
    plus the day's own luck. One `Weather` per neighbourhood, so its homes share the hot days."""

    seed: int = 0
    mean_c: float = 26.0
    swing_c: float = 5.0
    noise_c: float = 2.5

    def max_c(self, day: date) -> float:
        """The maximum temperature of `day`."""
        return _max_c(self.seed, self.mean_c, self.swing_c, self.noise_c, day.toordinal())


@dataclass(frozen=True)
class AirConditioning:
    """A split unit that runs on days hotter than `threshold_c`, during `hours` (local, may pass midnight).

    Its compressor cycles (`period_min`); the hotter the day, the larger the share of each cycle it
    runs, from `duty` at the threshold up to 95 %.
    """

    watts: float
    threshold_c: float
    hours: tuple[tuple[float, float], ...]
    weather: Weather = field(default_factory=Weather)
    duty: float = 0.4
    period_min: float = 20.0
    phase_min: float = 0.0

    def power_w(self, moment: datetime, rng: random.Random) -> float:
        """Full power while the compressor runs on a hot day within `hours`, else nothing."""
        hour = moment.hour + moment.minute / 60
        if not any(_within(hour, start, end) for start, end in self.hours):
            return 0.0
        heat = self.weather.max_c(moment.date()) - self.threshold_c
        if heat < 0:
            return 0.0
        duty = min(0.95, self.duty + 0.05 * heat)
        minutes = moment.timestamp() / 60 + self.phase_min
        return self.watts if minutes % self.period_min < duty * self.period_min else 0.0


def _within(hour: float, start: float, end: float) -> bool:
    """Whether `hour` is in [start, end), where end < start means the span passes midnight."""
    return start <= hour < end if start <= end else hour >= start or hour < end


@functools.lru_cache(maxsize=8192)
def _max_c(seed: int, mean_c: float, swing_c: float, noise_c: float, day: int) -> float:
    """One day's maximum temperature; cached because every sample of the day asks again."""
    luck = random.Random(f"weather:{seed}:{day}").gauss(0.0, noise_c)
    return mean_c + swing_c * _season(day) + luck
