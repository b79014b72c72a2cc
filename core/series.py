"""The register of a meter over time, read from the database.

Consumption over an interval is the register at its end minus the register at its start, the
register at an instant interpolated linearly between the readings around it (SPEC §6). The
register used is the *adjusted* one: the raw register plus the corrections of every drop
(reset or replacement) before it, so that it never goes down. Each lookup is two index probes.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.intervals import GAP_MS, Point, interpolate
from core.models import Reading, ReadingFlag


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


def load_adjustments(session: Session, meter_id: int) -> Adjustments:
    """The corrections of a meter's register drops."""
    rows = session.execute(
        select(ReadingFlag.ts, ReadingFlag.adjust_wh)
        .where(ReadingFlag.meter_id == meter_id, ReadingFlag.adjust_wh != 0)
        .order_by(ReadingFlag.ts)
    ).all()
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
        before = self.at_or_before(instant)
        if before is not None and before.ts == instant:
            return Decimal(self.adjusted(before.ts, before.wh))
        after = self.after(instant)
        if before is None and after is None:
            return None
        if before is None:
            return Decimal(self.adjusted(after.ts, after.wh))
        low = self.adjusted(before.ts, before.wh)
        if after is None:
            return Decimal(low)
        return interpolate(Point(before.ts, low), Point(after.ts, self.adjusted(after.ts, after.wh)), instant)

    def consumption_wh(self, start: int, end: int) -> Decimal:
        """Energy measured in `[start, end)`, in Wh (zero without readings)."""
        high = self.register_at(end)
        low = self.register_at(start)
        return Decimal(0) if high is None or low is None else high - low

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

    def gaps(self, start: int, end: int) -> list[tuple[int, int]]:
        """The silences (`core.intervals.gaps_of`) around and inside `[start, end]`, found by the
        database: one scan of the index, however many readings, for `core.intervals.estimated`."""
        before, after = self.at_or_before(start - 1), self.after(end)
        low, high = (before.ts if before else start), (after.ts if after else end)
        previous = func.lag(Reading.ts).over(order_by=Reading.ts)
        steps = (
            select(previous.label("prev"), Reading.ts.label("ts"))
            .where(Reading.meter_id == self.meter_id, Reading.ts >= low, Reading.ts <= high)
            .subquery()
        )
        rows = self.session.execute(
            select(steps.c.prev, steps.c.ts).where(steps.c.ts - steps.c.prev > GAP_MS).order_by(steps.c.ts)
        )
        return [(prev, ts) for prev, ts in rows]

    def count(self, start: int, end: int) -> int:
        """How many readings lie in `[start, end)`."""
        return self.session.scalar(
            select(func.count())
            .select_from(Reading)
            .where(Reading.meter_id == self.meter_id, Reading.ts >= start, Reading.ts < end)
        ) or 0

    def page(self, start: int, end: int, after_ts: int | None, limit: int) -> list[Reading]:
        """Up to `limit` readings of `[start, end)` in time order, after `after_ts` when given."""
        low = start if after_ts is None else max(start, after_ts + 1)
        return list(
            self.session.scalars(
                select(Reading)
                .where(Reading.meter_id == self.meter_id, Reading.ts >= low, Reading.ts < end)
                .order_by(Reading.ts)
                .limit(limit)
            )
        )

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


def _ceil(value: Decimal) -> int:
    integral = int(value)
    return integral + 1 if value > integral else integral
