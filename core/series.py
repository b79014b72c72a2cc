"""The register of a meter over time, read from the database.

Consumption over an interval is the register at its end minus the register at its start, the
register at an instant interpolated linearly between the readings around it (SPEC §6). The
register used is the *adjusted* one: the raw register plus the corrections of every drop
(reset or replacement) before it, so that it never goes down. Any number of instants is read in
one statement (`Series.boundaries`), each instant four index lookups inside the database.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Sequence

from sqlalchemy import TextClause, bindparam, func, select, text
from sqlalchemy.orm import Session

from core.intervals import GAP_MS, Point, register_at
from core.models import Reading, ReadingFlag

BRACKETS_PER_STATEMENT = 200  # SQLite allows 500 terms in a compound SELECT


@functools.lru_cache(maxsize=256)
def _brackets(count: int) -> TextClause:
    """For `count` instants (`:i0`...) of meter `:meter`: the readings at or before and after each."""
    table = Reading.__tablename__
    rows = " UNION ALL ".join(f"SELECT CAST(:i{n} AS BIGINT)" for n in range(count))
    return text(
        f"WITH instants(instant) AS ({rows}) "
        f"SELECT i.instant, b.ts, b.wh, a.ts, a.wh FROM instants i "
        f"LEFT JOIN {table} b ON b.meter_id = :meter AND b.ts = "
        f"(SELECT max(ts) FROM {table} WHERE meter_id = :meter AND ts <= i.instant) "
        f"LEFT JOIN {table} a ON a.meter_id = :meter AND a.ts = "
        f"(SELECT min(ts) FROM {table} WHERE meter_id = :meter AND ts > i.instant)"
    )


@dataclass(frozen=True)
class Adjustments:
    """The register corrections of one meter, as prefix sums over the drops' timestamps."""

    times: tuple[int, ...] = ()
    totals: tuple[int, ...] = ()

    @classmethod
    def of(cls, pairs: Sequence[tuple[int, int]]) -> "Adjustments":
        """Build from `(ts, adjust_wh)` pairs in time order."""
        totals, running = [], 0
        for _, adjust in pairs:
            running += adjust
            totals.append(running)
        return cls(tuple(ts for ts, _ in pairs), tuple(totals))

    def at(self, ts: int) -> int:
        """The correction in force for a reading at `ts` (drops at or before it)."""
        index = bisect.bisect_right(self.times, ts)
        return self.totals[index - 1] if index else 0


# Built once, of the tables' columns rather than the mapped classes': the session runs them as
# Core, and a request of the API pays neither their composition nor the ORM's set-up each time.
_FLAGS, _READINGS = ReadingFlag.__table__.c, Reading.__table__.c
_ADJUSTMENTS = (
    select(_FLAGS.ts, _FLAGS.adjust_wh)
    .where(_FLAGS.meter_id == bindparam("meter"), _FLAGS.adjust_wh != 0)
    .order_by(_FLAGS.ts)
)
_COUNT = (
    select(func.count())
    .select_from(Reading.__table__)
    .where(_READINGS.meter_id == bindparam("meter"), _READINGS.ts >= bindparam("start"), _READINGS.ts < bindparam("end"))
)


def load_adjustments(session: Session, meter_id: int) -> Adjustments:
    """The corrections of a meter's register drops."""
    rows = session.execute(_ADJUSTMENTS, {"meter": meter_id}).all()
    return Adjustments.of([(ts, adjust) for ts, adjust in rows])


class Series:
    """The adjusted register of one meter, with its corrections loaded once."""

    def __init__(self, session: Session, meter_id: int):
        self.session = session
        self.meter_id = meter_id
        self.adjustments = load_adjustments(session, meter_id)

    def adjusted(self, ts: int, wh: int) -> int:
        """The adjusted register of a reading."""
        return wh + self.adjustments.at(ts)

    def at_or_before(self, instant: int) -> Reading | None:
        """The latest reading at or before `instant`."""
        return self.session.scalars(
            select(Reading)
            .where(Reading.meter_id == self.meter_id, Reading.ts <= instant)
            .order_by(Reading.ts.desc())
            .limit(1)
        ).first()

    def after(self, instant: int) -> Reading | None:
        """The earliest reading strictly after `instant`."""
        return self.session.scalars(
            select(Reading)
            .where(Reading.meter_id == self.meter_id, Reading.ts > instant)
            .order_by(Reading.ts)
            .limit(1)
        ).first()

    def register_at(self, instant: int) -> Decimal | None:
        """The adjusted register at an instant, in Wh; None when the meter has no readings.

        Before the first reading it is the first reading's value (energy counts from there);
        after the last one it stays at the last value (no extrapolation).
        """
        return self.reading_at(instant).register

    def reading_at(self, instant: int) -> "Boundary":
        """The adjusted register at an instant and the readings (`(ts, raw Wh)`) it was taken from."""
        return self.boundaries([instant])[instant]

    def registers(self, instants: Iterable[int]) -> dict[int, Decimal]:
        """The adjusted register at each instant, zero without readings."""
        return {instant: found.register or Decimal(0) for instant, found in self.boundaries(instants).items()}

    def boundaries(self, instants: Iterable[int]) -> dict[int, "Boundary"]:
        """The register at each instant with the readings around it, in one statement per 200 instants.

        Each instant costs four index lookups inside the database, however dense the readings:
        the period boundaries of a time-of-use month take one round trip, not hundreds.
        """
        wanted = sorted(set(instants))
        found: dict[int, Boundary] = {}
        for first in range(0, len(wanted), BRACKETS_PER_STATEMENT):
            chunk = wanted[first:first + BRACKETS_PER_STATEMENT]
            params = {"meter": self.meter_id, **{f"i{n}": instant for n, instant in enumerate(chunk)}}
            for instant, before_ts, before_wh, after_ts, after_wh in self.session.execute(_brackets(len(chunk)), params):
                if before_ts == instant:
                    used: tuple[tuple[int, int], ...] = ((before_ts, before_wh),)
                else:
                    used = tuple(pair for pair in ((before_ts, before_wh), (after_ts, after_wh)) if pair[0] is not None)
                found[instant] = Boundary(instant, self._register(used, instant), used)
        return found

    def _register(self, readings: Sequence[tuple[int, int]], instant: int) -> Decimal | None:
        """The adjusted register at `instant`, interpolated between some raw `(ts, Wh)` readings."""
        return register_at([Point(ts, self.adjusted(ts, wh)) for ts, wh in readings], instant)

    def consumption_wh(self, start: int, end: int) -> Decimal:
        """Energy measured in `[start, end)`, in Wh (zero without readings)."""
        high = self.register_at(end)
        low = self.register_at(start)
        return Decimal(0) if high is None or low is None else high - low

    def energy_between(self, boundaries: Sequence[int]) -> list[Decimal]:
        """Energy in Wh of each interval `[boundaries[i], boundaries[i + 1])`, boundaries ascending."""
        return self.measure(boundaries)[0]

    def measure(self, boundaries: Sequence[int]) -> tuple[list[Decimal], list[bool]]:
        """The energy (Wh) of each interval between consecutive `boundaries`, and whether each is an
        estimate (`core.intervals.estimated`: an end inside a gap between readings).

        Every boundary comes from one batched lookup, which also tells whether it lies in a gap,
        so no reading in between is read; each figure is exactly what `consumption_wh` answers.
        """
        found = self.boundaries(boundaries)
        registers = [found[instant].register or Decimal(0) for instant in boundaries]
        in_gap = [found[instant].in_gap for instant in boundaries]
        energies = [high - low for low, high in zip(registers, registers[1:])]
        return energies, [in_gap[index] or in_gap[index + 1] for index in range(len(energies))]

    def points(self, start: int, end: int) -> list[Point]:
        """The adjusted readings of `[start, end]`, with the last one before and the first after."""
        inside = self.session.execute(
            select(Reading.ts, Reading.wh)
            .where(Reading.meter_id == self.meter_id, Reading.ts >= start, Reading.ts <= end)
            .order_by(Reading.ts)
        ).all()
        before = self.at_or_before(start - 1)
        after = self.after(end)
        rows = [*([(before.ts, before.wh)] if before else []), *inside, *([(after.ts, after.wh)] if after else [])]
        return [Point(ts, self.adjusted(ts, wh)) for ts, wh in rows]

    def count(self, start: int, end: int) -> int:
        """How many readings lie in `[start, end)`."""
        return self.session.scalar(_COUNT, {"meter": self.meter_id, "start": start, "end": end}) or 0

    def first_at_or_after(self, instant: int) -> Reading | None:
        """The earliest reading at or after `instant`."""
        return self.after(instant - 1)

    def first_reaching(self, start: int, end: int, adjusted_wh: Decimal) -> Reading | None:
        """The earliest reading in `[start, end)` whose adjusted register reaches `adjusted_wh`.

        The adjusted register never decreases, so within each stretch between drops this is one
        indexed probe on the raw register.
        """
        bounds = [start, *(ts for ts in self.adjustments.times if start < ts < end), end]
        for low, high in zip(bounds, bounds[1:]):
            raw_target = adjusted_wh - self.adjustments.at(low)
            found = self.session.scalars(
                select(Reading)
                .where(
                    Reading.meter_id == self.meter_id,
                    Reading.ts >= low,
                    Reading.ts < high,
                    Reading.wh >= _ceil(raw_target),
                )
                .order_by(Reading.ts)
                .limit(1)
            ).first()
            if found is not None:
                return found
        return None


@dataclass(frozen=True)
class Boundary:
    """The register at a cycle boundary and the readings (`(ts, raw Wh)`) it was interpolated from."""

    instant: int
    register: Decimal | None
    readings: tuple[tuple[int, int], ...]

    @property
    def in_gap(self) -> bool:
        """Whether the instant lies strictly between two readings further apart than GAP_MS."""
        return len(self.readings) == 2 and self.readings[1][0] - self.readings[0][0] > GAP_MS


def _ceil(value: Decimal) -> int:
    integral = int(value)
    return integral + 1 if value > integral else integral
