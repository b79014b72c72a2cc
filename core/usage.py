"""What a billing cycle consumed, cut where prices change and, for time of use, by period. Pure.

A cycle is cut at the local midnight of each day on which something priced changes: a plan or
tax version for the energy, a calendar month or a flag value for the tariff flags. Each piece's
energy is the register at its end minus the register at its start, so a tariff that changes
mid-cycle applies to the energy actually used on each side of the change (DOMAIN.md: "by actual
use"); the pricing may instead split by days. For a time-of-use plan each working day is cut at
its peak and intermediate windows too; weekends and holidays are off-peak all day.

`layout` says which pieces there are and at which instants the register is needed; the caller
reads the register at those instants (one query for a whole month of readings) and `measured`
turns the answers into energy. So this module never reads a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Mapping
from zoneinfo import ZoneInfo

from core.periods import day_start, local_date, wall_instant
from core.tariffs import OFF_PEAK, TIME_OF_USE, PlanVersion, Schedule, Taxes, in_force

ZERO = Decimal(0)
Interval = tuple[int, int, str]  # [start, end) in ms, and its time-of-use period


@dataclass(frozen=True)
class Span:
    """`[start, end)` in ms, from the local midnight of `first_day` to that of the day after `last_day`."""

    start: int
    end: int
    first_day: date
    last_day: date

    @property
    def days(self) -> int:
        """Calendar days in the span (23- and 25-hour days count as one)."""
        return (self.last_day - self.first_day).days + 1


@dataclass(frozen=True)
class EnergyPiece:
    """Part of a cycle with one plan version and one tax version, and the energy used in it."""

    span: Span
    version: PlanVersion
    taxes: Taxes
    intervals: tuple[Interval, ...] = ()  # time of use only: the periods covering the span
    wh: Decimal = ZERO
    by_period: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class FlagPiece:
    """Part of a cycle with one tariff flag, surcharge and tax version, and the energy used in it."""

    span: Span
    flag: str
    per_kwh: Decimal  # BRL per kWh without taxes
    taxes: Taxes
    wh: Decimal = ZERO


@dataclass(frozen=True)
class Usage:
    """A cycle's energy as the pricing needs it. Before `measured`, every energy is zero."""

    span: Span
    plan: str
    energy: tuple[EnergyPiece, ...]
    flags: tuple[FlagPiece, ...]
    total_wh: Decimal = ZERO

    def instants(self) -> set[int]:
        """Every instant at which the register is needed."""
        needed = {self.span.start, self.span.end}
        for piece in self.energy:
            needed.update((piece.span.start, piece.span.end))
            for start, end, _ in piece.intervals:
                needed.update((start, end))
        needed.update(piece.span.start for piece in self.flags)
        return needed

    def measured(self, register: Mapping[int, Decimal]) -> "Usage":
        """The energies, from the register (Wh, adjusted for resets) at each of `instants()`."""

        def used(start: int, end: int) -> Decimal:
            """Energy between two instants, never negative."""
            return max(register[end] - register[start], ZERO)

        energy = tuple(
            replace(piece, wh=used(piece.span.start, piece.span.end), by_period=_by_period(piece.intervals, used))
            for piece in self.energy
        )
        flags = tuple(replace(piece, wh=used(piece.span.start, piece.span.end)) for piece in self.flags)
        return replace(self, energy=energy, flags=flags, total_wh=used(self.span.start, self.span.end))

    def scaled(self, factor: Decimal) -> "Usage":
        """The same pattern of use with every energy multiplied (a projection to the cycle's end)."""
        energy = tuple(
            replace(piece, wh=piece.wh * factor, by_period={k: v * factor for k, v in piece.by_period.items()})
            for piece in self.energy
        )
        flags = tuple(replace(piece, wh=piece.wh * factor) for piece in self.flags)
        return replace(self, energy=energy, flags=flags, total_wh=self.total_wh * factor)


def layout(start: int, end: int, zone: ZoneInfo, schedule: Schedule, plan: str | None) -> Usage:
    """The pieces of the cycle `[start, end)` for a customer on `plan`, not yet measured."""
    first_day, last_day = local_date(start, zone), local_date(end - 1, zone)
    versions = schedule.plan(plan)
    price_days = {v.valid_from for v in versions[1:]} | {v.valid_from for v in schedule.taxes}
    energy = []
    for span in _cut(start, end, first_day, last_day, price_days, zone):
        version = in_force(versions, span.first_day) or versions[0]  # a plan applies from its first version back
        taxes = schedule.taxes_on(span.first_day)
        intervals = _time_of_use(span, version, schedule, zone) if version.kind == TIME_OF_USE else ()
        energy.append(EnergyPiece(span, version, taxes, intervals))
    flag_days = {v.valid_from for v in schedule.flag_values} | {v.valid_from for v in schedule.taxes}
    flag_days |= {date(day.year, day.month, 1) for day in _days(first_day, last_day)}
    flags: list[FlagPiece] = []
    for span in _cut(start, end, first_day, last_day, flag_days, zone):
        flag, per_kwh = schedule.flag_on(span.first_day)
        taxes = schedule.taxes_on(span.first_day)
        previous = flags[-1] if flags else None
        if previous and (previous.flag, previous.per_kwh, previous.taxes) == (flag, per_kwh, taxes):
            flags[-1] = replace(previous, span=Span(previous.span.start, span.end, previous.span.first_day, span.last_day))
        else:
            flags.append(FlagPiece(span, flag, per_kwh, taxes))
    return Usage(Span(start, end, first_day, last_day), schedule.plan_name(plan), tuple(energy), tuple(flags))


def _cut(start: int, end: int, first_day: date, last_day: date, days: set[date], zone: ZoneInfo) -> list[Span]:
    """`[start, end)` cut at the local midnight of each day in `days` strictly inside it."""
    cuts = sorted(day for day in days if first_day < day <= last_day)
    bounds = [(start, first_day), *((day_start(day, zone), day) for day in cuts)]
    spans = []
    for (low, low_day), (high, high_day) in zip(bounds, [*bounds[1:], (end, last_day + timedelta(days=1))]):
        spans.append(Span(low, high, low_day, high_day - timedelta(days=1)))
    return spans


def _days(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _time_of_use(span: Span, version: PlanVersion, schedule: Schedule, zone: ZoneInfo) -> tuple[Interval, ...]:
    """The periods of every day of the span, neighbours of the same period merged."""
    working_day = version.time_of_use.day_periods()
    intervals: list[Interval] = []
    for day in _days(span.first_day, span.last_day):
        if day.weekday() >= 5 or day in schedule.holidays:
            spans = [(0, 1440, OFF_PEAK)]
        else:
            spans = working_day
        for low, high, period in spans:
            start = span.start if low == 0 and day == span.first_day else wall_instant(day, low, zone)
            end = span.end if high == 1440 and day == span.last_day else wall_instant(day, high, zone)
            if intervals and intervals[-1][2] == period:
                intervals[-1] = (intervals[-1][0], end, period)
            elif end > start:
                intervals.append((start, end, period))
    return tuple(intervals)


def _by_period(intervals: tuple[Interval, ...], used) -> dict[str, Decimal]:
    """The energy of each time-of-use period."""
    totals: dict[str, Decimal] = {}
    for start, end, period in intervals:
        totals[period] = totals.get(period, ZERO) + used(start, end)
    return totals
