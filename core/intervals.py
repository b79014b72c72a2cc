"""Energy per interval of time (the hours of a day), with what is estimated marked. Pure functions.

Consumption over an interval is the register at its end minus the register at its start, the
register interpolated linearly between the readings around each instant (SPEC §6), on the
adjusted register (resets accounted for). A meter reports every few seconds; when two
consecutive readings are more than GAP_MS apart it was silent in between. The energy across such
a gap is still exact, because the registers on both sides are; how that energy is spread over
the hours inside the gap is not known, and the straight line is only an estimate. So an interval
is `estimated` when any part of it lies inside a gap: strictly between two consecutive readings
more than GAP_MS apart. Intervals before the first reading or after the latest one count nothing
and are not estimates (there is no energy to spread yet).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from core.money import kwh_from_wh

GAP_MS = 15 * 60_000  # readings further apart than this leave a gap (meters report every 5 s)
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Point:
    """A reading with its adjusted register, in Wh."""

    ts: int
    wh: int


@dataclass(frozen=True, slots=True)
class Interval:
    """Energy measured in `[start, end)`, exactly (Wh, possibly fractional), and how it is known."""

    start: int
    end: int
    wh: Decimal
    readings: int
    estimated: bool


def hour_bounds(start: int, end: int) -> list[int]:
    """`start`, every hour after it, and `end`: the bounds of the hours of `[start, end)`.

    A local day is 23, 24 or 25 hours long across a DST change; zones whose offset changes by
    half an hour end the day with a half hour.
    """
    bounds = list(range(start, end, HOUR_MS))
    return bounds + [end] if bounds else [start, end]


def interpolate(before: Point, after: Point, instant: int) -> Decimal:
    """The register at `instant`, on the straight line between two readings around it."""
    return Decimal(before.wh) + Decimal(after.wh - before.wh) * (instant - before.ts) / (after.ts - before.ts)


def register_at(points: Sequence[Point], instant: int) -> Decimal | None:
    """The register at an instant, from readings in time order; None without readings.

    Before the first reading it is the first one's value, after the last the last one's.
    """
    return _register_at(points, [point.ts for point in points], instant)


def _register_at(points: Sequence[Point], times: Sequence[int], instant: int) -> Decimal | None:
    if not points:
        return None
    index = bisect.bisect_right(times, instant)
    if index == 0:
        return Decimal(points[0].wh)
    before = points[index - 1]
    if before.ts == instant or index == len(points):
        return Decimal(before.wh)
    return interpolate(before, points[index], instant)


def gaps_of(points: Sequence[Point]) -> list[tuple[int, int]]:
    """`(start, end)` of every silence: consecutive readings more than GAP_MS apart."""
    return [(a.ts, b.ts) for a, b in zip(points, points[1:]) if b.ts - a.ts > GAP_MS]


def estimated(bounds: Sequence[int], gaps: Sequence[tuple[int, int]]) -> list[bool]:
    """For each interval between consecutive `bounds`, whether its figure is an estimate.

    It is when one of its ends falls strictly inside a gap: the register there is interpolated
    across time without readings, so how the gap's energy is shared with the next interval is a
    guess (SPEC §4). An interval that merely contains a gap, with readings before and after it
    inside the interval, is exact: the register at both of its ends is measured.
    """
    inside = [any(gap_start < bound < gap_end for gap_start, gap_end in gaps) for bound in bounds]
    return [inside[index] or inside[index + 1] for index in range(len(bounds) - 1)]


def intervals(bounds: Sequence[int], points: Sequence[Point]) -> list[Interval]:
    """The energy of each interval between consecutive `bounds`.

    `points` are the readings of `[bounds[0], bounds[-1]]` in time order, with the last reading
    before `bounds[0]` and the first after `bounds[-1]` when there are such readings.
    """
    times = [point.ts for point in points]
    registers = [_register_at(points, times, bound) for bound in bounds]
    flags = estimated(bounds, gaps_of(points))
    found = []
    for index, (start, end) in enumerate(zip(bounds, bounds[1:])):
        low, high = registers[index], registers[index + 1]
        energy = Decimal(0) if low is None or high is None else high - low
        count = bisect.bisect_left(times, end) - bisect.bisect_left(times, start)
        found.append(Interval(start, end, energy, count, flags[index]))
    return found


def rounded_kwh(energies_wh: Sequence[Decimal]) -> list[Decimal]:
    """Each energy in kWh rounded half-up to the watt-hour, so that they add up to the rounded total.

    Rounding each on its own could leave the sum a watt-hour off the total that the day's
    figure shows; rounding the running total instead keeps every figure within a watt-hour of
    its exact value and makes the figures add up exactly.
    """
    rounded, running, shown = [], Decimal(0), Decimal(0)
    for energy in energies_wh:
        running += energy
        total = kwh_from_wh(running)
        rounded.append(total - shown)
        shown = total
    return rounded
